import { describe, expect, it } from "vitest";
import { renderTemplate } from "../lib/expressions";
import { fieldExpression } from "./InputFields";

describe("fieldExpression", () => {
  it("uses dots for plain names and brackets for the rest, and both preview", () => {
    expect(fieldExpression("name")).toBe("{{ json.name }}");
    expect(fieldExpression("first name")).toBe('{{ json["first name"] }}');
    expect(renderTemplate(fieldExpression("first name"), { json: { "first name": "Ada" } })).toBe("Ada");
  });
});
