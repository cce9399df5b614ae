// Workflow settings: description and tags (saved at once), time zone, time limit and error
// workflow (part of the definition, saved with the next version).
import { useEffect, useState, type FormEvent } from "react";
import { api, ApiError, errorMessage } from "../api/client";
import type { Definition, Page, Workflow, WorkflowDetail } from "../api/types";
import { ErrorBox, Field, Modal } from "../layout/ui";

interface Props {
  workflow: WorkflowDetail;
  settings: Definition["settings"];
  onSaved: (workflow: WorkflowDetail, settings: NonNullable<Definition["settings"]>) => void;
  onClose: () => void;
}

/** settings.mcp_tool: the active workflow as a tool of the MCP server at /mcp. */
interface McpTool { name?: string | null; description: string; input_schema: Record<string, unknown>; timeout_s?: number }

const ZONES: string[] = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];

export function WorkflowSettings({ workflow, settings, onSaved, onClose }: Props) {
  const [description, setDescription] = useState(workflow.description ?? "");
  const [tags, setTags] = useState(workflow.tags.join(", "));
  const [timezone, setTimezone] = useState(settings?.timezone ?? "UTC");
  const [timeout, setTimeoutS] = useState(String(settings?.timeout_s ?? 3600));
  const [errorWorkflow, setErrorWorkflow] = useState(settings?.error_workflow_id ?? "");
  const [keepSuccessful, setKeepSuccessful] = useState(String(settings?.retention?.successful_days ?? ""));
  const [keepFailed, setKeepFailed] = useState(String(settings?.retention?.failed_days ?? ""));
  const mcp = (settings as { mcp_tool?: McpTool | null } | undefined)?.mcp_tool ?? null;
  const [mcpOn, setMcpOn] = useState(Boolean(mcp));
  const [mcpName, setMcpName] = useState(mcp?.name ?? "");
  const [mcpDescription, setMcpDescription] = useState(mcp?.description ?? "");
  const [mcpSchema, setMcpSchema] = useState(JSON.stringify(mcp?.input_schema ?? { type: "object", properties: {} }, null, 2));
  const [workflows, setWorkflows] = useState<Workflow[]>([]);
  const [error, setError] = useState<ApiError | Error | null>(null);

  useEffect(() => {
    api.get<Page<Workflow>>("workflows", { limit: 200 }).then((p) => setWorkflows(p.items.filter((w) => w.id !== workflow.id)), () => undefined);
  }, [workflow.id]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    let inputSchema: Record<string, unknown> = {};
    if (mcpOn) {
      try {
        inputSchema = JSON.parse(mcpSchema);
      } catch (e) {
        setError(new Error(`The MCP tool's input schema is not JSON: ${(e as Error).message}`));
        return;
      }
    }
    try {
      const updated = await api.patch<WorkflowDetail>(`workflows/${workflow.id}`, {
        description: description.trim() || null,
        tags: tags.split(",").map((t) => t.trim()).filter(Boolean),
      });
      const days = (value: string) => (Number(value) >= 1 ? Math.floor(Number(value)) : null);
      const retention = { ...settings?.retention, successful_days: days(keepSuccessful), failed_days: days(keepFailed) };
      const { mcp_tool: _previous, ...rest } = (settings ?? {}) as NonNullable<Definition["settings"]> & { mcp_tool?: McpTool | null };
      const tool = mcpOn ? { mcp_tool: { ...mcp, name: mcpName.trim() || null, description: mcpDescription.trim(), input_schema: inputSchema } } : {};
      onSaved(updated, { ...rest, ...tool, timezone, timeout_s: Number(timeout) || 3600, error_workflow_id: errorWorkflow || null, retention });
    } catch (e) {
      setError(e as Error);
    }
  }

  const fieldError = (key: string) => (error instanceof ApiError ? error.fieldMessage(key) : undefined);
  return (
    <Modal title="Workflow settings" onClose={onClose}>
      <form className="form" onSubmit={submit}>
        <Field label="Description" error={fieldError("description")}>
          <textarea aria-label="Description" rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        <Field label="Tags" error={fieldError("tags")} hint="Comma-separated.">
          <input aria-label="Tags" value={tags} onChange={(e) => setTags(e.target.value)} />
        </Field>
        <Field label="Time zone" hint="For schedules and `now` in expressions.">
          <input aria-label="Time zone" list="time-zones" value={timezone} onChange={(e) => setTimezone(e.target.value)} />
          <datalist id="time-zones">{ZONES.map((z) => <option key={z} value={z} />)}</datalist>
        </Field>
        <Field label="Time limit (s)">
          <input aria-label="Time limit" type="number" min={1} value={timeout} onChange={(e) => setTimeoutS(e.target.value)} />
        </Field>
        <Field label="Error workflow" hint="Runs when this workflow fails.">
          <select aria-label="Error workflow" value={errorWorkflow} onChange={(e) => setErrorWorkflow(e.target.value)}>
            <option value="">None</option>
            {workflows.map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}
          </select>
        </Field>
        <Field label="Keep successful runs (days)" hint="Empty: the instance's setting.">
          <input aria-label="Keep successful runs" type="number" min={1} value={keepSuccessful} onChange={(e) => setKeepSuccessful(e.target.value)} />
        </Field>
        <Field label="Keep failed runs (days)" hint="Failed and cancelled runs. Empty: the instance's setting.">
          <input aria-label="Keep failed runs" type="number" min={1} value={keepFailed} onChange={(e) => setKeepFailed(e.target.value)} />
        </Field>
        <label className="switch-labelled">
          <input type="checkbox" aria-label="Offer as an MCP tool" checked={mcpOn} onChange={(e) => setMcpOn(e.target.checked)} /> Offer as an MCP tool (at /mcp, while active)
        </label>
        {mcpOn && (
          <>
            <Field label="Tool name" hint="Letters, digits, '_' and '-'. Empty: the workflow's name.">
              <input aria-label="Tool name" value={mcpName} onChange={(e) => setMcpName(e.target.value)} />
            </Field>
            <Field label="Tool description" hint="What the tool does, for the model that calls it.">
              <textarea aria-label="Tool description" rows={2} value={mcpDescription} onChange={(e) => setMcpDescription(e.target.value)} />
            </Field>
            <Field label="Tool input schema" hint="JSON Schema of the arguments (an object); they become the run's input item.">
              <textarea aria-label="Tool input schema" rows={5} className="mono" value={mcpSchema} onChange={(e) => setMcpSchema(e.target.value)} />
            </Field>
          </>
        )}
        <p className="muted small">Time zone, time limit, error workflow, how long runs are kept and the MCP tool are saved with the next version.</p>
        <ErrorBox message={error && !(error instanceof ApiError && error.errors.length) ? errorMessage(error) : null} />
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>Cancel</button>
          <button type="submit" className="btn btn-primary">Apply</button>
        </div>
      </form>
    </Modal>
  );
}
