"""Small builders of workflow definitions for tests."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx

from tests.support.accounts import Account
from wirework.accounts import service as accounts
from wirework.db.engine import Database
from wirework.engine.nodes import NodeRegistry
from wirework.workflows import service


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


async def pending_executions(
    db: Database, definition: dict[str, Any], registry: NodeRegistry, count: int = 1
) -> list[uuid.UUID]:
    """`count` accepted (pending) executions of a new workflow of a new user and organization."""
    async with db.session() as session:
        user = await accounts.create_user(session, email="e@example.com", username="exec", password="pw")
        org = await accounts.create_organization(session, name="exec", owner=user)
        workflow = await service.create_workflow(
            session, org_id=org.id, user_id=user.id, name="exec", definition=definition, registry=registry
        )
        ids = []
        for n in range(count):
            execution = await service.start_run(
                session, workflow, version=None, input_items=[{"n": n}], pinned=None, start=None, user_id=None
            )
            ids.append(execution.id)
        await session.commit()
    return ids
