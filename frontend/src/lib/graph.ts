// Converting between a workflow definition and the canvas (React Flow nodes and edges), and the
// graph helpers the editor needs: each node's outputs, unique names and ids, copy/paste.
import type { Edge, Node } from "@xyflow/react";
import type { Definition, EdgeSpec, NodeSpec, NodeType, StickySpec } from "../api/types";

/** What a canvas node carries: the node as saved, minus its position (React Flow owns that). */
export type NodeData = Omit<NodeSpec, "position">;
export type CanvasNode = Node<NodeData, "wirework">;
export type CanvasEdge = Edge;
/** A sticky note on the canvas: a React Flow node of its own type, kept apart from the graph. */
export type StickyData = Pick<StickySpec, "text" | "color">;
export type StickyNode = Node<StickyData, "sticky">;

export function toStickies(definition: Definition | null): StickyNode[] {
  return (definition?.sticky_notes ?? []).map((s) => ({
    id: s.id, type: "sticky", position: { x: s.position[0], y: s.position[1] }, width: s.width, height: s.height,
    data: { text: s.text, color: s.color }, zIndex: -1,
  }));
}

export function stickySpecs(stickies: StickyNode[]): StickySpec[] {
  return stickies.map((s) => ({
    id: s.id, text: s.data.text, color: s.data.color, position: [Math.round(s.position.x), Math.round(s.position.y)],
    width: Math.round(s.width ?? s.measured?.width ?? 240), height: Math.round(s.height ?? s.measured?.height ?? 160),
  }));
}

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

