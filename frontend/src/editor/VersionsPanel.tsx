// The workflow's saved versions: view one (read-only, on the canvas) and restore it. The panel lies
// over the canvas's right edge, so opening it does not squeeze the canvas.
import { useEffect, useState } from "react";
import { api, errorMessage } from "../api/client";
import type { Version, VersionDetail } from "../api/types";
import { ErrorBox, timeAgo } from "../layout/ui";

interface Props {
  workflowId: string;
  current: number;
  refreshKey: number;
  onView: (version: VersionDetail) => void;
  onRestored: (version: VersionDetail) => void;
  onClose: () => void;
}

export function VersionsPanel({ workflowId, current, refreshKey, onView, onRestored, onClose }: Props) {
  const [versions, setVersions] = useState<Version[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.get<Version[]>(`workflows/${workflowId}/versions`).then(setVersions, (e) => setError(errorMessage(e)));
  }, [workflowId, refreshKey]);

  async function view(number: number) {
    try {
      onView(await api.get<VersionDetail>(`workflows/${workflowId}/versions/${number}`));
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  async function restore(number: number) {
    try {
      onRestored(await api.post<VersionDetail>(`workflows/${workflowId}/versions/${number}/restore`));
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  return (
    <aside className="side-panel versions" aria-label="Versions" data-canvas-overlay="right">
      <div className="side-panel-head"><h3>Versions</h3><button className="btn-icon" aria-label="Close versions" onClick={onClose}>×</button></div>
      <ErrorBox message={error} />
      {versions.length === 0 && <p className="muted">Nothing saved yet: each save makes a version.</p>}
      <ul className="version-list">
        {versions.map((v) => (
          <li key={v.id} className={v.version === current ? "current" : ""}>
            <div><strong>v{v.version}</strong> {v.version === current && <span className="badge">current</span>}<div className="muted small">{v.notes || "—"} · {timeAgo(v.created_at)}</div></div>
            <div className="row">
              <button className="btn btn-small" onClick={() => void view(v.version)}>View</button>
              {v.version !== current && <button className="btn btn-small" onClick={() => void restore(v.version)}>Restore</button>}
            </div>
          </li>
        ))}
      </ul>
    </aside>
  );
}
