import { describe, expect, it } from "vitest";
import { ApiError, readableMessage, readCookie } from "./client";

describe("readCookie", () => {
  it("finds the CSRF cookie among others", () => {
    expect(readCookie("wirework_csrf", "a=1; wirework_csrf=abc%3D; b=2")).toBe("abc=");
    expect(readCookie("missing", "a=1")).toBeUndefined();
  });
});

describe("ApiError", () => {
  // The shapes of a 422 from request validation and from workflow validation.
  const request422 = new ApiError(422, "Unprocessable Content", "The request is invalid", [
    { loc: ["body", "email"], msg: "value is not a valid email address", type: "value_error" },
  ]);
  const workflow422 = new ApiError(422, "Unprocessable Content", "condition: Field required", [
    { loc: ["nodes", "i", "parameters", "condition"], msg: "condition: Field required", type: "parameter", node_id: "i", field: "parameters.condition" },
    { loc: ["nodes", "t", "edges[0]"], msg: "connection to unknown node 'zz'", type: "unknown_node", node_id: "t", field: "edges[0]" },
    { loc: ["settings", "timezone"], msg: "unknown time zone", type: "invalid", node_id: null, field: "settings.timezone" },
  ]);

  it("gives the message of a body field", () => {
    expect(request422.fieldMessage("email")).toBe("value is not a valid email address");
    expect(request422.fieldMessage("username")).toBeUndefined();
  });

  it("groups workflow errors by node", () => {
    expect(workflow422.nodeErrors()).toEqual({
      i: ["parameters.condition: condition: Field required"],
      t: ["edges[0]: connection to unknown node 'zz'"],
    });
  });
});

describe("readableMessage", () => {
  it("says a pattern in words", () => {
    expect(readableMessage("String should match pattern '^[A-Za-z0-9_.-]+$'")).toBe("use only letters, digits, '.', '_' or '-'");
    expect(readableMessage("String should match pattern '^x{3}$'")).toBe("this is not in the form expected here");
    expect(readableMessage("Field required")).toBe("Field required");
  });
});
