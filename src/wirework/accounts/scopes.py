"""What an API key may do: its scopes, and the scope each route needs.

A scope is `<area>:read` or `<area>:write`. A route under `/api/v1/<collection>` needs the
read scope of the collection's area for GET and HEAD, and its write scope for anything else;
`ROUTE_SCOPES` names the few routes that differ from that rule. Scopes narrow what a key can
do, never widen it: the key still acts as its user, with that user's role in the organization.
Sessions (web logins) are not limited by scopes. A route no rule covers is refused to every
key, so a new route cannot be opened to keys by accident (tests/accounts/test_scopes.py walks
every route).
"""

from __future__ import annotations

from typing import Final

AREAS: Final = {
    "workflows": "workflows, their versions, webhooks, schedules, templates and node types",
    "executions": "executions; write runs workflows, cancels, retries and deletes executions",
    "credentials": "credentials (names and field names; values are never returned)",
    "variables": "variables",
    "bots": "bots, their settings, memories, commands, conversations and messages; write also talks to bots",
    "kb": "knowledge bases, their documents and searches; write also adds, deletes and re-indexes documents",
    "ai": "AI models, token usage and AI-built workflow suggestions; write adds, changes, tests and "
    "deletes models and asks for suggestions",
    "org": "organizations, members and invitations",
    "account": "your profile, password and preferences",
    "api-keys": "your API keys (a key can only make keys with scopes it has itself)",
    "users": "every user of the instance (instance admins)",
    "metrics": "Prometheus metrics at /metrics (instance admins)",
}
READ_ONLY_AREAS: Final = {"metrics"}

ALL_SCOPES: Final = tuple(
    f"{area}:{access}"
    for area in AREAS
    for access in (("read",) if area in READ_ONLY_AREAS else ("read", "write"))
)

# The area each API collection (the path segment after /api/v1/) belongs to.
COLLECTION_AREAS: Final = {
    "workflows": "workflows",
    "node-types": "workflows",
    "expressions": "workflows",
    "templates": "workflows",
    "webhooks": "workflows",
    "schedules": "workflows",
    "executions": "executions",
    "credentials": "credentials",
    "variables": "variables",
    "orgs": "org",
    "invitations": "org",
    "auth": "account",
    "api-keys": "api-keys",
    "users": "users",
    "bots": "bots",
    "sessions": "bots",
    "messages": "bots",
    "kb": "kb",
    "ai": "ai",
}

# Routes whose scope is not their collection's read/write.
ROUTE_SCOPES: Final = {
    ("POST", "/api/v1/workflows/{workflow_id}/run"): "executions:write",
    ("POST", "/api/v1/schedules/preview"): "workflows:read",  # computes fire times, changes nothing
    ("GET", "/api/v1/users/me/preferences"): "account:read",
    ("PUT", "/api/v1/users/me/preferences"): "account:write",
    ("GET", "/metrics"): "metrics:read",
    ("POST", "/api/v1/kb/collections/{collection_id}/search"): "kb:read",  # finds, changes nothing
}

READ_METHODS: Final = frozenset({"GET", "HEAD"})


def required_scope(method: str, path: str) -> str | None:
    """The scope a key needs for the route `path` (its template, e.g. /api/v1/workflows/{id});
    None when no rule covers it (then no key may call it)."""
    method = method.upper()
    explicit = ROUTE_SCOPES.get(("GET" if method == "HEAD" else method, path))
    if explicit:
        return explicit
    parts = path.split("/")
    if len(parts) < 4 or parts[1:3] != ["api", "v1"]:
        return None
    area = COLLECTION_AREAS.get(parts[3])
    if area is None:
        return None
    return f"{area}:{'read' if method in READ_METHODS else 'write'}"


def unknown_scopes(scopes: list[str]) -> list[str]:
    return [s for s in scopes if s not in ALL_SCOPES]


def effective_scopes(stored: list[str]) -> list[str]:
    """What a stored key may do. A key made before scopes were checked has none stored and
    keeps acting fully as its user, as it did (new keys always name at least one scope)."""
    return list(ALL_SCOPES) if not stored else [s for s in stored if s in ALL_SCOPES]
