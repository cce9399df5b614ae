"""Another organization's knowledge bases, documents and conversation links are 404, never a
hint; viewers search but do not change; conversations search their bot's knowledge bases and
the ones linked to them; documents fetched by URL go through the SSRF guard."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.bots.conftest import make_bot, say
from tests.knowledge.conftest import add_text, find, make_collection, settled
from tests.support.accounts import Account, signup, signup_invited
from wirework.db.engine import Database
from wirework.knowledge import service
from wirework.settings import Settings


async def test_another_organization_sees_nothing(
    client: httpx.AsyncClient, ann: Account, settings: Settings, db: Database
) -> None:
    settings.open_signup = True  # eve signs up into an organization of her own
    collection = await make_collection(client, ann, name="Secrets")
    document = await add_text(client, ann, collection, "plan.txt", "The launch code is AZ-9911.")
    await settled(client, ann, collection)
    bot = await make_bot(client, ann)
    session_id = (await say(client, bot, "hello")).json()["session_id"]
    eve = await signup(client, "eve")
    h = eve.headers
    kb = f"/api/v1/kb/collections/{collection}"
    calls: list[tuple[str, str, Any]] = [
        ("GET", kb, None),
        ("PATCH", kb, {"name": "mine"}),
        ("DELETE", kb, None),
        ("GET", f"{kb}/documents", None),
        ("POST", f"{kb}/documents", {"name": "x", "text": "planted"}),
        ("POST", f"{kb}/search", {"query": "launch code"}),
        ("GET", f"/api/v1/kb/documents/{document['id']}", None),
        ("DELETE", f"/api/v1/kb/documents/{document['id']}", None),
        ("POST", f"/api/v1/kb/documents/{document['id']}/reindex", None),
        ("GET", f"/api/v1/kb/sessions/{session_id}", None),
        ("PUT", f"/api/v1/kb/sessions/{session_id}", {"collection_ids": []}),
    ]
    for method, url, body in calls:
        response = await client.request(method, url, json=body, headers=h)
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        assert "AZ-9911" not in response.text
    assert (await client.get("/api/v1/kb/collections", headers=h)).json()["items"] == []
    # Her own collection cannot search Ann's alongside, nor can she link Ann's to her conversation.
    own = await make_collection(client, eve, name="Mine")
    response = await client.post(
        f"/api/v1/kb/collections/{own}/search",
        json={"query": "launch", "collection_ids": [collection]},
        headers=h,
    )
    assert response.status_code == 404
    eve_bot = await make_bot(client, eve)
    eve_session = (await say(client, eve_bot, "hi")).json()["session_id"]
    response = await client.put(
        f"/api/v1/kb/sessions/{eve_session}", json={"collection_ids": [collection]}, headers=h
    )
    assert response.status_code == 422
    # Through the service too (as nodes and agents call it).
    with pytest.raises(Exception, match="not found"):
        await service.collection_ids(db, uuid.UUID(eve.org_id), ["Secrets"])
    # Ann's data is untouched.
    hits = await find(client, ann, collection, "AZ-9911", mode="text")
    assert [hit["document_name"] for hit in hits] == ["plan.txt"]


async def test_viewers_search_but_do_not_change(client: httpx.AsyncClient, ann: Account) -> None:
    collection = await make_collection(client, ann)
    await add_text(client, ann, collection, "a.txt", "Viewers may read the knowledge base.")
    await settled(client, ann, collection)
    viewer = await signup_invited(client, ann, "vic", role="viewer")
    assert await find(client, viewer, collection, "read", mode="text")
    for method, url, body in [
        ("POST", "/api/v1/kb/collections", {"name": "x"}),
        ("POST", f"/api/v1/kb/collections/{collection}/documents", {"name": "b.txt", "text": "no"}),
        ("DELETE", f"/api/v1/kb/collections/{collection}", None),
    ]:
        response = await client.request(method, url, json=body, headers=viewer.headers)
        assert response.status_code == 403, (method, url, response.text)


async def test_a_conversation_searches_its_bots_and_its_linked_collections(
    client: httpx.AsyncClient, ann: Account, db: Database
) -> None:
    bot = await make_bot(client, ann)
    session_id = (await say(client, bot, "hello")).json()["session_id"]
    bots_own = await make_collection(client, ann, name="Bot's", bot_id=bot.id)
    other = await make_collection(client, ann, name="Other")
    unrelated = await make_collection(client, ann, name="Unrelated")
    org = uuid.UUID(ann.org_id)
    assert await service.collections_of_session(db, org, uuid.UUID(session_id)) == [uuid.UUID(bots_own)]
    url = f"/api/v1/kb/sessions/{session_id}"
    response = await client.put(url, json={"collection_ids": [other, other]}, headers=ann.headers)
    assert response.status_code == 200, response.text
    assert response.json()["collection_ids"] == [other]
    assert response.json()["searched"] == [bots_own, other]
    assert (await client.get(url, headers=ann.headers)).json()["collection_ids"] == [other]
    assert await service.collections_of_session(db, org, uuid.UUID(session_id)) == [
        uuid.UUID(bots_own),
        uuid.UUID(other),
    ]
    assert await service.collection_ids(db, org, ["Other", bots_own]) == [
        uuid.UUID(other),
        uuid.UUID(bots_own),
    ]
    response = await client.put(url, json={"collection_ids": [unrelated]}, headers=ann.headers)
    assert response.json()["searched"] == [bots_own, unrelated]
    # Deleting a collection unlinks it.
    assert (
        await client.delete(f"/api/v1/kb/collections/{unrelated}", headers=ann.headers)
    ).status_code == 204
    assert (await client.get(url, headers=ann.headers)).json()["collection_ids"] == []


@pytest.fixture
async def pages() -> AsyncIterator[str]:
    """A local web server with a page, a redirect to it, an error and a page too large."""
    app = web.Application()

    async def page(_: web.Request) -> web.Response:
        html = "<html><head><title>Tides</title><script>var x=1;</script></head><body><h1>Tides</h1>"
        html += (
            "<p>Spring tides happen at full and new moon, when sun and moon pull in line.</p></body></html>"
        )
        return web.Response(text=html, content_type="text/html")

    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPFound("/page")

    async def missing(_: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    async def huge(_: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(_)
        for _i in range(11):
            await response.write(b"x" * (1024 * 1024))
        return response

    app.add_routes(
        [
            web.get("/page", page),
            web.get("/moved", moved),
            web.get("/missing", missing),
            web.get("/huge", huge),
        ]
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_documents_from_a_url(client: httpx.AsyncClient, ann: Account, pages: str) -> None:
    collection = await make_collection(client, ann)
    url = f"/api/v1/kb/collections/{collection}/documents"
    response = await client.post(
        url, json={"url": f"{pages}/moved", "metadata": {"site": "tides"}}, headers=ann.headers
    )
    assert response.status_code == 201, response.text
    document = response.json()
    assert document["source"] == "url" and document["source_url"] == f"{pages}/page"
    assert document["name"] == f"{pages}/page".split("://")[1]
    await settled(client, ann, collection)
    hits = await find(client, ann, collection, "why are some tides stronger at full moon")
    assert "Spring tides" in hits[0]["content"] and "var x" not in hits[0]["content"]
    for path, status, words in (("/missing", 422, "404"), ("/huge", 413, "larger than")):
        response = await client.post(url, json={"url": f"{pages}{path}"}, headers=ann.headers)
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]
    response = await client.post(url, json={"url": "file:///etc/passwd"}, headers=ann.headers)
    assert response.status_code == 422
