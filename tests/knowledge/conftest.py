"""Fixtures of the knowledge-base tests: an account, collections and documents through the real
API, with the app's own ingestion loop indexing them (the local embedding model, loaded once
per test process)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.accounts import Account, signup
from wirework.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Documents fetched by URL come from local test servers (127.0.0.1), allowed as other tests do.
    return Settings(
        env="test", data_dir=tmp_path, secret_key="test-secret-key-" + "x" * 32, http_allow_hosts="127.0.0.1"
    )


@pytest.fixture(scope="session", autouse=True)
def _local_model() -> None:
    """Load the local embedding model once per test process, before the first test times out on it."""
    from wirework.ai import local_embedding

    local_embedding.model()


@pytest.fixture
async def ann(client: httpx.AsyncClient) -> Account:
    return await signup(client, "ann")


async def make_collection(client: httpx.AsyncClient, who: Account, name: str = "Docs", **fields: Any) -> str:
    response = await client.post("/api/v1/kb/collections", json={"name": name, **fields}, headers=who.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def add_text(
    client: httpx.AsyncClient, who: Account, collection_id: str, name: str, text: str, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/kb/collections/{collection_id}/documents",
        json={"name": name, "text": text, **extra},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def upload(
    client: httpx.AsyncClient, who: Account, collection_id: str, filename: str, data: bytes, **form: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/kb/collections/{collection_id}/documents",
        files={"file": (filename, data)},
        data=form,
        headers=who.headers,
    )


async def settled(
    client: httpx.AsyncClient, who: Account, collection_id: str, timeout_s: float = 60
) -> dict[str, dict[str, Any]]:
    """Wait until no document of the collection is pending or processing: documents by name."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = await client.get(
            f"/api/v1/kb/collections/{collection_id}/documents?limit=200", headers=who.headers
        )
        assert response.status_code == 200, response.text
        documents = {d["name"]: d for d in response.json()["items"]}
        if all(d["status"] in ("indexed", "failed") for d in documents.values()):
            return documents
        assert time.monotonic() < deadline, f"still ingesting after {timeout_s} s: {documents}"
        await asyncio.sleep(0.05)


async def find(
    client: httpx.AsyncClient, who: Account, collection_id: str, query: str, **body: Any
) -> list[dict[str, Any]]:
    response = await client.post(
        f"/api/v1/kb/collections/{collection_id}/search", json={"query": query, **body}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["hits"]
    return hits
