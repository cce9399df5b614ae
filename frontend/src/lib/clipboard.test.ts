import { describe, expect, it } from "vitest";
import type { Definition, NodeType } from "../api/types";
import {
  ancestorsOf, copySelection, definitionBefore, freeOutput, nameProblem, parseClipboardText, pasteClipboard, placeAfter,
  toCanvas, toDefinition, toStickies,
} from "./graph";

const KNOWN = new Set(["core.manual_trigger", "core.if", "core.set"]);
const known = (t: string) => KNOWN.has(t);
const DEFINITION: Definition = {
  nodes: [
    { id: "t", name: "Start", type: "core.manual_trigger", position: [0, 0] },
    { id: "i", name: "IF", type: "core.if", position: [250, 0] },
    { id: "s", name: "Set", type: "core.set", position: [500, 0] },
  ],
  edges: [{ from: "t", output: "main", to: "i", input: "main" }, { from: "i", output: "true", to: "s", input: "main" }],
};

function type(partial: Partial<NodeType>): NodeType {
  return {
    type: "x", version: 1, display_name: "X", description: "", category: "Core", icon: "", inputs: ["main"], outputs: ["main"],
    dynamic_outputs: false, loop_output: null, is_trigger: false, parameters_schema: {}, credential_slots: [], ...partial,
  };
}

describe("reading nodes from the system clipboard", () => {
  it("reads what the editor copies", () => {
    const { nodes, edges } = toCanvas(DEFINITION);
    const text = JSON.stringify(toDefinition(...Object.values(copySelection(nodes.map((n) => ({ ...n, selected: true })), edges)) as [never, never]));
    const read = parseClipboardText(text, known);
    expect("clip" in read && read.clip.nodes.map((n) => n.data.name)).toEqual(["Start", "IF", "Set"]);
    expect("clip" in read && read.clip.edges).toHaveLength(2);
  });

  it("reads a whole exported workflow, a list of nodes and one node", () => {
    const exported = parseClipboardText(JSON.stringify({ name: "W", tags: [], definition: DEFINITION }), known);
    expect("clip" in exported && exported.clip.nodes).toHaveLength(3);
    const list = parseClipboardText(JSON.stringify(DEFINITION.nodes), known);
    expect("clip" in list && list.clip.nodes).toHaveLength(3);
    const one = parseClipboardText(JSON.stringify({ id: "x", name: "Only", type: "core.set", parameters: { fields: {} } }), known);
    expect("clip" in one && one.clip.nodes[0].data).toEqual({ id: "x", name: "Only", type: "core.set", parameters: { fields: {} } });
  });

  it("keeps only node fields, lays out nodes without positions, and drops edges to missing nodes", () => {
    const read = parseClipboardText(JSON.stringify({
      nodes: [{ id: "a", name: "A", type: "core.set", evil: "<script>" }, { id: "b", name: "B", type: "core.set" }],
      edges: [{ from: "a", to: "b" }, { from: "a", to: "gone" }],
    }), known);
    if (!("clip" in read)) throw new Error(read.error);
    expect(read.clip.nodes[0].data).toEqual({ id: "a", name: "A", type: "core.set" });
    expect(read.clip.nodes[1].position).toEqual({ x: 260, y: 0 });
    expect(read.clip.edges).toHaveLength(1);
  });

  it("says what is wrong with junk", () => {
    const error = (text: string) => {
      const r = parseClipboardText(text, known);
      return "error" in r ? r.error : null;
    };
    expect(error("hello")).toMatch(/not hold workflow JSON/);
    expect(error('{"a": 1}')).toMatch(/no "nodes" list/);
    expect(error('{"nodes": []}')).toMatch(/no nodes/);
    expect(error('{"nodes": [{"id": "a", "type": "core.set"}]}')).toMatch(/has no "name"/);
    expect(error('{"nodes": [{"id": "a", "name": "A", "type": "evil.node"}]}')).toMatch(/"evil.node", which this server does not have/);
    expect(error('{"nodes": [{"id": "a", "name": "A", "type": "core.set"}, {"id": "a", "name": "B", "type": "core.set"}]}')).toMatch(/two nodes have the id "a"/);
    expect(error('{"nodes": [{"id": "a", "name": "A", "type": "core.set", "parameters": [1]}]}')).toMatch(/parameters that are not an object/);
  });

  it("moves nodes from elsewhere to where the user looks", () => {
    const { nodes } = toCanvas(DEFINITION);
    const pasted = pasteClipboard({ nodes, edges: [] }, [], { x: 1000, y: 500 });
    expect(pasted.nodes.map((n) => n.position)).toEqual([{ x: 1000, y: 500 }, { x: 1250, y: 500 }, { x: 1500, y: 500 }]);
  });
});

describe("adding after the selection", () => {
  const { nodes, edges } = toCanvas(DEFINITION);
  const ifType = type({ outputs: ["true", "false"] });
  it("finds the first output nothing leaves yet", () => {
    expect(freeOutput(nodes[1], ifType, edges)).toBe("false");
    expect(freeOutput(nodes[2], type({}), edges)).toBe("main");
    expect(freeOutput(nodes[0], type({}), edges)).toBeNull();
  });

  it("places a node to the right, below nodes already there", () => {
    expect(placeAfter({ x: 0, y: 0 }, nodes)).toEqual({ x: 240, y: 100 });
    expect(placeAfter({ x: 500, y: 0 }, nodes)).toEqual({ x: 740, y: 0 });
  });
});

describe("execute previous nodes", () => {
  it("keeps only the nodes that lead to the open one", () => {
    expect([...ancestorsOf("s", DEFINITION.edges.map((e) => ({ source: e.from, target: e.to })))].sort()).toEqual(["i", "t"]);
    const part = definitionBefore({ ...DEFINITION, pinned: { s: { main: [] }, t: { main: [{ a: 1 }] } } }, "s");
    expect(part.nodes.map((n) => n.id)).toEqual(["t", "i"]);
    expect(part.edges).toHaveLength(1);
    expect(part.pinned).toEqual({ t: { main: [{ a: 1 }] } });
  });
});

describe("names and notes", () => {
  it("refuses a name another node has, or none", () => {
    const { nodes } = toCanvas(DEFINITION);
    expect(nameProblem("IF", "s", nodes)).toMatch(/already named "IF"/);
    expect(nameProblem("  ", "s", nodes)).toMatch(/needs a name/);
    expect(nameProblem("IF", "i", nodes)).toBeNull();
    expect(nameProblem("Check", "s", nodes)).toBeNull();
  });

  it("round-trips sticky notes through the definition", () => {
    const notes = [{ id: "n1", text: "hi", position: [5, 6] as [number, number], width: 300, height: 120, color: "blue" as const }];
    const stickies = toStickies({ ...DEFINITION, sticky_notes: notes });
    expect(toDefinition([], [], undefined, stickies).sticky_notes).toEqual(notes);
    expect(toDefinition([], []).sticky_notes).toBeUndefined();
  });
});
