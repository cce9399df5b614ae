// A node on the canvas: icon, name (double-click to rename), type, one handle per input and
// output, and its last run status. A node with many outputs grows so their labels do not overlap.
import { memo, useEffect, useRef, useState } from "react";
import { Handle, Position, useUpdateNodeInternals, type NodeProps } from "@xyflow/react";
import { inputsOf, outputsOf, type CanvasNode } from "../lib/graph";
import { useCanvasActions } from "./canvasActions";
import { useEditorInfo } from "./context";
import { NodeIcon } from "./NodeIcon";

/** Vertical room per handle, so labels of a Switch's outputs stay apart. */
const HANDLE_ROOM = 26;

function NodeName({ id, name, readOnly }: { id: string; name: string; readOnly: boolean }) {
  const { renameNode } = useCanvasActions();
  const [draft, setDraft] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  if (draft === null) {
    return <div className="wf-node-name" title={readOnly ? undefined : "Double-click to rename"} onDoubleClick={(e) => { if (readOnly) return; e.stopPropagation(); setDraft(name); }}>{name}</div>;
  }
  const commit = () => {
    const why = renameNode(id, draft);
    if (why) setProblem(why);
    else { setDraft(null); setProblem(null); }
  };
  return (
    <div className="wf-node-rename nodrag">
      <input aria-label="Rename node" autoFocus value={draft} onChange={(e) => { setDraft(e.target.value); setProblem(null); }}
        onKeyDown={(e) => { e.stopPropagation(); if (e.key === "Enter") commit(); else if (e.key === "Escape") { setDraft(null); setProblem(null); } }}
        onBlur={() => { renameNode(id, draft); setDraft(null); setProblem(null); }} />
      {problem && <div className="field-error" role="alert">{problem}</div>}
    </div>
  );
}

function WorkflowNodeView({ id, data, selected }: NodeProps<CanvasNode>) {
  const { types, runs, errors, pinned, readOnly } = useEditorInfo();
  const type = types.get(data.type);
  const inputs = inputsOf(type);
  const outputs = outputsOf(data, type);
  const run = runs.get(id);
  const updateNodeInternals = useUpdateNodeInternals();
  const handleKey = `${inputs.join(",")}|${outputs.join(",")}`;
  // Handles come and go (Switch rules, the error output): React Flow must re-measure them.
  const measuredKey = useRef(handleKey);
  useEffect(() => {
    if (measuredKey.current === handleKey) return; // React Flow measures new nodes itself
    measuredKey.current = handleKey;
    updateNodeInternals(id);
  }, [id, handleKey, updateNodeInternals]);
  const problems = errors[id];
  const classes = ["wf-node", selected ? "selected" : "", run ? `run-${run.status}` : "", problems ? "invalid" : "", data.disabled ? "disabled" : "", type?.is_trigger ? "trigger" : ""];
  return (
    <div className={classes.filter(Boolean).join(" ")} data-testid={`node-${data.name}`} data-node-id={id} title={problems?.join("\n")}
      style={{ minHeight: Math.max(inputs.length, outputs.length) > 2 ? (Math.max(inputs.length, outputs.length) + 1) * HANDLE_ROOM : undefined }}>
      {inputs.map((name, i) => (
        <Handle key={name} type="target" position={Position.Left} id={name} style={{ top: `${((i + 1) / (inputs.length + 1)) * 100}%` }}>
          {inputs.length > 1 && <span className="handle-label handle-label-in">{name}</span>}
        </Handle>
      ))}
      <div className="wf-node-icon"><NodeIcon type={type} size={34} /></div>
      <div className="wf-node-text">
        <NodeName id={id} name={data.name} readOnly={readOnly} />
        <div className="wf-node-type">{type?.display_name ?? data.type}{data.disabled ? " · disabled" : ""}</div>
      </div>
      {run && (
        <div className={`wf-node-status status-${run.status}`} data-testid={`status-${data.name}`}>
          {run.status === "completed" ? "✓" : run.status === "failed" ? "!" : "•"} {run.status === "completed" || run.item_count ? `${run.item_count} item${run.item_count === 1 ? "" : "s"}` : run.status}
        </div>
      )}
      {pinned.has(id) && <div className="wf-node-pin" title="Output pinned">📌</div>}
      {problems && <div className="wf-node-error-dot" aria-label="Node has errors">!</div>}
      {outputs.map((name, i) => (
        <Handle key={name} type="source" position={Position.Right} id={name} style={{ top: `${((i + 1) / (outputs.length + 1)) * 100}%` }}>
          {outputs.length > 1 && <span className="handle-label handle-label-out">{name}</span>}
        </Handle>
      ))}
    </div>
  );
}

export const WorkflowNode = memo(WorkflowNodeView);
