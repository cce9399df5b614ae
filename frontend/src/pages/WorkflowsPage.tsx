// The workflows list: search, tag filter, active toggle, last run, duplicate, delete, import, export.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, errorMessage } from "../api/client";
import type { Page, Workflow, WorkflowDetail } from "../api/types";
import { Link, navigate } from "../lib/router";
import { downloadJson, Empty, ErrorBox, StatusBadge, timeAgo } from "../layout/ui";

export function WorkflowsPage() {
  const [items, setItems] = useState<Workflow[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [search, setSearch] = useState("");
  const [tag, setTag] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [knownTags, setKnownTags] = useState<string[]>([]);
  const fileInput = useRef<HTMLInputElement>(null);

  const load = useCallback(async (more?: string | null) => {
    try {
      const page = await api.get<Page<Workflow>>("workflows", { search, tag, cursor: more ?? undefined });
      setItems((old) => (more ? [...old, ...page.items] : page.items));
      setCursor(page.next_cursor);
      setKnownTags((old) => [...new Set([...old, ...page.items.flatMap((w) => w.tags)])].sort());
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setLoaded(true);
    }
  }, [search, tag]);

  useEffect(() => {
    const timer = setTimeout(() => void load(), 200);
    return () => clearTimeout(timer);
  }, [load]);

  async function act(work: () => Promise<unknown>) {
    try {
      await work();
      await load();
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  // A new workflow exists only in the editor until its first save (abandoned ones leave no rows).
  const create = () => navigate("/workflows/new");

  async function importFile(file: File) {
    await act(async () => {
      const data = JSON.parse(await file.text());
      const created = await api.post<WorkflowDetail>("workflows/import", data);
      navigate(`/workflows/${created.id}`);
    });
  }

  async function exportOne(w: Workflow) {
    await act(async () => {
      const data = await api.get(`workflows/${w.id}/export`);
      downloadJson(`${w.name.replace(/[^\w.-]+/g, "_")}.json`, data);
    });
  }

  return (
    <div className="page">
      <header className="page-head">
        <h1>Workflows</h1>
        <div className="actions">
          <input ref={fileInput} type="file" accept="application/json,.json" hidden aria-label="Import file"
            onChange={(e) => { const f = e.target.files?.[0]; if (f) void importFile(f); e.target.value = ""; }} />
          <button className="btn" onClick={() => fileInput.current?.click()}>Import JSON</button>
          <button className="btn btn-primary" onClick={create}>New workflow</button>
        </div>
      </header>
      <div className="toolbar">
        <input className="search" type="search" placeholder="Search workflows" aria-label="Search workflows" value={search} onChange={(e) => setSearch(e.target.value)} />
        <select aria-label="Tag" value={tag} onChange={(e) => setTag(e.target.value)}>
          <option value="">All tags</option>
          {knownTags.map((t) => <option key={t} value={t}>{t}</option>)}
        </select>
      </div>
      <ErrorBox message={error} />
      {loaded && items.length === 0 && (search || tag) ? (
        <Empty><p>No workflows match.</p></Empty>
      ) : loaded && items.length === 0 ? (
        <Empty>
          <p>No workflows yet.</p>
          <p><button className="btn btn-primary" onClick={create}>Create one</button> or start from a <Link to="/templates">template</Link>.</p>
        </Empty>
      ) : (
        <table className="table">
          <thead>
            <tr><th>Name</th><th>Tags</th><th>Last run</th><th>Updated</th><th>Active</th><th /></tr>
          </thead>
          <tbody>
            {items.map((w) => (
              <tr key={w.id}>
                <td><Link to={`/workflows/${w.id}`} className="strong">{w.name}</Link>{w.description && <div className="muted small">{w.description}</div>}</td>
                <td>{w.tags.map((t) => <button key={t} className="tag" onClick={() => setTag(t)}>{t}</button>)}</td>
                <td>
                  {w.last_run ? <Link to={`/executions/${w.last_run.id}`}><StatusBadge status={w.last_run.status} /></Link> : <StatusBadge status={null} />}
                  {w.last_run && <span className="muted small"> {timeAgo(w.last_run.created_at)}</span>}
                </td>
                <td className="muted">{timeAgo(w.updated_at)}</td>
                <td>
                  <label className="switch" title={w.version ? "Turn triggers on or off" : "Save a version first"}>
                    <input type="checkbox" aria-label={`Active ${w.name}`} checked={w.is_active}
                      onChange={() => void act(() => api.post(`workflows/${w.id}/${w.is_active ? "deactivate" : "activate"}`))} />
                    <span />
                  </label>
                </td>
                <td className="row-actions">
                  <button className="btn btn-small" onClick={() => void act(() => api.post(`workflows/${w.id}/duplicate`))}>Duplicate</button>
                  <button className="btn btn-small" onClick={() => void exportOne(w)}>Export</button>
                  <button className="btn btn-small btn-danger" onClick={() => confirm(`Delete "${w.name}" with its versions and executions?`) && void act(() => api.delete(`workflows/${w.id}`))}>Delete</button>
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
