import { describe, expect, it } from "vitest";
import { scopeAreas, summarizeScopes } from "./scopes";

const SCOPES = ["workflows:read", "workflows:write", "metrics:read"].map((scope) => ({ scope, description: scope }));
const ALL = SCOPES.map((s) => s.scope);

describe("scopes", () => {
  it("groups read and write by area in the server's order", () => {
    expect(scopeAreas(SCOPES).map((a) => [a.area, a.read?.scope, a.write?.scope])).toEqual([
      ["workflows", "workflows:read", "workflows:write"],
      ["metrics", "metrics:read", undefined],
    ]);
  });

  it("summarizes all, read only, or lists them", () => {
    expect(summarizeScopes(ALL, ALL)).toBe("all");
    expect(summarizeScopes(["workflows:read", "metrics:read"], ALL)).toBe("read only (all areas)");
    expect(summarizeScopes(["workflows:write"], ALL)).toBe("workflows:write");
  });
});
