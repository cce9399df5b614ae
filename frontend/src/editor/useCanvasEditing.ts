// Changing the canvas: add (click or drop from the palette), connect, edit a node, copy/paste
// (through the system clipboard, so nodes move between workflows and from text editors),
// duplicate, disable, rename, select all and delete. Each change takes an undo checkpoint first.
import { useCallback, useEffect, useRef, type DragEvent, type MutableRefObject } from "react";
import { useReactFlow, type Connection, type IsValidConnection } from "@xyflow/react";
import type { NodeType } from "../api/types";
import {
  copySelection, edgeFor, freeOutput, inputsOf, nameProblem, newNodeId, parseClipboardText, pasteClipboard, placeAfter,
  toDefinition, uniqueName, type CanvasEdge, type CanvasNode, type Clipboard, type NodeData, type StickyNode,
} from "../lib/graph";
import { initialParameters } from "../lib/schemaForm";
import { DRAG_TYPE } from "./Palette";

interface Options {
  typeMap: Map<string, NodeType>;
  nodesRef: MutableRefObject<CanvasNode[]>;
  edgesRef: MutableRefObject<CanvasEdge[]>;
  setNodes: (nodes: CanvasNode[] | ((nodes: CanvasNode[]) => CanvasNode[])) => void;
  setEdges: (edges: CanvasEdge[] | ((edges: CanvasEdge[]) => CanvasEdge[])) => void;
  checkpoint: (key?: string) => void;
  onNodeEdited: (id: string) => void;
  /** Sticky notes live beside the graph; deleting the selection deletes the selected ones too. */
  stickiesRef?: MutableRefObject<StickyNode[]>;
  setStickies?: (stickies: StickyNode[]) => void;
  /** Where a paste that cannot be read says why. */
  onMessage?: (kind: "error" | "info", text: string) => void;
  readOnly?: boolean;
}

/** Keys typed in these are the field's, not the canvas's. */
const typing = (target: EventTarget | null) => target instanceof HTMLElement && Boolean(target.closest("input, textarea, select, [contenteditable=true]"));

