// Converting between a workflow definition and the canvas (React Flow nodes and edges), and the
// graph helpers the editor needs: each node's outputs, unique names and ids, copy/paste.
import type { Edge, Node } from "@xyflow/react";
import type { Definition, EdgeSpec, NodeSpec, NodeType } from "../api/types";

/** What a canvas node carries: the node as saved, minus its position (React Flow owns that). */
export type NodeData = Omit<NodeSpec, "position">;
export type CanvasNode = Node<NodeData, "wirework">;
export type CanvasEdge = Edge;

export function toCanvas(definition: Definition | null): { nodes: CanvasNode[]; edges: CanvasEdge[] } {
  const specs = definition?.nodes ?? [];
  const placed = specs.some((n) => n.position && (n.position[0] !== 0 || n.position[1] !== 0));
  const layout = placed ? null : layeredLayout(specs.map((n) => n.id), definition?.edges ?? []);
  const nodes: CanvasNode[] = specs.map((spec) => {
    const { position, ...data } = spec;
    const at = layout?.get(spec.id) ?? { x: position?.[0] ?? 0, y: position?.[1] ?? 0 };
    return { id: spec.id, type: "wirework", position: at, data };
  });
  const edges: CanvasEdge[] = (definition?.edges ?? []).map((e) => edgeFor(e.from, e.output ?? "main", e.to, e.input ?? "main"));
  return { nodes, edges };
}

/** Positions for a workflow made without them (e.g. through the API): columns by distance
 * from the nodes nothing points at, rows in definition order. */
export function layeredLayout(ids: string[], edges: EdgeSpec[], dx = 260, dy = 140): Map<string, { x: number; y: number }> {
  const depth = new Map<string, number>();
  const targets = new Set(edges.map((e) => e.to));
  const queue = ids.filter((id) => !targets.has(id));
  for (const id of queue) depth.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const e of edges) {
      if (e.from !== id || depth.has(e.to) || !ids.includes(e.to)) continue;
      depth.set(e.to, depth.get(id)! + 1);
      queue.push(e.to);
    }
  }
  const rows = new Map<number, number>();
  const out = new Map<string, { x: number; y: number }>();
  for (const id of ids) {
    const column = depth.get(id) ?? 0; // nodes in a cycle without an entry stay in the first column
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    out.set(id, { x: column * dx, y: row * dy });
  }
  return out;
}

export function edgeFor(source: string, output: string, target: string, input: string): CanvasEdge {
  return { id: `${source}:${output}->${target}:${input}`, source, sourceHandle: output, target, targetHandle: input };
}

export function toDefinition(nodes: CanvasNode[], edges: CanvasEdge[], settings?: Definition["settings"]): Definition {
  const definition: Definition = {
    nodes: nodes.map((n) => ({ ...n.data, id: n.id, position: [Math.round(n.position.x), Math.round(n.position.y)] as [number, number] })),
    edges: edges.map((e): EdgeSpec => ({ from: e.source, output: e.sourceHandle ?? "main", to: e.target, input: e.targetHandle ?? "main" })),
  };
  if (settings) definition.settings = settings;
  return definition;
}

/** The outputs a node shows: its type's, the Switch's rule outputs, plus "error" with on_error=error_output. */
export function outputsOf(data: NodeData, type: NodeType | undefined): string[] {
  let outputs = type ? [...type.outputs] : ["main"];
  if (type?.dynamic_outputs) {
    const params = data.parameters ?? {};
    const rules = Array.isArray(params.rules) ? (params.rules as { output?: unknown }[]) : [];
    const names = rules.map((r) => (typeof r.output === "string" ? r.output : "")).filter(Boolean);
    if (typeof params.fallback === "string" && params.fallback) names.push(params.fallback);
    outputs = [...new Set([...outputs, ...names])];
  }
  if (data.on_error === "error_output" && !outputs.includes("error")) outputs.push("error");
  return outputs;
}

export function inputsOf(type: NodeType | undefined): string[] {
  return type ? type.inputs : ["main"];
}

/** "Set fields", "Set fields 1", "Set fields 2", … — names are unique in a workflow. */
export function uniqueName(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let i = 1; ; i++) {
    const name = `${base} ${i}`;
    if (!used.has(name)) return name;
  }
}

export function newNodeId(type: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const stem = type.split(".").pop()!.replace(/[^a-z0-9_]/gi, "_").slice(0, 40);
  for (let i = 1; ; i++) {
    const id = `${stem}_${i}`;
    if (!used.has(id)) return id;
  }
}

export interface Clipboard {
  nodes: CanvasNode[];
  edges: CanvasEdge[];
}

/** Copy the selected nodes and the edges between them. */
export function copySelection(nodes: CanvasNode[], edges: CanvasEdge[]): Clipboard {
  const picked = nodes.filter((n) => n.selected);
  const ids = new Set(picked.map((n) => n.id));
  return { nodes: picked, edges: edges.filter((e) => ids.has(e.source) && ids.has(e.target)) };
}

/** Paste a clipboard: fresh ids and names, shifted by `offset`, selected. */
export function pasteClipboard(clip: Clipboard, existing: CanvasNode[], offset = 40): Clipboard {
  const ids = existing.map((n) => n.id);
  const names = existing.map((n) => n.data.name);
  const renamed = new Map<string, string>();
  const nodes = clip.nodes.map((n) => {
    const id = newNodeId(n.data.type, ids);
    ids.push(id);
    const name = uniqueName(n.data.name.replace(/ \d+$/, ""), names);
    names.push(name);
    renamed.set(n.id, id);
    return { ...n, id, selected: true, position: { x: n.position.x + offset, y: n.position.y + offset }, data: { ...n.data, id, name } };
  });
  const edges = clip.edges.map((e) =>
    edgeFor(renamed.get(e.source)!, e.sourceHandle ?? "main", renamed.get(e.target)!, e.targetHandle ?? "main"),
  );
  return { nodes, edges };
}

/** Group node types by category, keeping only those matching `search`. The server sends the
 * types in palette order (its node_categories table orders the categories), so groups and the
 * types in them keep the order they arrive in. */
export function paletteGroups(types: NodeType[], search: string): [string, NodeType[]][] {
  const needle = search.trim().toLowerCase();
  const groups = new Map<string, NodeType[]>();
  for (const t of types) {
    const hay = `${t.display_name} ${t.type} ${t.description} ${t.category}`.toLowerCase();
    if (needle && !hay.includes(needle)) continue;
    if (!groups.has(t.category)) groups.set(t.category, []);
    groups.get(t.category)!.push(t);
  }
  return [...groups.entries()];
}
