// The editor's top bar: back, name and save state, and the actions (or, for an execution, its
// status with retry and cancel).
import { useState } from "react";
import type { ExecutionDetail, WorkflowDetail } from "../api/types";
import { StatusBadge } from "../layout/ui";
import { Link } from "../lib/router";

const SHORTCUTS: [string, string][] = [
  ["Ctrl+S", "save (a new version)"], ["Ctrl+Enter", "execute the workflow"], ["Ctrl+Z / Ctrl+Shift+Z", "undo / redo"],
  ["Ctrl+C / Ctrl+V", "copy / paste nodes (also between workflows, or a workflow's JSON)"], ["Ctrl+D", "duplicate the selection"],
  ["D", "disable / enable the selection"], ["Shift+S", "add a sticky note"], ["Double-click a name", "rename the node"],
  ["Ctrl+A", "select all"], ["Delete", "delete the selection"],
  ["Shift+drag", "select an area"], ["Shift+click", "add to the selection"], ["1", "zoom to fit (readable, from the trigger)"],
];

interface Props {
  workflow: WorkflowDetail | null;
  /** Set when the page shows one execution, read-only. */
  execution: ExecutionDetail | null;
  executionId?: string;
  dirty: boolean;
  readOnly: boolean;
  busy: "save" | "run" | null;
  canUndo: boolean;
  canRedo: boolean;
  onUndo: () => void;
  onRedo: () => void;
  onRename: (name: string) => void;
  onToggleActive: () => void;
  onSettings: () => void;
  /** Opens "Build with AI" (AIPromptBox). */
  onBuildWithAI: () => void;
  onVersions: () => void;
  onSave: () => void;
  onExecute: () => void;
  onRetry: () => void;
  onCancel: () => void;
}

export function EditorBar(props: Props) {
  const { workflow, execution, executionId, dirty, readOnly, busy } = props;
  const [showShortcuts, setShowShortcuts] = useState(false);
  return (
    <header className="editor-bar">
      <Link to={executionId ? "/executions" : "/workflows"} className="btn btn-ghost btn-small" aria-label="Back"
        onClick={(e) => { if (dirty && !window.confirm("Leave without saving your changes?")) e.preventDefault(); }}>←</Link>
      {executionId ? (
        <div className="editor-title">
          <strong>{workflow?.name}</strong>
          <span className="muted small">execution {executionId.slice(0, 8)}</span>
          {execution && <StatusBadge status={execution.status} />}
          {execution?.error && <span className="field-error">{execution.error_node ? `${execution.error_node}: ` : ""}{execution.error}</span>}
        </div>
      ) : (
        <div className="editor-title">
          <input className="workflow-name" aria-label="Workflow name" defaultValue={workflow?.name} key={workflow?.name}
            onBlur={(e) => props.onRename(e.target.value)} onKeyDown={(e) => e.key === "Enter" && (e.target as HTMLInputElement).blur()} />
          <span className="muted small" data-testid="save-state">{dirty ? "Unsaved changes" : workflow?.version ? `Saved · v${workflow.version}` : "Not saved yet"}</span>
        </div>
      )}
      <div className="editor-actions">
        {executionId ? (
          <>
            {execution?.status === "failed" && <button className="btn" onClick={props.onRetry}>Retry</button>}
            {execution && ["pending", "running", "waiting"].includes(execution.status) && <button className="btn btn-danger" onClick={props.onCancel}>Cancel</button>}
            {workflow && <Link className="btn" to={`/workflows/${workflow.id}`}>Open workflow</Link>}
          </>
        ) : (
          <>
            <label className="switch-labelled" title="Turn the workflow's triggers on">
              <span className="muted small">Active</span>
              <span className="switch"><input type="checkbox" aria-label="Active" checked={Boolean(workflow?.is_active)} onChange={props.onToggleActive} /><span /></span>
            </label>
            <button className="btn btn-ghost" onClick={props.onUndo} disabled={readOnly || !props.canUndo} title="Undo (Ctrl+Z)">Undo</button>
            <button className="btn btn-ghost" onClick={props.onRedo} disabled={readOnly || !props.canRedo} title="Redo (Ctrl+Shift+Z)">Redo</button>
            <span className="popover-anchor">
              <button className="btn btn-ghost" aria-label="Keyboard shortcuts" aria-expanded={showShortcuts} onClick={() => setShowShortcuts((v) => !v)}>?</button>
              {showShortcuts && (
                <div className="popover" role="dialog" aria-label="Shortcuts">
                  <table><tbody>{SHORTCUTS.map(([k, what]) => <tr key={k}><td><kbd>{k}</kbd></td><td>{what}</td></tr>)}</tbody></table>
                </div>
              )}
            </span>
            {workflow?.id && <Link className="btn btn-ghost" to={`/executions?workflow_id=${workflow.id}`}>Executions</Link>}
            <button className="btn btn-ghost" onClick={props.onBuildWithAI} disabled={readOnly}>Build with AI</button>
            <button className="btn btn-ghost" onClick={props.onSettings}>Settings</button>
            <button className="btn" onClick={props.onVersions}>Versions</button>
            <button className="btn" onClick={props.onSave} disabled={readOnly || busy !== null} title="Save (Ctrl+S)">{busy === "save" ? "Saving…" : "Save"}</button>
            <button className="btn btn-primary" onClick={props.onExecute} disabled={readOnly || busy !== null} title="Execute workflow (Ctrl+Enter)">{busy === "run" ? "Running…" : "Execute workflow"}</button>
          </>
        )}
      </div>
    </header>
  );
}
