"""The built-in workflow templates, loaded into `workflow_templates` at start."""

from __future__ import annotations

import itertools
from typing import Any


def _node(
    node_id: str, name: str, type_: str, x: int, parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"id": node_id, "name": name, "type": type_, "parameters": parameters or {}, "position": [x, 0]}


def _chain(*nodes: dict[str, Any]) -> dict[str, Any]:
    pairs = itertools.pairwise(nodes)
    edges = [{"from": a["id"], "output": "main", "to": b["id"], "input": "main"} for a, b in pairs]
    return {"nodes": list(nodes), "edges": edges, "settings": {}}


TRIGGER = _node("trigger", "Start", "core.manual_trigger", 0)


def _orders_by_size() -> dict[str, Any]:
    definition = _chain(
        TRIGGER, _node("if", "Big order?", "core.if", 250, {"condition": "{{ json.total >= 100 }}"})
    )
    definition["nodes"] += [
        _node("big", "Flag for review", "core.set", 500, {"fields": {"review": True}}),
        _node("small", "Auto-approve", "core.set", 500, {"fields": {"approved": True}}),
    ]
    definition["edges"] += [
        {"from": "if", "output": "true", "to": "big", "input": "main"},
        {"from": "if", "output": "false", "to": "small", "input": "main"},
    ]
    return definition


def _route_by_priority() -> dict[str, Any]:
    rules = [
        {"condition": "{{ json.priority == 'high' }}", "output": "urgent"},
        {"condition": "{{ json.priority == 'low' }}", "output": "later"},
    ]
    definition = _chain(
        TRIGGER, _node("switch", "Route", "core.switch", 250, {"rules": rules, "fallback": "normal"})
    )
    for index, output in enumerate(("urgent", "later", "normal")):
        node = _node(output, f"Tag {output}", "core.set", 500, {"fields": {"queue": output}})
        node["position"] = [500, index * 150]
        definition["nodes"].append(node)
        definition["edges"].append({"from": "switch", "output": output, "to": output, "input": "main"})
    return definition


TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "Route orders by size",
        "category": "Getting started",
        "description": "Sends orders of 100 or more to review and approves the rest (IF, Set).",
        "tags": ["orders", "if"],
        "is_featured": True,
        "definition": _orders_by_size(),
    },
    {
        "name": "Triage tickets by priority",
        "category": "Getting started",
        "description": "Routes tickets to urgent, later or normal queues with a Switch.",
        "tags": ["support", "switch"],
        "is_featured": True,
        "definition": _route_by_priority(),
    },
    {
        "name": "CSV to JSON",
        "category": "Data",
        "description": "Parses CSV text in `data` into one item per row, then builds a JSON document.",
        "tags": ["csv", "json"],
        "definition": _chain(
            TRIGGER,
            _node("parse", "Parse CSV", "data.parse", 250, {"format": "csv", "field": "data"}),
            _node("build", "Build JSON", "data.build", 500, {"format": "json", "field": "json", "indent": 2}),
        ),
    },
    {
        "name": "Top 10 by score",
        "category": "Data",
        "description": "Drops duplicates by email, sorts by score (highest first) and keeps ten.",
        "tags": ["sort", "dedupe"],
        "definition": _chain(
            TRIGGER,
            _node("dedupe", "Unique emails", "core.remove_duplicates", 250, {"fields": ["email"]}),
            _node("sort", "By score", "core.sort", 500, {"keys": [{"field": "score", "order": "desc"}]}),
            _node("limit", "Top 10", "core.limit", 750, {"max_items": 10}),
        ),
    },
    {
        "name": "Split order lines and total them",
        "category": "Data",
        "description": "Turns each order's `lines` into items, computes line totals and aggregates them.",
        "tags": ["split", "aggregate"],
        "definition": _chain(
            TRIGGER,
            _node("split", "One item per line", "core.split_out", 250, {"field": "lines"}),
            _node(
                "total",
                "Line total",
                "core.set",
                500,
                {"fields": {"total": "{{ json.lines.qty * json.lines.price }}"}},
            ),
            _node("sum", "Collect totals", "core.aggregate", 750, {"fields": ["total"]}),
        ),
    },
    {
        "name": "Fetch JSON from an API",
        "category": "Integrations",
        "description": "Calls an HTTP endpoint (set the URL) and keeps the fields you need.",
        "tags": ["http", "api"],
        "is_featured": True,
        "definition": _chain(
            TRIGGER,
            _node(
                "http",
                "GET request",
                "core.http_request",
                250,
                {"method": "GET", "url": "https://api.example.com/items"},
            ),
            _node(
                "keep",
                "Keep id and name",
                "core.set",
                500,
                {"fields": {"id": "{{ json.id }}", "name": "{{ json.name }}"}, "keep_only_set": True},
            ),
        ),
    },
    {
        "name": "Sign a payload",
        "category": "Security",
        "description": "Adds a timestamp and an HMAC-SHA256 signature of the item to send to a partner.",
        "tags": ["hmac", "webhook"],
        "definition": _chain(
            TRIGGER,
            _node("now", "Timestamp", "core.datetime", 250, {"operation": "now", "field": "sent_at"}),
            _node(
                "sign",
                "Sign",
                "core.crypto",
                500,
                {
                    "operation": "hmac",
                    "value": "{{ json }}",
                    "secret": "{{ vars.signing_secret }}",
                    "field": "signature",
                },
            ),
        ),
    },
    {
        "name": "Remind me later",
        "category": "Flow",
        "description": "Waits an hour (surviving restarts), then marks the item as due.",
        "tags": ["wait", "reminder"],
        "definition": _chain(
            TRIGGER,
            _node("wait", "Wait an hour", "core.wait", 250, {"seconds": 3600}),
            _node(
                "due", "Mark due", "core.set", 500, {"fields": {"due": True, "at": "{{ now.isoformat() }}"}}
            ),
        ),
    },
    {
        "name": "Process in batches",
        "category": "Flow",
        "description": "Loops over the items ten at a time, stamping each batch, then continues with all.",
        "tags": ["loop", "batch"],
        "definition": {
            "nodes": [
                TRIGGER,
                _node("loop", "Batches of 10", "core.loop", 250, {"batch_size": 10}),
                _node("stamp", "Stamp batch", "core.set", 500, {"fields": {"processed": True}}),
                _node("done", "All done", "core.noop", 750),
            ],
            "edges": [
                {"from": "trigger", "output": "main", "to": "loop", "input": "main"},
                {"from": "loop", "output": "loop", "to": "stamp", "input": "main"},
                {"from": "stamp", "output": "main", "to": "loop", "input": "main"},
                {"from": "loop", "output": "done", "to": "done", "input": "main"},
            ],
            "settings": {},
        },
    },
]
