// "Build with AI": a sentence → the server's suggestion (validated, with its diff against the
// workflow as it is) → Apply or Discard, and whether it was useful (feedback). The diff is the
// server's, so the UI and the API tell the same story. An existing workflow gets the suggestion as
// unsaved changes on the canvas; a new one is created by the server's apply.
import { useState, type FormEvent } from "react";
import { api, ApiError, errorMessage } from "../api/client";
import type { Definition } from "../api/types";
import { ErrorBox, Field, Modal } from "../layout/ui";

interface NodeRef { id: string; name: string; type: string }
interface NodeChange extends NodeRef {
  fields: Record<string, { before: unknown; after: unknown }>;
  parameters: Record<string, { before: unknown; after: unknown }>;
}
interface EdgeRef { from: string; from_name: string; output: string; to: string; to_name: string; input: string }
export interface SuggestionDiff {
  nodes_added: NodeRef[];
  nodes_removed: NodeRef[];
  nodes_changed: NodeChange[];
  edges_added: EdgeRef[];
  edges_removed: EdgeRef[];
  settings_changed: boolean;
}
export interface Suggestion {
  id: string;
  prompt: string;
  workflow_id: string | null;
  attempts: number;
  suggestion: Definition;
  diff: SuggestionDiff;
  is_applied: boolean;
  applied_workflow_id: string | null;
  feedback: "positive" | "negative" | "neutral" | null;
}

interface Props {
  /** The saved workflow to change; null: the suggestion becomes a new workflow. */
  workflowId: string | null;
  /** Puts the suggested definition on the canvas as unsaved changes (an existing workflow). */
  onLoad: (definition: Definition) => void;
  /** The server created a new workflow from the suggestion. */
  onCreated: (workflowId: string) => void;
  onClose: () => void;
}

const show = (value: unknown) => (value === undefined ? "—" : JSON.stringify(value));
const edgeText = (e: EdgeRef) =>
  `${e.from_name}${e.output !== "main" ? ` (${e.output})` : ""} → ${e.to_name}${e.input !== "main" ? ` (${e.input})` : ""}`;

export function AIPromptBox({ workflowId, onLoad, onCreated, onClose }: Props) {
  const [prompt, setPrompt] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [made, setMade] = useState<Suggestion | null>(null);

  async function ask(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setMade(await api.post<Suggestion>("ai/suggestions", { prompt, workflow_id: workflowId }));
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  }

  async function apply() {
    if (!made) return;
    if (workflowId) {
      onLoad(made.suggestion);
      onClose();
      return;
    }
    setBusy(true);
    try {
      const applied = await api.post<Suggestion>(`ai/suggestions/${made.id}/apply`, {});
      onCreated(applied.applied_workflow_id!);
    } catch (e) {
      setError(e as Error);
      setBusy(false);
    }
  }

  async function feedback(value: "positive" | "negative") {
    if (!made) return;
    try {
      setMade(await api.post<Suggestion>(`ai/suggestions/${made.id}/feedback`, { feedback: value }));
    } catch (e) {
      setError(e as Error);
    }
  }

  const problems = error instanceof ApiError ? error.errors.map((e) => (e.node_id ? `${e.node_id}: ${e.msg}` : e.msg)) : [];
  const diff = made?.diff;
  const empty = diff && !diff.nodes_added.length && !diff.nodes_removed.length && !diff.nodes_changed.length
    && !diff.edges_added.length && !diff.edges_removed.length && !diff.settings_changed;
  return (
    <Modal title="Build with AI" onClose={onClose} wide>
      <form className="form" onSubmit={ask}>
        <Field label="What should the workflow do?" hint={workflowId ? "Describe the change; the model sees the workflow as saved." : "One or two sentences."}>
          <textarea aria-label="Prompt" rows={3} maxLength={4000} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
        </Field>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy || !prompt.trim()}>{busy && !made ? "Asking the model…" : made ? "Ask again" : "Suggest"}</button>
        </div>
      </form>
      <ErrorBox message={error ? errorMessage(error) : null} />
      {problems.length > 0 && <ul className="small" aria-label="Problems">{problems.map((p) => <li key={p}>{p}</li>)}</ul>}
      {made && diff && (
        <section aria-label="Suggested changes" className="ai-diff">
          <p className="muted small">
            Valid after {made.attempts} {made.attempts === 1 ? "attempt" : "attempts"}. {empty ? "No changes." : ""}
          </p>
          {diff.nodes_added.length > 0 && (
            <div data-testid="nodes-added"><strong>Added nodes</strong>
              <ul>{diff.nodes_added.map((n) => <li key={n.id}>+ {n.name} <span className="muted small">{n.type}</span></li>)}</ul>
            </div>
          )}
          {diff.nodes_removed.length > 0 && (
            <div data-testid="nodes-removed"><strong>Removed nodes</strong>
              <ul>{diff.nodes_removed.map((n) => <li key={n.id}>− {n.name} <span className="muted small">{n.type}</span></li>)}</ul>
            </div>
          )}
          {diff.nodes_changed.length > 0 && (
            <div data-testid="nodes-changed"><strong>Changed nodes</strong>
              <ul>{diff.nodes_changed.map((n) => (
                <li key={n.id}>~ {n.name}
                  <ul>
                    {Object.entries(n.fields).map(([k, v]) => <li key={k} className="small">{k}: {show(v.before)} → {show(v.after)}</li>)}
                    {Object.entries(n.parameters).map(([k, v]) => <li key={k} className="small">{k}: {show(v.before)} → {show(v.after)}</li>)}
                  </ul>
                </li>
              ))}</ul>
            </div>
          )}
          {diff.edges_added.length > 0 && (
            <div data-testid="edges-added"><strong>Added connections</strong>
              <ul>{diff.edges_added.map((e) => <li key={edgeText(e)}>+ {edgeText(e)}</li>)}</ul>
            </div>
          )}
          {diff.edges_removed.length > 0 && (
            <div data-testid="edges-removed"><strong>Removed connections</strong>
              <ul>{diff.edges_removed.map((e) => <li key={edgeText(e)}>− {edgeText(e)}</li>)}</ul>
            </div>
          )}
          {diff.settings_changed && <p className="small">The workflow's settings change.</p>}
          <div className="form-actions">
            <span className="muted small">Was this useful?</span>
            <button type="button" className={`btn btn-ghost${made.feedback === "positive" ? " active" : ""}`} aria-label="Good suggestion" aria-pressed={made.feedback === "positive"} onClick={() => void feedback("positive")}>Yes</button>
            <button type="button" className={`btn btn-ghost${made.feedback === "negative" ? " active" : ""}`} aria-label="Bad suggestion" aria-pressed={made.feedback === "negative"} onClick={() => void feedback("negative")}>No</button>
            <button type="button" className="btn" onClick={onClose}>Discard</button>
            <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void apply()}>{workflowId ? "Apply to canvas" : "Create workflow"}</button>
          </div>
        </section>
      )}
    </Modal>
  );
}
