// The templates gallery: ready-made workflows; "Preview" shows a template's graph read-only,
// "use this template" makes a copy to edit.
import { lazy, Suspense, useEffect, useState } from "react";
import { api, errorMessage } from "../api/client";
import type { Template, WorkflowDetail } from "../api/types";
import { navigate } from "../lib/router";
import { Empty, ErrorBox, Modal } from "../layout/ui";

// React Flow loads only when a preview opens (like the editor).
const GraphPreview = lazy(() => import("../editor/GraphPreview"));

export function TemplatesPage() {
  const [items, setItems] = useState<Template[] | null>(null);
  const [search, setSearch] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [preview, setPreview] = useState<Template | null>(null);

  useEffect(() => {
    api.get<Template[]>("templates").then(setItems, (e) => setError(errorMessage(e)));
  }, []);

  async function use(t: Template) {
    try {
      const workflow = await api.post<WorkflowDetail>(`templates/${t.id}/use`, {});
      navigate(`/workflows/${workflow.id}`);
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  const needle = search.toLowerCase();
  const shown = (items ?? []).filter((t) => `${t.name} ${t.description ?? ""} ${t.tags.join(" ")} ${t.category ?? ""}`.toLowerCase().includes(needle));
  return (
    <div className="page">
      <header className="page-head"><h1>Templates</h1></header>
      <div className="toolbar">
        <input className="search" type="search" placeholder="Search templates" aria-label="Search templates" value={search} onChange={(e) => setSearch(e.target.value)} />
      </div>
      <ErrorBox message={error} />
      {items && shown.length === 0 && <Empty><p>No templates match.</p></Empty>}
      <div className="cards">
        {shown.map((t) => (
          <article className="card" key={t.id}>
            <div className="card-head">
              <span className="muted small">{t.category ?? "General"}</span>
              {t.is_featured && <span className="badge badge-featured">featured</span>}
            </div>
            <h3>{t.name}</h3>
            <p className="muted">{t.description}</p>
            <div className="card-foot">
              <span className="muted small">{t.definition.nodes.length} nodes</span>
              <span className="row">
                <button className="btn btn-small" onClick={() => setPreview(t)}>Preview</button>
                <button className="btn btn-primary btn-small" onClick={() => void use(t)}>Use this template</button>
              </span>
            </div>
          </article>
        ))}
      </div>
      {preview && (
        <Modal title={preview.name} wide onClose={() => setPreview(null)}>
          {preview.description && <p className="muted">{preview.description}</p>}
          <Suspense fallback={<div className="loading">Loading preview…</div>}>
            <GraphPreview definition={preview.definition} />
          </Suspense>
          <div className="form-actions">
            <button className="btn" onClick={() => setPreview(null)}>Close</button>
            <button className="btn btn-primary" onClick={() => void use(preview)}>Use this template</button>
          </div>
        </Modal>
      )}
    </div>
  );
}
