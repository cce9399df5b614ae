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

const ZONES: string[] = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];

export function WorkflowSettings({ workflow, settings, onSaved, onClose }: Props) {
  const [description, setDescription] = useState(workflow.description ?? "");
  const [tags, setTags] = useState(workflow.tags.join(", "));
  const [timezone, setTimezone] = useState(settings?.timezone ?? "UTC");
  const [timeout, setTimeoutS] = useState(String(settings?.timeout_s ?? 3600));
  const [errorWorkflow, setErrorWorkflow] = useState(settings?.error_workflow_id ?? "");
  const [keepSuccessful, setKeepSuccessful] = useState(String(settings?.retention?.successful_days ?? ""));
  const [keepFailed, setKeepFailed] = useState(String(settings?.retention?.failed_days ?? ""));
  const [workflows, setWorkflows] = useState<Workflow[]>([]);
  const [error, setError] = useState<ApiError | Error | null>(null);

  useEffect(() => {
    api.get<Page<Workflow>>("workflows", { limit: 200 }).then((p) => setWorkflows(p.items.filter((w) => w.id !== workflow.id)), () => undefined);
  }, [workflow.id]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    try {
      const updated = await api.patch<WorkflowDetail>(`workflows/${workflow.id}`, {
        description: description.trim() || null,
        tags: tags.split(",").map((t) => t.trim()).filter(Boolean),
      });
      const days = (value: string) => (Number(value) >= 1 ? Math.floor(Number(value)) : null);
      const retention = { ...settings?.retention, successful_days: days(keepSuccessful), failed_days: days(keepFailed) };
      onSaved(updated, { ...settings, timezone, timeout_s: Number(timeout) || 3600, error_workflow_id: errorWorkflow || null, retention });
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
        <p className="muted small">Time zone, time limit, error workflow and how long runs are kept are saved with the next version.</p>
        <ErrorBox message={error && !(error instanceof ApiError && error.errors.length) ? errorMessage(error) : null} />
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>Cancel</button>
          <button type="submit" className="btn btn-primary">Apply</button>
        </div>
      </form>
    </Modal>
  );
}
