// What the editor shows from an execution: each node's latest run, the items on edges, and the
// data an expression preview of a node evaluates against.
import type { ExecutionDetail, Item, NodeOutputs, NodeRun } from "../api/types";
import type { PreviewContext } from "./expressions";

export interface EdgeEnds {
  source: string;
  sourceHandle?: string | null;
  target: string;
}

/** The newest, not superseded run of each node, by node id. */
export function latestRuns(execution: ExecutionDetail | null): Map<string, NodeRun> {
  const runs = new Map<string, NodeRun>();
  for (const run of execution?.nodes ?? []) if (!run.superseded) runs.set(run.node_id, run);
  return runs;
}

/** The items of a node's primary output (`main`, else its first), as `nodes["Name"]` gives them. */
export function primaryItems(outputs: NodeOutputs | null | undefined): Item[] {
  if (!outputs) return [];
  if (outputs.main) return outputs.main;
  const first = Object.keys(outputs).find((k) => !k.startsWith("$"));
  return first ? outputs[first] : [];
}

/** How many items went along an edge in the run, or undefined. */
export function edgeItemCount(runs: Map<string, NodeRun>, edge: EdgeEnds): number | undefined {
  return runs.get(edge.source)?.output_data?.[edge.sourceHandle ?? "main"]?.length;
}

/**
 * The data a node's expressions preview against: its own input in the run, or (when it did not
 * run) what its upstream nodes sent it, or the execution's input for a trigger.
 */
export function previewContextFor(
  nodeId: string,
  execution: ExecutionDetail | null,
  runs: Map<string, NodeRun>,
  edges: EdgeEnds[],
  isTrigger: boolean,
  workflow: { id?: string; name?: string } = {},
): PreviewContext | null {
  if (!execution) return null;
  const run = runs.get(nodeId);
  let items: Item[] = [];
  if (run?.input_data) items = primaryItems(run.input_data);
  else {
    for (const e of edges.filter((x) => x.target === nodeId)) {
      items = [...items, ...(runs.get(e.source)?.output_data?.[e.sourceHandle ?? "main"] ?? [])];
    }
    if (!items.length && isTrigger) items = execution.input_items;
  }
  const nodes: Record<string, Item[]> = {};
  for (const r of runs.values()) nodes[r.node_name] = primaryItems(r.output_data);
  return { items, json: items[0] ?? {}, index: 0, nodes, execution: { id: execution.id }, workflow };
}
