import { describe, expect, it } from "vitest";
import { completions, insideExpression, previewExpression, renderTemplate } from "./expressions";

const context = {
  json: { name: "Ada", n: 7, tags: ["a", "b"], address: { city: "Paris" }, price: 2.5, qty: 4 },
  items: [{ name: "Ada", n: 7 }, { name: "Bob", n: 2 }],
  nodes: { Start: [{ id: 1 }, { id: 2 }] },
  vars: { REGION: "eu" },
};

describe("renderTemplate", () => {
  it("gives native values for a whole expression", () => {
    expect(renderTemplate("{{ json.n * 2 }}", context)).toBe(14);
    expect(renderTemplate("  {{ json.n > 5 }}  ", context)).toBe(true);
    expect(renderTemplate("{{ json.tags }}", context)).toEqual(["a", "b"]);
    expect(renderTemplate("{{ json.price * json.qty }}", context)).toBe(10);
  });

  it("gives text for mixed templates, like the server", () => {
    expect(renderTemplate("Hello {{ json.name }}!", context)).toBe("Hello Ada!");
    expect(renderTemplate("{{ json.n }} and {{ json.tags }}", context)).toBe('7 and ["a","b"]');
    expect(renderTemplate("ok={{ json.n > 1 }}", context)).toBe("ok=true");
  });

  it("treats missing keys as empty, chainable and defaultable", () => {
    expect(renderTemplate("{{ json.nickname }}", context)).toBeNull();
    expect(renderTemplate("[{{ json.nickname }}]", context)).toBe("[]");
    expect(renderTemplate("{{ json.a.b.c }}", context)).toBeNull();
    expect(renderTemplate('{{ json.nickname | default("x") }}', context)).toBe("x");
    expect(renderTemplate("{{ json.nickname is defined }}", context)).toBe(false);
  });

  it("reads items, nodes, vars, indexes and nested fields", () => {
    expect(renderTemplate("{{ items | length }}", context)).toBe(2);
    expect(renderTemplate('{{ nodes["Start"][1].id }}', context)).toBe(2);
    expect(renderTemplate('{{ nodes["Start"].first.id }}', context)).toBe(1);
    expect(renderTemplate("{{ vars.REGION | upper }}", context)).toBe("EU");
    expect(renderTemplate("{{ json.address.city ~ '/' ~ json.tags[0] }}", context)).toBe("Paris/a");
  });

  it("supports filters, tests, methods, conditionals and literals", () => {
    expect(renderTemplate("{{ json.tags | join(', ') }}", context)).toBe("a, b");
    expect(renderTemplate("{{ 3.14159 | round(2) }}", context)).toBe(3.14);
    expect(renderTemplate("{{ 'big' if json.n > 5 else 'small' }}", context)).toBe("big");
    expect(renderTemplate("{{ json.name.lower() }}", context)).toBe("ada");
    expect(renderTemplate("{{ 'a' in json.tags and not false }}", context)).toBe(true);
    expect(renderTemplate("{{ {'k': [1, 2]} }}", context)).toEqual({ k: [1, 2] });
    expect(renderTemplate("{{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 3 }}", context)).toBe("3 1 8");
  });

  it("leaves plain strings alone", () => {
    expect(renderTemplate("no expression", context)).toBe("no expression");
  });
});

describe("previewExpression", () => {
  it("reports errors instead of throwing", () => {
    expect(previewExpression("{{ jsn.x }}", context)).toEqual({ ok: false, error: "'jsn' is undefined" });
    expect(previewExpression("{{ json.nickname + 1 }}", context)).toMatchObject({ ok: false });
    expect(previewExpression("{{ json.n +", context)).toMatchObject({ ok: false });
    expect(previewExpression("{% for x in items %}{% endfor %}", context)).toMatchObject({ ok: false });
  });

  it("gives the text to show", () => {
    expect(previewExpression("{{ json.n * 2 }}", context)).toEqual({ ok: true, value: 14, text: "14" });
    expect(previewExpression("{{ json.address }}", context)).toMatchObject({ text: '{"city":"Paris"}' });
  });
});

describe("the server's names and missing fields", () => {
  const reference = {
    names: ["json", "index", "items", "nodes", "vars", "execution", "workflow", "now"].map((name) => ({ name, description: `${name} help` })),
    filters: ["default", "length", "upper"],
    tests: ["defined", "none"],
    functions: ["range"],
  };
  const served = { ...context, reference, vars: { LIMIT: 10 }, json: { body: { total: 50 } } };

  it("previews vars from the context, as runs see them", () => {
    expect(renderTemplate("{{ json.body.total > vars.LIMIT }}", served)).toBe(true);
  });

  it("offers exactly the server's names", () => {
    for (const { name } of reference.names) expect(renderTemplate(`{{ ${name} is defined }}`, served)).toBe(true);
    const fewer = { ...served, reference: { ...reference, names: reference.names.filter((n) => n.name !== "now") } };
    expect(previewExpression("{{ now }}", fewer)).toEqual({ ok: false, error: "'now' is undefined" });
    const more = { ...served, reference: { ...reference, names: [...reference.names, { name: "secrets", description: "" }] } };
    expect(previewExpression("{{ secrets }}", more)).toMatchObject({ ok: false, error: expect.stringContaining("not previewed") });
  });

  it("compares a missing field or null as false, like the server", () => {
    expect(renderTemplate("{{ json.nope > 5 }}", served)).toBe(false);
    expect(renderTemplate("{{ 5 < json.nope }}", served)).toBe(false);
    expect(renderTemplate("{{ json.body.none_here <= 5 }}", served)).toBe(false);
    expect(renderTemplate("{{ none >= 1 }}", served)).toBe(false);
    expect(previewExpression("{{ json.nope + 1 }}", served).ok).toBe(false);
  });
});

describe("completions", () => {
  const reference = { names: [{ name: "json", description: "This item" }, { name: "vars", description: "Variables" }, { name: "nodes", description: "Earlier nodes" }], filters: ["default", "upper"], tests: ["defined"], functions: ["range"] };
  const ctx = { reference, json: { body: { total: 5, name: "x" } }, vars: { LIMIT: 10 }, nodes: { "Get order": [{ id: 1 }] } };
  const labels = (before: string) => completions(before, ctx).map((c) => c.label);

  it("offers names, fields after a dot, node names, filters and tests", () => {
    expect(insideExpression("{{ json.a }} {{ js")).toBe(true);
    expect(completions("no braces json.", ctx)).toEqual([]);
    expect(labels("{{ ")).toEqual(["json", "vars", "nodes", "range"]);
    expect(labels("{{ v")).toEqual(["vars"]);
    expect(labels("{{ json.")).toEqual(["body"]);
    expect(labels("{{ json.body.t")).toEqual(["total"]);
    expect(labels("{{ vars.")).toEqual(["LIMIT"]);
    expect(completions('{{ nodes["G', ctx)).toEqual([{ label: "Get order", insert: 'Get order"]', replace: 1, detail: undefined }]);
    expect(labels('{{ nodes["Get order"].')).toEqual(["first", "last", "json", "outputs"]);
    expect(labels("{{ json.body.name | u")).toEqual(["upper"]);
    expect(labels("{{ json.x is ")).toEqual(["defined"]);
  });

  it("says how much of the typed word a completion replaces", () => {
    expect(completions("{{ json.body.to", ctx)).toEqual([{ label: "total", insert: "total", replace: 2, detail: "number" }]);
  });
});
