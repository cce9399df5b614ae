// The executions list: filter by workflow, status and time; open, retry, cancel.
import { useCallback, useEffect, useState } from "react";
import { api, errorMessage } from "../api/client";
import type { Execution, ExecutionStatus, Page, Workflow, WorkflowDetail } from "../api/types";
import { Link, navigate, useLocation } from "../lib/router";
import { duration, Empty, ErrorBox, StatusBadge, timeAgo } from "../layout/ui";

const STATUSES: ExecutionStatus[] = ["pending", "running", "waiting", "completed", "failed", "cancelled"];

/** How a run started, told apart from production: the editor's test calls and manual runs. */
export function runKind(x: Pick<Execution, "trigger_type" | "is_draft">): { label: string; production: boolean } {
  if (x.trigger_type === "manual") return { label: x.is_draft ? "manual · draft" : "manual", production: false };
  if (x.is_draft) return { label: x.trigger_type === "webhook" ? "test call" : `${x.trigger_type} · draft`, production: false };
  return { label: x.trigger_type, production: true };
}

export function ExecutionsPage() {
  const { query } = useLocation();
  const [workflowId, setWorkflowId] = useState(query.get("workflow_id") ?? "");
  const [status, setStatus] = useState("");
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const [items, setItems] = useState<Execution[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [workflows, setWorkflows] = useState<Workflow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);

  useEffect(() => {
    api.get<Page<Workflow>>("workflows", { limit: 200 }).then((p) => setWorkflows(p.items), () => undefined);
  }, []);

  const load = useCallback(async (more?: string | null) => {
    try {
      const page = await api.get<Page<Execution>>("executions", {
        workflow_id: workflowId,
        status,
        since: since ? new Date(since).toISOString() : undefined,
        until: until ? new Date(until).toISOString() : undefined,
        cursor: more ?? undefined,
      });
      setItems((old) => (more ? [...old, ...page.items] : page.items));
      setCursor(page.next_cursor);
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setLoaded(true);
    }
  }, [workflowId, status, since, until]);

  useEffect(() => {
    void load();
  }, [load]);

  // Refresh while something is still going on.
  useEffect(() => {
    if (!items.some((e) => ["pending", "running"].includes(e.status))) return;
    const timer = setInterval(() => void load(), 1500);
    return () => clearInterval(timer);
  }, [items, load]);

  const names = new Map(workflows.map((w) => [w.id, w.name]));

  // Errors name the failed node as the user named it: node names from the workflows that failed.
  const [nodeNames, setNodeNames] = useState<Record<string, Record<string, string>>>({});
  useEffect(() => {
    const missing = [...new Set(items.filter((x) => x.error_node).map((x) => x.workflow_id))].filter((id) => !(id in nodeNames));
    if (!missing.length) return;
    void Promise.all(missing.map((id) => api.get<WorkflowDetail>(`workflows/${id}`).then(
      (w) => [id, Object.fromEntries((w.definition?.nodes ?? []).map((n) => [n.id, n.name]))] as const,
      () => [id, {}] as const,
    ))).then((found) => setNodeNames((old) => ({ ...old, ...Object.fromEntries(found) })));
  }, [items, nodeNames]);
  const nodeName = (x: Execution) => (x.error_node ? (nodeNames[x.workflow_id]?.[x.error_node] ?? x.error_node) : "");

  async function act(work: () => Promise<unknown>) {
    try {
      await work();
      await load();
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  return (
    <div className="page">
      <header className="page-head"><h1>Executions</h1></header>
      <div className="toolbar">
        <select aria-label="Workflow" value={workflowId} onChange={(e) => setWorkflowId(e.target.value)}>
          <option value="">All workflows</option>
          {workflows.map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}
        </select>
        <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">Any status</option>
          {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
        <label className="inline">From <input type="datetime-local" aria-label="From" value={since} onChange={(e) => setSince(e.target.value)} /></label>
        <label className="inline">To <input type="datetime-local" aria-label="To" value={until} onChange={(e) => setUntil(e.target.value)} /></label>
        <button className="btn" onClick={() => void load()}>Refresh</button>
      </div>
      <ErrorBox message={error} />
      {loaded && items.length === 0 ? (
        <Empty><p>No executions match.</p></Empty>
      ) : (
        <table className="table executions-table">
          <thead><tr><th>ID</th><th>Workflow</th><th>Status</th><th>Run</th><th>Started</th><th>Duration</th><th>Error</th><th /></tr></thead>
          <tbody>
            {items.map((x) => (
              <tr key={x.id} className="clickable" onClick={() => navigate(`/executions/${x.id}`)}>
                <td><code className="small" title={x.id} data-testid="execution-id">{x.id.slice(-8)}</code></td>
                <td><Link to={`/executions/${x.id}`} className="strong">{names.get(x.workflow_id) ?? x.workflow_id.slice(0, 8)}</Link></td>
                <td><StatusBadge status={x.status} /></td>
                <td data-testid="execution-kind">{(() => {
                  const kind = runKind(x);
                  return kind.production ? <span className="muted">{kind.label}</span> : <span className="badge" title="Started from the editor, not by a live trigger">{kind.label}</span>;
                })()}</td>
                <td className="muted" title={x.created_at}>{timeAgo(x.created_at)}</td>
                <td className="muted">{duration(x.started_at, x.finished_at)}</td>
                <td className="error-cell">{x.error ? `${x.error_node ? nodeName(x) + ": " : ""}${x.error}` : ""}</td>
                <td className="row-actions" onClick={(e) => e.stopPropagation()}>
                  {x.status === "failed" && <button className="btn btn-small" onClick={() => void act(() => api.post(`executions/${x.id}/retry`))}>Retry</button>}
                  {["pending", "running", "waiting"].includes(x.status) && <button className="btn btn-small btn-danger" onClick={() => void act(() => api.post(`executions/${x.id}/cancel`))}>Cancel</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && <button className="btn" onClick={() => void load(cursor)}>Load more</button>}
    </div>
  );
}
