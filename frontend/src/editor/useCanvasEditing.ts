// Changing the canvas: add (click or drop from the palette), connect, edit a node, copy/paste,
// select all and delete. Each change takes an undo checkpoint first.
import { useCallback, useRef, type DragEvent, type MutableRefObject } from "react";
import { useReactFlow, type Connection, type IsValidConnection } from "@xyflow/react";
import type { NodeType } from "../api/types";
import { copySelection, edgeFor, newNodeId, pasteClipboard, toDefinition, uniqueName, type CanvasEdge, type CanvasNode, type Clipboard, type NodeData } from "../lib/graph";
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
}

export function useCanvasEditing({ typeMap, nodesRef, edgesRef, setNodes, setEdges, checkpoint, onNodeEdited }: Options) {
  const flow = useReactFlow<CanvasNode, CanvasEdge>();
  const clipboard = useRef<Clipboard | null>(null);

  const addNode = useCallback((type: string, position?: { x: number; y: number }) => {
    const nodeType = typeMap.get(type);
    if (!nodeType) return;
    checkpoint();
    const current = nodesRef.current;
    const id = newNodeId(type, current.map((n) => n.id));
    const name = uniqueName(nodeType.display_name, current.map((n) => n.data.name));
    let at = position;
    if (!at) {
      const anchor = current.find((n) => n.selected) ?? current[current.length - 1];
      at = anchor ? { x: anchor.position.x + 240, y: anchor.position.y } : { x: 0, y: 0 };
    }
    const data: NodeData = { id, name, type, parameters: initialParameters(nodeType.parameters_schema) };
    setNodes([...current.map((n) => ({ ...n, selected: false })), { id, type: "wirework", position: at, data, selected: true }]);
  }, [typeMap, checkpoint, setNodes, nodesRef]);

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

  const copy = useCallback(() => {
    const clip = copySelection(nodesRef.current, edgesRef.current);
    if (!clip.nodes.length) return;
    clipboard.current = clip;
    void navigator.clipboard?.writeText(JSON.stringify(toDefinition(clip.nodes, clip.edges))).catch(() => undefined);
  }, [nodesRef, edgesRef]);

  const paste = useCallback(() => {
    if (!clipboard.current) return;
    checkpoint();
    const pasted = pasteClipboard(clipboard.current, nodesRef.current);
    clipboard.current = { nodes: pasted.nodes, edges: pasted.edges };
    setNodes([...nodesRef.current.map((n) => ({ ...n, selected: false })), ...pasted.nodes]);
    setEdges([...edgesRef.current, ...pasted.edges]);
  }, [checkpoint, setNodes, setEdges, nodesRef, edgesRef]);

  const deleteSelected = useCallback(() => {
    const ids = new Set(nodesRef.current.filter((n) => n.selected).map((n) => n.id));
    const edgeIds = new Set(edgesRef.current.filter((e) => e.selected).map((e) => e.id));
    if (!ids.size && !edgeIds.size) return;
    checkpoint();
    setNodes(nodesRef.current.filter((n) => !ids.has(n.id)));
    setEdges(edgesRef.current.filter((e) => !edgeIds.has(e.id) && !ids.has(e.source) && !ids.has(e.target)));
  }, [checkpoint, setNodes, setEdges, nodesRef, edgesRef]);

  const selectAll = useCallback(() => setNodes((ns) => ns.map((n) => ({ ...n, selected: true }))), [setNodes]);

  return { addNode, onDrop, onConnect, isValidConnection, updateNode, copy, paste, deleteSelected, selectAll };
}
