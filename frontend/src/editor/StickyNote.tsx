// A sticky note on the canvas: text the user writes beside the nodes (saved in the definition,
// never run). Double-click to edit; drag the corners to resize; pick a colour when selected.
import { memo, useState } from "react";
import { NodeResizer, type NodeProps } from "@xyflow/react";
import type { StickySpec } from "../api/types";
import type { StickyNode } from "../lib/graph";
import { useCanvasActions } from "./canvasActions";
import { useEditorInfo } from "./context";

const COLORS: StickySpec["color"][] = ["yellow", "blue", "green", "pink", "grey"];
export const STICKY_MAX_TEXT = 10_000;

function StickyNoteView({ id, data, selected }: NodeProps<StickyNode>) {
  const { readOnly } = useEditorInfo();
  const { updateSticky } = useCanvasActions();
  const [editing, setEditing] = useState(false);
  return (
    <div className={`sticky sticky-${data.color}${selected ? " selected" : ""}`} data-testid="sticky-note" onDoubleClick={() => !readOnly && setEditing(true)}>
      <NodeResizer isVisible={selected && !readOnly} minWidth={80} minHeight={60} maxWidth={2000} maxHeight={2000} />
      {editing ? (
        <textarea className="sticky-text nodrag nowheel" aria-label="Note text" autoFocus value={data.text} maxLength={STICKY_MAX_TEXT}
          onChange={(e) => updateSticky(id, { text: e.target.value })} onBlur={() => setEditing(false)}
          onKeyDown={(e) => e.key === "Escape" && setEditing(false)} />
      ) : (
        <div className="sticky-text" title={readOnly ? undefined : "Double-click to edit"}>{data.text || <span className="muted">Double-click to write a note</span>}</div>
      )}
      {selected && !readOnly && !editing && (
        <div className="sticky-colors nodrag">
          {COLORS.map((c) => (
            <button key={c} className={`sticky-swatch sticky-${c}${c === data.color ? " on" : ""}`} aria-label={`Note colour ${c}`} onClick={() => updateSticky(id, { color: c })} />
          ))}
        </div>
      )}
    </div>
  );
}

export const StickyNoteNode = memo(StickyNoteView);
