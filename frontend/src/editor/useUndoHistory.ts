// Undo/redo for the canvas: snapshots of nodes, edges and sticky notes taken before each change.
import { useCallback, useMemo, useRef, useState } from "react";
import type { CanvasEdge, CanvasNode, StickyNode } from "../lib/graph";

export interface Snapshot {
  nodes: CanvasNode[];
  edges: CanvasEdge[];
  stickies?: StickyNode[];
}

const LIMIT = 100;
/** Edits with the same key within this time (typing in one field) make one undo step. */
const COALESCE_MS = 1500;

function clean(snapshot: Snapshot): Snapshot {
  return {
    nodes: snapshot.nodes.map((n) => ({ ...n, selected: false, dragging: false })),
    edges: snapshot.edges.map((e) => ({ ...e, selected: false })),
    stickies: snapshot.stickies?.map((s) => ({ ...s, selected: false, dragging: false })),
  };
}

export function useUndoHistory(current: () => Snapshot, restore: (snapshot: Snapshot) => void) {
  const past = useRef<Snapshot[]>([]);
  const future = useRef<Snapshot[]>([]);
  const last = useRef({ key: "", at: 0 });
  const [, setVersion] = useState(0);
  const bump = () => setVersion((v) => v + 1);

  const checkpoint = useCallback((key?: string) => {
    const now = Date.now();
    if (key && last.current.key === key && now - last.current.at < COALESCE_MS) {
      last.current.at = now;
      return;
    }
    last.current = { key: key ?? "", at: now };
    past.current.push(clean(current()));
    if (past.current.length > LIMIT) past.current.shift();
    future.current = [];
    bump();
  }, [current]);

  const undo = useCallback(() => {
    const snapshot = past.current.pop();
    if (!snapshot) return;
    future.current.push(clean(current()));
    last.current = { key: "", at: 0 };
    restore(snapshot);
    bump();
  }, [current, restore]);

  const redo = useCallback(() => {
    const snapshot = future.current.pop();
    if (!snapshot) return;
    past.current.push(clean(current()));
    last.current = { key: "", at: 0 };
    restore(snapshot);
    bump();
  }, [current, restore]);

  return useMemo(
    () => ({ checkpoint, undo, redo, canUndo: past.current.length > 0, canRedo: future.current.length > 0 }),
    [checkpoint, undo, redo, past.current.length, future.current.length],
  );
}
