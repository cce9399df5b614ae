import { describe, expect, it } from "vitest";
import type { Definition, NodeType } from "../api/types";
import { copySelection, outputsOf, paletteGroups, pasteClipboard, toCanvas, toDefinition, uniqueName } from "./graph";

const DEFINITION: Definition = {
  nodes: [
    { id: "t", name: "Start", type: "core.manual_trigger", position: [0, 0] },
    { id: "i", name: "IF", type: "core.if", parameters: { condition: "{{ json.n > 5 }}" }, position: [250, 10] },
  ],
  edges: [{ from: "t", output: "main", to: "i", input: "main" }],
  settings: { timezone: "Europe/Berlin" },
};

function type(partial: Partial<NodeType>): NodeType {
  return {
    type: "x", version: 1, display_name: "X", description: "", category: "Core", icon: "", inputs: ["main"], outputs: ["main"],
    dynamic_outputs: false, loop_output: null, is_trigger: false, parameters_schema: {}, credential_slots: [], ...partial,
  };
}

describe("definition ↔ canvas", () => {
  it("round-trips nodes, positions, edges and settings", () => {
    const { nodes, edges } = toCanvas(DEFINITION);
    expect(nodes[1]).toMatchObject({ id: "i", position: { x: 250, y: 10 }, data: { name: "IF", parameters: { condition: "{{ json.n > 5 }}" } } });
    expect(edges[0]).toMatchObject({ source: "t", sourceHandle: "main", target: "i", targetHandle: "main" });
    expect(toDefinition(nodes, edges, DEFINITION.settings)).toEqual(DEFINITION);
  });

  it("fills in default edge ends", () => {
    const { edges } = toCanvas({ nodes: [], edges: [{ from: "a", to: "b" }] });
    expect(edges[0]).toMatchObject({ sourceHandle: "main", targetHandle: "main" });
  });
});

describe("layout of workflows made without positions", () => {
  it("puts nodes in columns by distance from the trigger", () => {
    const { nodes } = toCanvas({
      nodes: [{ id: "t", name: "T", type: "a" }, { id: "a", name: "A", type: "a" }, { id: "b", name: "B", type: "a" }, { id: "c", name: "C", type: "a" }],
      edges: [{ from: "t", to: "a" }, { from: "t", to: "b" }, { from: "a", to: "c" }],
    });
    expect(Object.fromEntries(nodes.map((n) => [n.id, n.position]))).toEqual({
      t: { x: 0, y: 0 }, a: { x: 260, y: 0 }, b: { x: 260, y: 140 }, c: { x: 520, y: 0 },
    });
  });

  it("keeps positions that were set", () => {
    expect(toCanvas(DEFINITION).nodes[1].position).toEqual({ x: 250, y: 10 });
  });
});

describe("outputsOf", () => {
  it("adds the Switch's rule outputs and the error output", () => {
    const sw = type({ outputs: [], dynamic_outputs: true });
    const data = { id: "s", name: "S", type: "core.switch", parameters: { rules: [{ output: "big" }, { output: "small" }], fallback: "other" } };
    expect(outputsOf(data, sw)).toEqual(["big", "small", "other"]);
    expect(outputsOf({ ...data, on_error: "error_output" }, type({ outputs: ["true", "false"] }))).toEqual(["true", "false", "error"]);
  });
});

describe("copy and paste", () => {
  it("pastes the selection with fresh ids and names, keeping inner edges", () => {
    const { nodes, edges } = toCanvas(DEFINITION);
    const selected = nodes.map((n) => ({ ...n, selected: true }));
    const pasted = pasteClipboard(copySelection(selected, edges), nodes);
    expect(pasted.nodes.map((n) => [n.id, n.data.name])).toEqual([["manual_trigger_1", "Start 1"], ["if_1", "IF 1"]]);
    expect(pasted.nodes[0].position).toEqual({ x: 40, y: 40 });
    expect(pasted.edges).toHaveLength(1);
    expect(pasted.edges[0]).toMatchObject({ source: "manual_trigger_1", target: "if_1" });
  });

  it("drops edges to nodes left behind", () => {
    const { nodes, edges } = toCanvas(DEFINITION);
    const clip = copySelection([{ ...nodes[0], selected: true }, nodes[1]], edges);
    expect(clip.edges).toHaveLength(0);
  });

  it("numbers names until one is free", () => {
    expect(uniqueName("Set fields", ["Set fields", "Set fields 1"])).toBe("Set fields 2");
  });
});

describe("paletteGroups", () => {
  it("groups by category in the server's order, and searches names and descriptions", () => {
    const types = [
      type({ type: "core.webhook", display_name: "Webhook", category: "Triggers", description: "HTTP" }),
      type({ type: "core.set", display_name: "Set fields", category: "Transform" }),
      type({ type: "core.manual_trigger", display_name: "Manual", category: "Triggers" }),
    ];
    expect(paletteGroups(types, "").map(([c, list]) => [c, list.map((t) => t.type)])).toEqual([
      ["Triggers", ["core.webhook", "core.manual_trigger"]],
      ["Transform", ["core.set"]],
    ]);
    expect(paletteGroups(types, "http").map(([, list]) => list.map((t) => t.type))).toEqual([["core.webhook"]]);
  });
});
