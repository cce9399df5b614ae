// Sticky notes' state beside the graph's: React Flow shows both as nodes; changes to a note
// (drag, resize, select, text) come back here, each edit with an undo checkpoint.
import { useCallback, useRef, useState } from "react";
import { applyNodeChanges, useReactFlow, type NodeChange } from "@xyflow/react";
import type { CanvasEdge, CanvasNode, StickyData, StickyNode } from "../lib/graph";

export function useStickyNotes(checkpoint: (key?: string) => void) {
  const flow = useReactFlow<CanvasNode, CanvasEdge>();
  const [stickies, setStickiesState] = useState<StickyNode[]>([]);
  const stickiesRef = useRef(stickies);
  stickiesRef.current = stickies;
  const setStickies = useCallback((next: StickyNode[]) => {
    stickiesRef.current = next;
    setStickiesState(next);
  }, []);
  const ids = useRef(new Set<string>());
  ids.current = new Set(stickies.map((s) => s.id));

  /** Split React Flow's node changes: the notes' are applied here, the rest are returned. */
  const takeChanges = useCallback((changes: NodeChange<CanvasNode>[]): NodeChange<CanvasNode>[] => {
    const idOf = (c: NodeChange<CanvasNode>) => ("id" in c ? c.id : c.item.id);
    const mine = changes.filter((c) => ids.current.has(idOf(c)));
    if (!mine.length) return changes;
    if (mine.some((c) => c.type === "dimensions" && c.resizing)) checkpoint(`sticky:${idOf(mine[0])}:size`);
    setStickies(applyNodeChanges(mine as unknown as NodeChange<StickyNode>[], stickiesRef.current));
    return changes.filter((c) => !mine.includes(c));
  }, [checkpoint, setStickies]);

  const updateSticky = useCallback((id: string, patch: Partial<StickyData>) => {
    checkpoint(`sticky:${id}:${Object.keys(patch).join(",")}`);
    setStickies(stickiesRef.current.map((s) => (s.id === id ? { ...s, data: { ...s.data, ...patch } } : s)));
  }, [checkpoint, setStickies]);

  /** A new note in the middle of what the user sees (Shift+S, or the "+ Note" button). */
  const addSticky = useCallback(() => {
    const pane = document.querySelector(".react-flow")?.getBoundingClientRect();
    const at = pane ? flow.screenToFlowPosition({ x: pane.left + pane.width / 2 - 120, y: pane.top + pane.height / 2 - 80 }) : { x: 0, y: 0 };
    checkpoint();
    const taken = new Set(stickiesRef.current.map((s) => s.id));
    let n = 1;
    while (taken.has(`sticky_${n}`)) n++;
    const note: StickyNode = { id: `sticky_${n}`, type: "sticky", position: at, width: 240, height: 160, data: { text: "", color: "yellow" }, zIndex: -1, selected: true };
    setStickies([...stickiesRef.current.map((s) => ({ ...s, selected: false })), note]);
  }, [flow, checkpoint, setStickies]);

  return { stickies, stickiesRef, setStickies, takeChanges, updateSticky, addSticky };
}
