"""Small builders of workflow definitions for tests."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.support.accounts import Account


def node(node_id: str, type_: str, parameters: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "name": extra.pop("name", node_id),
        "type": type_,
        "parameters": parameters or {},
        **extra,
    }


def edge(source: str, target: str, output: str = "main", input_: str = "main") -> dict[str, Any]:
    return {"from": source, "output": output, "to": target, "input": input_}


def chain(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodes": list(nodes),
        "edges": [edge(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)],
        "settings": {},
    }


TRIGGER = node("trigger", "core.manual_trigger")


async def create(
    client: httpx.AsyncClient, who: Account, definition: dict[str, Any], name: str = "wf"
) -> str:
    response = await client.post(
        "/api/v1/workflows", json={"name": name, "definition": definition}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def run(
    client: httpx.AsyncClient,
    who: Account,
    workflow_id: str,
    items: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/workflows/{workflow_id}/run",
        json={"input": items or [], "wait_s": 20, **extra},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    detail = await client.get(f"/api/v1/executions/{response.json()['id']}", headers=who.headers)
    result: dict[str, Any] = detail.json()
    return result


def outputs(execution: dict[str, Any], node_id: str) -> dict[str, Any]:
    runs = [n for n in execution["nodes"] if n["node_id"] == node_id and n["status"] == "completed"]
    assert runs, f"{node_id} did not complete: {execution}"
    result: dict[str, Any] = runs[-1]["output_data"]
    return result