export function toDefinition(nodes: CanvasNode[], edges: CanvasEdge[], settings?: Definition["settings"], stickies?: StickyNode[]): Definition {
  const definition: Definition = {
    nodes: nodes.map((n) => ({ ...n.data, id: n.id, position: [Math.round(n.position.x), Math.round(n.position.y)] as [number, number] })),
    edges: edges.map((e): EdgeSpec => ({ from: e.source, output: e.sourceHandle ?? "main", to: e.target, input: e.targetHandle ?? "main" })),
  };
  if (settings) definition.settings = settings;
  if (stickies?.length) definition.sticky_notes = stickySpecs(stickies);
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

/** Paste a clipboard: fresh ids and names, selected; shifted by 40 px, or with its top-left
 * corner moved to `at` (nodes from another workflow land where the user looks). */
export function pasteClipboard(clip: Clipboard, existing: CanvasNode[], at?: { x: number; y: number }): Clipboard {
  const ids = existing.map((n) => n.id);
  const names = existing.map((n) => n.data.name);
  const renamed = new Map<string, string>();
  const minX = Math.min(...clip.nodes.map((n) => n.position.x));
  const minY = Math.min(...clip.nodes.map((n) => n.position.y));
  const dx = at ? at.x - minX : 40;
  const dy = at ? at.y - minY : 40;
  const nodes = clip.nodes.map((n) => {
    const id = newNodeId(n.data.type, ids);
    ids.push(id);
    const name = uniqueName(n.data.name.replace(/ \d+$/, ""), names);
    names.push(name);
    renamed.set(n.id, id);
    return { ...n, id, selected: true, position: { x: n.position.x + dx, y: n.position.y + dy }, data: { ...n.data, id, name } };
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

// ------------------------------------------------------------------ the system clipboard

const NODE_KEYS = ["id", "name", "type", "version", "parameters", "credentials", "position", "retry", "on_error", "at_most_once", "disabled", "timeout_s", "notes"] as const;
/** More than this many nodes in one paste is surely not what the user meant to copy. */
export const MAX_PASTED_NODES = 2000;

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/**
 * Read nodes from clipboard text: what the editor copies (a definition with the selected nodes),
 * a whole exported workflow (`{name, definition}`), a definition, a list of nodes or one node,
 * as JSON from anywhere. `known` says which node types this server has. Junk gives a message
 * that says what was expected.
 */
export function parseClipboardText(text: string, known: (type: string) => boolean): { clip: Clipboard } | { error: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { error: "Nothing to paste: the clipboard does not hold workflow JSON (copy nodes in the editor, or an exported workflow)." };
  }
  let definition: unknown = isObject(data) && isObject(data.definition) ? data.definition : data;
  if (Array.isArray(definition)) definition = { nodes: definition, edges: [] };
  else if (isObject(definition) && typeof definition.type === "string" && !("nodes" in definition)) definition = { nodes: [definition], edges: [] };
  if (!isObject(definition) || !Array.isArray(definition.nodes)) {
    return { error: "Nothing to paste: this JSON has no \"nodes\" list (copy nodes in the editor, or an exported workflow)." };
  }
  const raw = definition.nodes;
  if (!raw.length) return { error: "Nothing to paste: the workflow JSON has no nodes." };
  if (raw.length > MAX_PASTED_NODES) return { error: `Not pasted: ${raw.length} nodes is more than ${MAX_PASTED_NODES} at once.` };
  const specs: NodeSpec[] = [];
  const seen = new Set<string>();
  for (const [i, node] of raw.entries()) {
    const where = isObject(node) && typeof node.name === "string" ? `node "${node.name}"` : `node ${i + 1}`;
    if (!isObject(node)) return { error: `Not pasted: ${where} is not an object.` };
    for (const key of ["id", "name", "type"] as const) {
      if (typeof node[key] !== "string" || !(node[key] as string).trim()) return { error: `Not pasted: ${where} has no "${key}".` };
    }
    if (seen.has(node.id as string)) return { error: `Not pasted: two nodes have the id "${node.id as string}".` };
    seen.add(node.id as string);
    if (!known(node.type as string)) return { error: `Not pasted: ${where} is of type "${node.type as string}", which this server does not have.` };
    if (node.parameters !== undefined && !isObject(node.parameters)) return { error: `Not pasted: ${where} has parameters that are not an object.` };
    const position = node.position;
    const placed = Array.isArray(position) && position.length === 2 && position.every((v) => typeof v === "number" && Number.isFinite(v));
    const spec: Record<string, unknown> = {};
    for (const key of NODE_KEYS) if (node[key] !== undefined) spec[key] = node[key];
    if (!placed) delete spec.position;
    specs.push(spec as unknown as NodeSpec);
  }
  const edges = (Array.isArray(definition.edges) ? definition.edges : [])
    .filter((e): e is EdgeSpec => isObject(e) && typeof e.from === "string" && typeof e.to === "string" && seen.has(e.from) && seen.has(e.to));
  const canvas = toCanvas({ nodes: specs, edges });
  return { clip: canvas };
}

// ------------------------------------------------------------------ placing and connecting

/** The first output of `node` that no edge leaves yet, or null. */
export function freeOutput(node: CanvasNode, type: NodeType | undefined, edges: CanvasEdge[]): string | null {
  const used = new Set(edges.filter((e) => e.source === node.id).map((e) => e.sourceHandle ?? "main"));
  return outputsOf(node.data, type).find((o) => !used.has(o)) ?? null;
}

/** Where a node added after `anchor` goes: 240 px to its right, moved down past nodes already there. */
export function placeAfter(anchor: { x: number; y: number }, nodes: { position: { x: number; y: number } }[], dy = 0): { x: number; y: number } {
  const at = { x: anchor.x + 240, y: anchor.y + dy };
  while (nodes.some((n) => Math.abs(n.position.x - at.x) < 200 && Math.abs(n.position.y - at.y) < 70)) at.y += 100;
  return at;
}

/** Every node whose output can reach `nodeId` (its ancestors), without it. */
export function ancestorsOf(nodeId: string, edges: { source: string; target: string }[]): Set<string> {
  const found = new Set<string>();
  const stack = [nodeId];
  while (stack.length) {
    const id = stack.pop()!;
    for (const e of edges) {
      if (e.target === id && !found.has(e.source) && e.source !== nodeId) {
        found.add(e.source);
        stack.push(e.source);
      }
    }
  }
  return found;
}

/** The part of a definition that runs before `nodeId`: its ancestors and the edges between them. */
export function definitionBefore(definition: Definition, nodeId: string): Definition {
  const keep = ancestorsOf(nodeId, definition.edges.map((e) => ({ source: e.from, target: e.to })));
  const part: Definition = {
    ...definition,
    nodes: definition.nodes.filter((n) => keep.has(n.id)),
    edges: definition.edges.filter((e) => keep.has(e.from) && keep.has(e.to)),
  };
  delete part.sticky_notes;
  // Pinned outputs of nodes left out would name nodes the definition no longer has.
  if (definition.pinned) part.pinned = Object.fromEntries(Object.entries(definition.pinned).filter(([id]) => keep.has(id)));
  return part;
}

/** Why `name` cannot be node `id`'s name, or null when it can (names are unique: expressions use them). */
export function nameProblem(name: string, id: string, nodes: CanvasNode[]): string | null {
  const trimmed = name.trim();
  if (!trimmed) return "A node needs a name.";
  if (trimmed.length > 128) return "A name has at most 128 characters.";
  if (nodes.some((n) => n.id !== id && n.data.name === trimmed)) return `Another node is already named "${trimmed}".`;
  return null;
}
