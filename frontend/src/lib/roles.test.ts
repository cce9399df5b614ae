import { describe, expect, it } from "vitest";
import { assignableRoles, canManage, memberActions } from "./roles";

describe("roles", () => {
  it("lets admins and owners manage, and only owners give owner", () => {
    expect([canManage("owner"), canManage("admin"), canManage("member"), canManage("viewer"), canManage(undefined)]).toEqual([true, true, false, false, false]);
    expect(assignableRoles("owner")).toEqual(["owner", "admin", "member", "viewer"]);
    expect(assignableRoles("admin")).toEqual(["admin", "member", "viewer"]);
    expect(assignableRoles("member")).toEqual([]);
  });

  it("gives each row the actions its viewer may take", () => {
    // An owner changes and removes anyone, and may change their own role (the API refuses the last owner).
    expect(memberActions("owner", "owner", false)).toEqual({ roles: ["owner", "admin", "member", "viewer"], remove: true, leave: false });
    expect(memberActions("owner", "owner", true)).toEqual({ roles: ["owner", "admin", "member", "viewer"], remove: false, leave: true });
    // An admin does not touch owners, and does not offer owner to others.
    expect(memberActions("admin", "owner", false)).toEqual({ roles: [], remove: false, leave: false });
    expect(memberActions("admin", "viewer", false)).toEqual({ roles: ["admin", "member", "viewer"], remove: true, leave: false });
    // Members and viewers only read, and may leave.
    expect(memberActions("member", "viewer", false)).toEqual({ roles: [], remove: false, leave: false });
    expect(memberActions("viewer", "viewer", true)).toEqual({ roles: [], remove: false, leave: true });
  });
});
