// The node palette: node types grouped by category, searchable; drag one onto the canvas, or
// double-click it (or press Enter in the search) to add it after the selected node. It lies over
// the canvas's left edge as a drawer, so opening it does not shrink the canvas.
import { useState, type DragEvent } from "react";
import type { NodeType } from "../api/types";
import { paletteGroups } from "../lib/graph";
import { NodeIcon } from "./NodeIcon";

export const DRAG_TYPE = "application/x-wirework-node";

export function Palette({ types, onAdd, onHide }: { types: NodeType[]; onAdd: (type: string) => void; onHide: () => void }) {
  const [search, setSearch] = useState("");
  const groups = paletteGroups(types, search);
  const [dragging, setDragging] = useState(false);
  const onDragStart = (event: DragEvent, type: string) => {
    event.dataTransfer.setData(DRAG_TYPE, type);
    event.dataTransfer.effectAllowed = "move";
    setDragging(true); // the list fades and lets the drop through to the canvas beneath it
  };
  return (
    <aside className={`palette${dragging ? " palette-dragging" : ""}`} aria-label="Nodes" data-canvas-overlay="left" onDragEnd={() => setDragging(false)}>
      <div className="palette-head">
        <input className="search" type="search" placeholder="Search nodes" aria-label="Search nodes" value={search}
          onChange={(e) => setSearch(e.target.value)}
          onKeyDown={(e) => {
            const first = groups[0]?.[1][0];
            if (e.key === "Enter" && first) {
              e.preventDefault();
              onAdd(first.type);
              setSearch("");
            } else if (e.key === "Escape") onHide();
          }} />
        <button className="btn-icon" onClick={onHide} aria-label="Hide nodes" title="Hide the node list">«</button>
      </div>
      <div className="palette-groups">
        {groups.map(([category, list]) => (
          <section key={category}>
            <h4>{category}</h4>
            {list.map((t) => (
              <div key={t.type} className="palette-item" draggable onDragStart={(e) => onDragStart(e, t.type)} onDoubleClick={() => onAdd(t.type)}
                title={`${t.description}\n(drag onto the canvas, or double-click)`} data-testid={`palette-${t.type}`} role="button" tabIndex={0}
                onKeyDown={(e) => e.key === "Enter" && onAdd(t.type)}>
                <NodeIcon type={t} />
                <div>
                  <div className="palette-name">{t.display_name}</div>
                  <div className="palette-desc">{t.description}</div>
                </div>
              </div>
            ))}
          </section>
        ))}
        {groups.length === 0 && <p className="muted small">No node matches.</p>}
      </div>
    </aside>
  );
}
