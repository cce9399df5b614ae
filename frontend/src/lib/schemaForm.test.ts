import { describe, expect, it } from "vitest";
import type { JsonSchema } from "../api/types";
import { coerceInput, describeSchema, initialParameters, labelFor, setParameter } from "./schemaForm";

// Shapes taken from the real GET /api/v1/node-types answer.
const IF: JsonSchema = {
  additionalProperties: false,
  properties: { condition: { description: "Evaluated for each item", title: "Condition", type: "boolean", "x-condition": true } },
  required: ["condition"],
  type: "object",
  "x-expressions": true,
};
const SET: JsonSchema = {
  properties: {
    fields: { additionalProperties: true, title: "Fields", type: "object" },
    keep_only_set: { default: false, title: "Keep Only Set", type: "boolean" },
  },
  type: "object",
  "x-expressions": true,
};
const SWITCH: JsonSchema = {
  $defs: {
    SwitchRule: {
      properties: { condition: { title: "Condition", type: "boolean", "x-condition": true }, output: { title: "Output", type: "string", "x-static": true } },
      required: ["condition", "output"],
      type: "object",
    },
  },
  properties: {
    rules: { items: { $ref: "#/$defs/SwitchRule" }, minItems: 1, title: "Rules", type: "array" },
    fallback: { anyOf: [{ type: "string", "x-static": true }, { type: "null" }], default: null, title: "Fallback" },
  },
  required: ["rules"],
  type: "object",
  "x-expressions": true,
};
const HTTP: JsonSchema = {
  properties: {
    method: { default: "GET", enum: ["GET", "POST"], title: "Method", type: "string" },
    url: { minLength: 1, title: "Url", type: "string" },
    timeout_s: { default: 30, exclusiveMinimum: 0, maximum: 3600, title: "Timeout S", type: "number" },
    max_retries: { default: 2, maximum: 10, minimum: 0, type: "integer" },
    content_type: { anyOf: [{ type: "string" }, { type: "null" }], default: null },
    body: { default: null, title: "Body" },
  },
  required: ["url"],
  type: "object",
  "x-expressions": true,
};
const CODE: JsonSchema = {
  properties: { code: { type: "string", "x-code-language": "python", "x-static": true }, mode: { enum: ["all_items", "each_item"], type: "string", default: "all_items" } },
  required: ["code"],
  type: "object",
  "x-expressions": true,
};

describe("describeSchema", () => {
  it("makes a condition field for x-condition booleans", () => {
    const [field] = describeSchema(IF);
    expect(field).toMatchObject({ key: "condition", kind: "condition", required: true, expressions: true, label: "Condition" });
  });

  it("makes a key/value editor for free-form objects, and switches for booleans", () => {
    const fields = describeSchema(SET);
    expect(fields.map((f) => [f.key, f.kind])).toEqual([["fields", "keyvalue"], ["keep_only_set", "boolean"]]);
    expect(fields[1].default).toBe(false);
  });

  it("resolves $ref lists into sub-forms and unwraps nullable anyOf", () => {
    const [rules, fallback] = describeSchema(SWITCH);
    expect(rules.kind).toBe("list");
    expect(rules.itemFields!.map((f) => [f.key, f.kind, f.expressions])).toEqual([["condition", "condition", true], ["output", "text", false]]);
    expect(fallback).toMatchObject({ kind: "text", nullable: true, expressions: false });
  });

  it("maps enums, numbers, integers, bounds and untyped values", () => {
    const byKey = Object.fromEntries(describeSchema(HTTP).map((f) => [f.key, f]));
    expect(byKey.method).toMatchObject({ kind: "select", options: ["GET", "POST"], default: "GET" });
    expect(byKey.url).toMatchObject({ kind: "text", required: true, label: "URL" });
    expect(byKey.timeout_s).toMatchObject({ kind: "number", maximum: 3600, label: "Timeout (s)" });
    expect(byKey.max_retries).toMatchObject({ kind: "integer", minimum: 0 });
    expect(byKey.content_type).toMatchObject({ kind: "text", nullable: true });
    expect(byKey.body.kind).toBe("json");
  });

  it("keeps code fields static and monospace", () => {
    const [code, mode] = describeSchema(CODE);
    expect(code).toMatchObject({ kind: "code", language: "python", expressions: false });
    expect(mode.kind).toBe("select");
  });

  it("offers no expressions when the schema does not allow them", () => {
    const [field] = describeSchema({ properties: { name: { type: "string" } } });
    expect(field.expressions).toBe(false);
  });
});

describe("helpers", () => {
  it("labels keys readably", () => {
    expect(labelFor("max_response_bytes")).toBe("Max response bytes");
    expect(labelFor("memory_mb")).toBe("Memory (MB)");
    expect(labelFor("items_field")).toBe("Items field");
  });

  it("starts new nodes with the empty values required fields need", () => {
    expect(initialParameters(SWITCH)).toEqual({ rules: [] });
    expect(initialParameters(IF)).toEqual({});
    expect(initialParameters(HTTP)).toEqual({});
  });

  it("coerces typed numbers but keeps expressions", () => {
    const [, , timeout] = describeSchema(HTTP);
    expect(coerceInput(timeout, "12.5")).toBe(12.5);
    expect(coerceInput(timeout, "{{ json.t }}")).toBe("{{ json.t }}");
    expect(coerceInput(timeout, "")).toBeUndefined();
  });

  it("drops unset parameters", () => {
    expect(setParameter({ a: 1, b: 2 }, "a", undefined)).toEqual({ b: 2 });
    expect(setParameter({ a: 1 }, "b", "x")).toEqual({ a: 1, b: "x" });
  });
});