export function useCanvasEditing({ typeMap, nodesRef, edgesRef, setNodes, setEdges, checkpoint, onNodeEdited, stickiesRef, setStickies, onMessage, readOnly }: Options) {
  const flow = useReactFlow<CanvasNode, CanvasEdge>();
  /** The last copy in this page, for when the system clipboard cannot be read. */
  const clipboard = useRef<{ clip: Clipboard; text: string } | null>(null);
  /** A Ctrl+V waits one turn for the browser's paste event before reading the clipboard itself. */
  const pendingRead = useRef<number | null>(null);

  const addNode = useCallback((type: string, position?: { x: number; y: number }) => {
    const nodeType = typeMap.get(type);
    if (!nodeType) return;
    checkpoint();
    const current = nodesRef.current;
    const id = newNodeId(type, current.map((n) => n.id));
    const name = uniqueName(nodeType.display_name, current.map((n) => n.data.name));
    let at = position;
    let link: CanvasEdge | null = null;
    if (!at) {
      // Next to the selection, and connected after it when it has a free output (like n8n).
      const selected = current.filter((n) => n.selected);
      const anchor = selected.length === 1 ? selected[0] : current[current.length - 1];
      if (anchor) {
        const anchorType = typeMap.get(anchor.data.type);
        const output = selected.length === 1 && !nodeType.is_trigger ? freeOutput(anchor, anchorType, edgesRef.current) : null;
        const row = output ? Math.max(0, (anchorType ? [...anchorType.outputs] : ["main"]).indexOf(output)) : 0;
        at = placeAfter(anchor.position, current, row * 100);
        if (output) link = edgeFor(anchor.id, output, id, inputsOf(nodeType)[0] ?? "main");
      } else at = { x: 0, y: 0 };
    }
    const data: NodeData = { id, name, type, parameters: initialParameters(nodeType.parameters_schema) };
    setNodes([...current.map((n) => ({ ...n, selected: false })), { id, type: "wirework", position: at, data, selected: true }]);
    if (link) setEdges([...edgesRef.current, link]);
  }, [typeMap, checkpoint, setNodes, setEdges, nodesRef, edgesRef]);

  const onDrop = useCallback((event: DragEvent) => {
    event.preventDefault();
    const type = event.dataTransfer.getData(DRAG_TYPE);
    if (!type) return;
    const position = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    addNode(type, { x: position.x - 90, y: position.y - 30 });
  }, [flow, addNode]);

  const onConnect = useCallback((c: Connection) => {
    checkpoint();
    const edge = edgeFor(c.source, c.sourceHandle ?? "main", c.target, c.targetHandle ?? "main");
    setEdges((es) => (es.some((e) => e.id === edge.id) ? es : [...es, edge]));
  }, [checkpoint, setEdges]);

  const isValidConnection: IsValidConnection<CanvasEdge> = useCallback((c) => c.source !== c.target, []);

  const updateNode = useCallback((id: string, patch: Partial<NodeData>, key: string) => {
    checkpoint(`${id}:${key}`);
    setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { ...n.data, ...patch } } : n)));
    onNodeEdited(id);
  }, [checkpoint, setNodes, onNodeEdited]);

  /** Rename a node; returns why not (names are unique in a workflow) or null when done. */
  const renameNode = useCallback((id: string, name: string): string | null => {
    const problem = nameProblem(name, id, nodesRef.current);
    if (problem) return problem;
    const node = nodesRef.current.find((n) => n.id === id);
    if (node && node.data.name !== name.trim()) updateNode(id, { name: name.trim() }, "name");
    return null;
  }, [nodesRef, updateNode]);

  /** Put nodes in: fresh ids and names, selected; at `at` when they come from elsewhere. */
  const insert = useCallback((clip: Clipboard) => {
    checkpoint();
    const existing = nodesRef.current;
    const ids = new Set(existing.map((n) => n.id));
    const sameWorkflow = clip.nodes.every((n) => ids.has(n.id));
    const pane = document.querySelector(".react-flow")?.getBoundingClientRect();
    const at = sameWorkflow || !pane ? undefined : flow.screenToFlowPosition({ x: pane.left + pane.width * 0.3, y: pane.top + pane.height * 0.3 });
    const pasted = pasteClipboard(clip, existing, at);
    setNodes([...existing.map((n) => ({ ...n, selected: false })), ...pasted.nodes]);
    setEdges([...edgesRef.current, ...pasted.edges]);
    return pasted;
  }, [checkpoint, flow, setNodes, setEdges, nodesRef, edgesRef]);

  const pasteText = useCallback((text: string | null) => {
    if (readOnly) return;
    if (text === null || !text.trim()) {
      // The clipboard could not be read (no permission) or is empty: the last copy in this page.
      if (clipboard.current) insert(clipboard.current.clip);
      else onMessage?.("error", "Nothing to paste: the clipboard is empty (copy nodes with Ctrl+C, or a workflow's JSON).");
      return;
    }
    const parsed = parseClipboardText(text, (t) => typeMap.has(t));
    if ("error" in parsed) {
      onMessage?.("error", parsed.error);
      return;
    }
    const pasted = insert(parsed.clip);
    onMessage?.("info", `Pasted ${pasted.nodes.length} node${pasted.nodes.length === 1 ? "" : "s"}.`);
  }, [readOnly, typeMap, insert, onMessage]);

  const copyText = useCallback((): string | null => {
    const clip = copySelection(nodesRef.current, edgesRef.current);
    if (!clip.nodes.length) return null;
    const text = JSON.stringify(toDefinition(clip.nodes, clip.edges), null, 2);
    clipboard.current = { clip, text };
    return text;
  }, [nodesRef, edgesRef]);

  /** Ctrl+C: the browser's copy event puts the nodes on the clipboard (see below); writeText too,
   * for browsers that fire no copy event without a text selection. */
  const copy = useCallback(() => {
    const text = copyText();
    if (text) void navigator.clipboard?.writeText(text).catch(() => undefined);
  }, [copyText]);

  /** Ctrl+V: the paste event that follows carries the clipboard; without one, ask for it. */
  const paste = useCallback(() => {
    if (pendingRead.current !== null) window.clearTimeout(pendingRead.current);
    pendingRead.current = window.setTimeout(() => {
      pendingRead.current = null;
      const read = navigator.clipboard?.readText?.();
      if (!read) pasteText(null);
      else read.then(pasteText, () => pasteText(null));
    }, 0);
  }, [pasteText]);

  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      if (typing(e.target)) return;
      if (pendingRead.current !== null) window.clearTimeout(pendingRead.current);
      pendingRead.current = null;
      e.preventDefault();
      pasteText(e.clipboardData?.getData("text/plain") ?? null);
    };
    const onCopy = (e: ClipboardEvent) => {
      if (typing(e.target) || window.getSelection()?.toString()) return;
      const text = copyText();
      if (!text || !e.clipboardData) return;
      e.clipboardData.setData("text/plain", text);
      e.preventDefault();
    };
    window.addEventListener("paste", onPaste);
    window.addEventListener("copy", onCopy);
    return () => {
      window.removeEventListener("paste", onPaste);
      window.removeEventListener("copy", onCopy);
    };
  }, [pasteText, copyText]);

  /** Ctrl+D: a copy of the selected nodes (and the edges between them) beside them. */
  const duplicate = useCallback(() => {
    const clip = copySelection(nodesRef.current, edgesRef.current);
    if (clip.nodes.length) insert(clip);
  }, [nodesRef, edgesRef, insert]);

  /** D: disable the selected nodes (they pass their input through), or enable them again. */
  const toggleDisabled = useCallback(() => {
    const picked = nodesRef.current.filter((n) => n.selected);
    if (!picked.length) return;
    checkpoint();
    const disable = picked.some((n) => !n.data.disabled);
    const ids = new Set(picked.map((n) => n.id));
    setNodes(nodesRef.current.map((n) => (ids.has(n.id) ? { ...n, data: { ...n.data, disabled: disable } } : n)));
  }, [nodesRef, checkpoint, setNodes]);

  const deleteSelected = useCallback(() => {
    const ids = new Set(nodesRef.current.filter((n) => n.selected).map((n) => n.id));
    const edgeIds = new Set(edgesRef.current.filter((e) => e.selected).map((e) => e.id));
    const stickies = stickiesRef?.current ?? [];
    const notes = stickies.filter((s) => s.selected).length;
    if (!ids.size && !edgeIds.size && !notes) return;
    checkpoint();
    setNodes(nodesRef.current.filter((n) => !ids.has(n.id)));
    setEdges(edgesRef.current.filter((e) => !edgeIds.has(e.id) && !ids.has(e.source) && !ids.has(e.target)));
    if (notes) setStickies?.(stickies.filter((s) => !s.selected));
  }, [checkpoint, setNodes, setEdges, nodesRef, edgesRef, stickiesRef, setStickies]);

  const selectAll = useCallback(() => setNodes((ns) => ns.map((n) => ({ ...n, selected: true }))), [setNodes]);

  return { addNode, onDrop, onConnect, isValidConnection, updateNode, renameNode, copy, paste, duplicate, toggleDisabled, deleteSelected, selectAll };
}
