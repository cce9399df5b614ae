// The chat playground of an AI agent or AI chat node: type a message, the canvas's draft runs (not
// saved) with {text, history} as its input item, and the node's answer shows with the agent's tool
// steps. The conversation stays in the panel; earlier turns go along as `history`, which the node
// reads as its memory when the item has no bot conversation.
import { useState, type CSSProperties, type FormEvent } from "react";
import { api, errorMessage } from "../api/client";
import type { Definition, Execution, ExecutionDetail } from "../api/types";

const FINISHED = new Set(["completed", "failed", "cancelled", "waiting"]);
const MAX_WAIT_MS = 120_000;

interface ToolCallStep {
  id: string;
  name: string;
  arguments: unknown;
  result?: unknown;
  error?: string;
}

interface Turn {
  role: "user" | "assistant";
  content: string;
  steps?: { iteration: number; text: string; tool_calls: ToolCallStep[] }[];
  error?: string;
  executionId?: string;
}

interface Props {
  nodeId: string;
  /** The workflow's id, saving it first if it was never saved (a run points at a version). */
  prepare: () => Promise<string | null>;
  definition: () => Definition;
  /** Show a run on the canvas (its node results). */
  onRun?: (executionId: string) => void;
}

const bubble = (mine: boolean): CSSProperties => ({
  alignSelf: mine ? "flex-end" : "flex-start",
  maxWidth: "90%",
  padding: "6px 10px",
  borderRadius: 10,
  background: mine ? "var(--primary, #3b5bdb)" : "var(--surface-2, #eef0f4)",
  color: mine ? "#fff" : "inherit",
  whiteSpace: "pre-wrap",
  overflowWrap: "anywhere",
});

function short(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

export function ChatPlayground({ nodeId, prepare, definition, onRun }: Props) {
  const [turns, setTurns] = useState<Turn[]>([]);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  async function send(event: FormEvent) {
    event.preventDefault();
    const message = text.trim();
    if (!message || busy) return;
    setProblem(null);
    const history = turns.filter((t) => !t.error).map((t) => ({ role: t.role, content: t.content }));
    setTurns((old) => [...old, { role: "user", content: message }]);
    setText("");
    setBusy(true);
    try {
      const workflowId = await prepare();
      if (!workflowId) {
        setProblem("Save the workflow first.");
        return;
      }
      const started = await api.post<Execution>(`workflows/${workflowId}/run`, {
        input: [{ text: message, history }],
        definition: definition(),
        wait_s: 30,
      });
      let detail = await api.get<ExecutionDetail>(`executions/${started.id}`);
      const deadline = Date.now() + MAX_WAIT_MS;
      while (!FINISHED.has(detail.status) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        detail = await api.get<ExecutionDetail>(`executions/${started.id}`);
      }
      onRun?.(started.id);
      const runs = detail.nodes.filter((n) => n.node_id === nodeId && !n.superseded);
      const last = runs[runs.length - 1];
      const item = (last?.output_data?.main?.[0] ?? null) as Record<string, unknown> | null;
      if (last?.status === "completed" && item) {
        setTurns((old) => [...old, {
          role: "assistant",
          content: String(item.text ?? ""),
          steps: Array.isArray(item.steps) ? (item.steps as Turn["steps"]) : undefined,
          executionId: started.id,
        }]);
      } else {
        const why = last?.error ?? detail.error ?? (FINISHED.has(detail.status)
          ? `the run ${detail.status} without reaching this node`
          : "the run did not finish in time");
        setTurns((old) => [...old, { role: "assistant", content: "", error: why, executionId: started.id }]);
      }
    } catch (e) {
      setProblem(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="chat-playground" aria-label="Chat playground">
      <p className="muted small">
        Runs this canvas (unsaved changes included) with your message as the input item <code>{"{text, history}"}</code>.
      </p>
      <div role="log" aria-label="Playground conversation" style={{ display: "flex", flexDirection: "column", gap: 6, margin: "8px 0" }}>
        {turns.map((turn, i) => (
          <div key={i} style={{ display: "flex", flexDirection: "column", gap: 4 }} data-testid={`playground-${turn.role}`}>
            {turn.steps?.map((step) => step.tool_calls.map((call) => (
              <details key={call.id} className="small" data-testid="playground-step">
                <summary>
                  {call.error ? "Tool error: " : "Tool: "}{call.name}({short(call.arguments)})
                </summary>
                <div className="muted">{call.error ? `error: ${call.error}` : short(call.result)}</div>
              </details>
            )))}
            {turn.error
              ? <div className="alert alert-error" role="alert">{turn.error}</div>
              : <div style={bubble(turn.role === "user")}>{turn.content}</div>}
          </div>
        ))}
        {busy && <div className="muted small" aria-live="polite">Thinking…</div>}
      </div>
      {problem && <div className="alert alert-error" role="alert">{problem}</div>}
      <form onSubmit={send} style={{ display: "flex", gap: 6 }}>
        <input aria-label="Playground message" value={text} placeholder="Message the agent…" style={{ flex: 1 }}
          onChange={(e) => setText(e.target.value)} disabled={busy} />
        <button className="btn btn-small btn-primary" type="submit" disabled={busy || !text.trim()}>Send</button>
        {turns.length > 0 && <button className="btn btn-small" type="button" disabled={busy} onClick={() => setTurns([])}>Clear</button>}
      </form>
    </div>
  );
}
