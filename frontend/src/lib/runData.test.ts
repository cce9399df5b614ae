import { describe, expect, it } from "vitest";
import type { ExecutionDetail, NodeRun } from "../api/types";
import { renderTemplate } from "./expressions";
import { edgeItemCount, latestRuns, previewContextFor, primaryItems } from "./runData";

function run(node_id: string, node_name: string, input: NodeRun["input_data"], output: NodeRun["output_data"], extra: Partial<NodeRun> = {}): NodeRun {
  return {
    id: `${node_id}-${extra.attempt ?? 1}`, node_id, node_name, attempt: 1, status: "completed", started_at: "", finished_at: "",
    input_data: input, output_data: output, item_count: 0, error: null, superseded: false, ...extra,
  };
}

const EXECUTION: ExecutionDetail = {
  id: "x1", workflow_id: "w", version_id: "v", status: "completed", trigger_type: "manual", triggered_by: null,
  created_at: "", started_at: "", finished_at: "", error: null, error_node: null, resume_at: null, retry_of: null,
  input_items: [{ name: "Ada", n: 7 }, { name: "Bob", n: 2 }],
  nodes: [
    run("t", "Start", null, { main: [{ name: "Ada", n: 7 }, { name: "Bob", n: 2 }] }),
    run("i", "Check", { main: [{ name: "Ada", n: 7 }] }, { true: [{ name: "Old" }] }, { superseded: true }),
    run("i", "Check", { main: [{ name: "Ada", n: 7 }, { name: "Bob", n: 2 }] }, { true: [{ name: "Ada", n: 7 }], false: [{ name: "Bob", n: 2 }] }),
  ],
};
const EDGES = [
  { source: "t", sourceHandle: "main", target: "i" },
  { source: "i", sourceHandle: "false", target: "small" },
];

describe("run data", () => {
  const runs = latestRuns(EXECUTION);

  it("keeps each node's newest run that is not superseded", () => {
    expect(runs.get("i")!.output_data!.true).toEqual([{ name: "Ada", n: 7 }]);
  });

  it("counts the items on each edge and finds primary outputs", () => {
    expect(edgeItemCount(runs, EDGES[1])).toBe(1);
    expect(edgeItemCount(runs, { source: "nope", target: "x" })).toBeUndefined();
    expect(primaryItems({ true: [{ a: 1 }], false: [] })).toEqual([{ a: 1 }]);
  });

  it("previews a node that ran against its own input", () => {
    const ctx = previewContextFor("i", EXECUTION, runs, EDGES, false)!;
    expect(renderTemplate("{{ json.name }} of {{ items | length }}", ctx)).toBe("Ada of 2");
    expect(renderTemplate('{{ nodes["Check"].first.name }}', ctx)).toBe("Ada");
  });

  it("previews a node that did not run against what its upstream sent it", () => {
    const ctx = previewContextFor("small", EXECUTION, runs, EDGES, false)!;
    expect(renderTemplate("{{ json.name }} is small", ctx)).toBe("Bob is small");
  });

  it("has nothing to preview against without a run", () => {
    expect(previewContextFor("i", null, new Map(), EDGES, false)).toBeNull();
  });
});
