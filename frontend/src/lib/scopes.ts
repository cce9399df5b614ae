// API key scopes as the server defines them (GET /api/v1/api-keys/scopes is the source):
// grouped by area for the key form, and summarized for the key list.

export interface ScopeInfo {
  scope: string;
  description: string;
}

export interface ScopeArea {
  area: string;
  read?: ScopeInfo;
  write?: ScopeInfo;
}

/** `workflows:read`, `workflows:write`, … → one row per area, in the server's order. */
export function scopeAreas(scopes: ScopeInfo[]): ScopeArea[] {
  const areas = new Map<string, ScopeArea>();
  for (const info of scopes) {
    const [area, access] = info.scope.split(":");
    const row = areas.get(area) ?? { area };
    if (access === "read") row.read = info;
    else if (access === "write") row.write = info;
    areas.set(area, row);
  }
  return [...areas.values()];
}

/** Short text for a key's scopes: "all", "read only (all areas)", or the list. */
export function summarizeScopes(held: string[], all: string[]): string {
  const have = new Set(held);
  if (all.length > 0 && all.every((s) => have.has(s))) return "all";
  const reads = all.filter((s) => s.endsWith(":read"));
  if (reads.length > 0 && held.length === reads.length && reads.every((s) => have.has(s))) return "read only (all areas)";
  return held.join(", ");
}
