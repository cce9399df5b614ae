// The organization's bots: list and create. A bot's dialog is a workflow with a Chat trigger.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, ApiError, errorMessage } from "../api/client";
import { bots, type Bot } from "../api/bots";
import type { Page, Workflow } from "../api/types";
import { Link, navigate } from "../lib/router";
import { Empty, ErrorBox, Field, Modal, timeAgo } from "../layout/ui";

export function BotsPage() {
  const [items, setItems] = useState<Bot[]>([]);
  const [workflows, setWorkflows] = useState<Workflow[]>([]);
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setItems((await bots.list()).items);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, []);
  useEffect(() => {
    void load();
    api.get<Page<Workflow>>("workflows", { limit: 200 }).then((p) => setWorkflows(p.items), () => undefined);
  }, [load]);
  const names = Object.fromEntries(workflows.map((w) => [w.id, w.name]));

  return (
    <div className="page">
      <header className="page-head">
        <h1>Bots</h1>
        <button className="btn btn-primary" onClick={() => setCreating(true)}>New bot</button>
      </header>
      <p className="muted">A bot answers on web chat, over the REST API and on the chat platforms you connect. Its dialog is a workflow that starts with a <strong>Chat trigger</strong>.</p>
      <ErrorBox message={error} />
      {items.length === 0 ? (
        <Empty><p>No bots yet.</p></Empty>
      ) : (
        <table className="table">
          <thead><tr><th>Name</th><th>Dialog</th><th>Web chat</th><th>Status</th><th>Changed</th></tr></thead>
          <tbody>
            {items.map((b) => (
              <tr key={b.id}>
                <td><Link to={`/bots/${b.id}`}>{b.name}</Link>{b.description && <div className="muted small">{b.description}</div>}</td>
                <td className="muted">{b.dialog_workflow_id ? names[b.dialog_workflow_id] ?? "a workflow" : "none yet"}</td>
                <td className="muted">{b.settings.web_chat_enabled ? "on" : "off"}</td>
                <td>{b.is_active ? <span className="badge badge-completed">active</span> : <span className="badge badge-cancelled">paused</span>}</td>
                <td className="muted">{timeAgo(b.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {creating && (
        <Modal title="New bot" onClose={() => setCreating(false)}>
          <CreateBot workflows={workflows} onCreated={(b) => navigate(`/bots/${b.id}`)} />
        </Modal>
      )}
    </div>
  );
}

function CreateBot({ workflows, onCreated }: { workflows: Workflow[]; onCreated: (bot: Bot) => void }) {
  const [name, setName] = useState("");
  const [workflowId, setWorkflowId] = useState("");
  const [welcome, setWelcome] = useState("");
  const [error, setError] = useState<ApiError | Error | null>(null);
  const fieldError = (key: string) => (error instanceof ApiError ? error.fieldMessage(key) : undefined);
  async function submit(event: FormEvent) {
    event.preventDefault();
    try {
      onCreated(await bots.create({ name, dialog_workflow_id: workflowId || null, welcome_message: welcome || null }));
    } catch (e) {
      setError(e as Error);
    }
  }
  return (
    <form className="form" onSubmit={submit}>
      <Field label="Name" error={fieldError("name")}><input value={name} onChange={(e) => setName(e.target.value)} required autoFocus /></Field>
      <Field label="Dialog workflow" hint="The workflow with a Chat trigger that answers messages." error={fieldError("dialog_workflow_id")}>
        <select value={workflowId} onChange={(e) => setWorkflowId(e.target.value)} aria-label="Dialog workflow">
          <option value="">None yet</option>
          {workflows.map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}
        </select>
      </Field>
      <Field label="Welcome message" hint="Sent when a conversation starts."><textarea value={welcome} onChange={(e) => setWelcome(e.target.value)} rows={2} /></Field>
      {error && !(error instanceof ApiError && error.errors.length) && <ErrorBox message={errorMessage(error)} />}
      <div className="form-actions"><button className="btn btn-primary" type="submit">Create bot</button></div>
    </form>
  );
}
