// What a role in an organization may do to members and invitations (the API's rules, for the UI).
import type { OrgRole } from "../api/types";

export const ROLES: OrgRole[] = ["owner", "admin", "member", "viewer"];

const RANK: Record<OrgRole, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };

export function atLeast(role: OrgRole | undefined, min: OrgRole): boolean {
  return role !== undefined && RANK[role] >= RANK[min];
}

/** Admins and owners manage members and invitations. */
export function canManage(actor: OrgRole | undefined): boolean {
  return atLeast(actor, "admin");
}

/** The roles `actor` may give (to a member or an invitation): only owners give owner. */
export function assignableRoles(actor: OrgRole | undefined): OrgRole[] {
  if (!canManage(actor)) return [];
  return actor === "owner" ? ROLES : ROLES.filter((r) => r !== "owner");
}

/** Whether `actor` may change the role of a member who is `target`: only owners touch owners. */
export function canChangeRole(actor: OrgRole | undefined, target: OrgRole): boolean {
  return canManage(actor) && (target !== "owner" || actor === "owner");
}

/** Whether `actor` may remove another member who is `target` (anyone may leave; see isSelf). */
export function canRemove(actor: OrgRole | undefined, target: OrgRole): boolean {
  return canChangeRole(actor, target);
}

export interface MemberActions {
  /** The roles offered in the row's select; empty: the role is shown read-only. */
  roles: OrgRole[];
  remove: boolean;
  leave: boolean;
}

/** The actions on one member's row, for a viewer whose role is `actor`. */
export function memberActions(actor: OrgRole | undefined, target: OrgRole, isSelf: boolean): MemberActions {
  return {
    roles: canChangeRole(actor, target) ? assignableRoles(actor) : [],
    remove: !isSelf && canRemove(actor, target),
    leave: isSelf,
  };
}

