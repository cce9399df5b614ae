"""Bots through the API: a dialog workflow answers over REST; settings, config.csv, memories,
refusals that store nothing, duplicates, take-over, SSE, history and search."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.bots.conftest import BotSetup, make_bot, say
from tests.support.accounts import Account


async def _transcript(client: httpx.AsyncClient, setup: BotSetup, session_id: str) -> list[tuple[str, str]]:
    response = await client.get(f"/api/v1/sessions/{session_id}/messages", headers=setup.who.headers)
    assert response.status_code == 200, response.text
    return [(m["role"], m["content"]) for m in response.json()["items"]]


async def test_a_bot_answers_over_rest_with_its_dialog_workflow(
    client: httpx.AsyncClient, echo: BotSetup
) -> None:
    response = await say(client, echo, "hello there")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["routed_to"] == "dialog"
    assert [r["content"] for r in body["replies"]] == ["You said: hello there"]
    assert body["replies"][0]["delivery"] == "sent" and body["replies"][0]["latency_ms"] is not None

    again = (await say(client, echo, "and again")).json()
    assert again["session_id"] == body["session_id"]  # one open conversation per user and chat
    assert await _transcript(client, echo, body["session_id"]) == [
        ("user", "hello there"),
        ("assistant", "You said: hello there"),
        ("user", "and again"),
        ("assistant", "You said: and again"),
    ]
    sessions = (await client.get(f"/api/v1/sessions?bot_id={echo.id}", headers=echo.who.headers)).json()
    assert [(s["id"], s["channel"], s["message_count"]) for s in sessions["items"]] == [
        (body["session_id"], "rest", 4)
    ]
    detail = (await client.get(f"/api/v1/sessions/{body['session_id']}", headers=echo.who.headers)).json()
    assert detail["user_name"] == "ann" and detail["title"] == "hello there"

    found = (await client.get("/api/v1/messages?q=AGAIN", headers=echo.who.headers)).json()["items"]
    assert [m["content"] for m in found] == ["You said: and again", "and again"]  # newest first
    other_chat = (await say(client, echo, "new chat", chat_id="support")).json()
    assert other_chat["session_id"] != body["session_id"]


async def test_a_bot_is_validated_on_save(client: httpx.AsyncClient, ann: Account, echo: BotSetup) -> None:
    bad = [
        {"name": "x", "dialog_kind": "basic"},  # BASIC dialogs do not exist yet
        {"name": "x", "dialog_workflow_id": "00000000-0000-7000-8000-000000000000"},
        {"name": "x", "settings": {"max_message_length": 0}},
        {"name": "x", "settings": {"no_such_setting": 1}},
        {"name": "x", "commands": [{"command": "[string] first", "workflow_id": echo.workflow_id}]},
        {"name": "x", "commands": [{"command": "todo [date]", "workflow_id": echo.workflow_id}]},
    ]
    for body in bad:
        response = await client.post("/api/v1/bots", json=body, headers=ann.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    kinds = (await client.get("/api/v1/bots/dialog-kinds", headers=ann.headers)).json()
    assert [k["kind"] for k in kinds] == ["workflow"]
    patched = await client.patch(
        f"/api/v1/bots/{echo.id}",
        json={"welcome_message": "Hi!", "settings": {"web_chat_enabled": True}},
        headers=ann.headers,
    )
    assert patched.status_code == 200, patched.text
    assert (
        patched.json()["settings"]["web_chat_enabled"] is True and patched.json()["welcome_message"] == "Hi!"
    )


async def test_config_csv_imports_and_exports(client: httpx.AsyncClient, echo: BotSetup) -> None:
    csv = 'name,value\nTheme Color,blue\nAnswer Mode,"a, b and ""c"""\n\n# comment\nEmpty,\n'
    url = f"/api/v1/bots/{echo.id}/config.csv"
    response = await client.post(
        url, content=csv.encode(), headers={**echo.who.headers, "content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 3
    exported = await client.get(url, headers=echo.who.headers)
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text == 'name,value\r\nAnswer Mode,"a, b and ""c"""\r\nEmpty,\r\nTheme Color,blue\r\n'
    # Importing without replace keeps the others; with replace only the file's remain.
    await client.post(
        url, content=b"Theme Color,red\n", headers={**echo.who.headers, "content-type": "text/csv"}
    )
    config = (await client.get(f"/api/v1/bots/{echo.id}/config", headers=echo.who.headers)).json()
    assert {c["name"]: c["value"] for c in config}["Theme Color"] == "red" and len(config) == 3
    await client.post(
        f"{url}?replace=true", content=b"Only,1\n", headers={**echo.who.headers, "content-type": "text/csv"}
    )
    config = (await client.get(f"/api/v1/bots/{echo.id}/config", headers=echo.who.headers)).json()
    assert config == [{"name": "Only", "value": "1"}]
    for broken in (b"a,b,c\n", b"\xff\xfe", b"x,1\nx,2\n", b",1\n"):
        bad = await client.post(url, content=broken, headers={**echo.who.headers, "content-type": "text/csv"})
        assert bad.status_code == 422, (broken, bad.text)
    config = (await client.get(f"/api/v1/bots/{echo.id}/config", headers=echo.who.headers)).json()
    assert config == [{"name": "Only", "value": "1"}]  # nothing half-imported


async def test_memories_of_the_bot_and_of_a_person(client: httpx.AsyncClient, echo: BotSetup) -> None:
    base = f"/api/v1/bots/{echo.id}/memories"
    assert (
        await client.put(f"{base}/greeting", json={"value": "hi"}, headers=echo.who.headers)
    ).status_code == 200
    person = f"user:{echo.who.user_id}"
    put = await client.put(
        f"{base}/prefs?user_key={person}", json={"value": {"lang": "pt"}}, headers=echo.who.headers
    )
    assert put.status_code == 200, put.text
    all_ = (await client.get(base, headers=echo.who.headers)).json()["items"]
    assert {(m["user_key"], m["key"]): m["value"] for m in all_} == {
        ("", "greeting"): "hi",
        (person, "prefs"): {"lang": "pt"},
    }
    bot_only = (await client.get(f"{base}?user_key=", headers=echo.who.headers)).json()["items"]
    assert [m["key"] for m in bot_only] == ["greeting"]
    assert (await client.delete(f"{base}/greeting", headers=echo.who.headers)).status_code == 204
    assert (await client.delete(f"{base}/greeting", headers=echo.who.headers)).status_code == 404


async def _count_messages(client: httpx.AsyncClient, setup: BotSetup) -> int:
    url = f"/api/v1/messages?bot_id={setup.id}&role=user"  # the dialog's replies come when they come
    return len((await client.get(url, headers=setup.who.headers)).json()["items"])


async def test_refused_messages_store_nothing(client: httpx.AsyncClient, ann: Account) -> None:
    setup = await make_bot(
        client, ann, settings={"max_message_length": 20, "flood_max_messages": 3, "flood_window_s": 600}
    )
    too_long = await say(client, setup, "x" * 21, wait_s=0)
    assert too_long.status_code == 413 and "at most 20" in too_long.json()["detail"]
    assert await _count_messages(client, setup) == 0
    assert (await client.get("/api/v1/sessions", headers=ann.headers)).json()["items"] == []
    for n in range(3):
        assert (await say(client, setup, f"m{n}", wait_s=0)).status_code == 200
    flood = await say(client, setup, "one more", wait_s=0)
    assert flood.status_code == 429 and flood.headers["retry-after"]
    before = await _count_messages(client, setup)
    await client.patch(f"/api/v1/bots/{setup.id}", json={"is_active": False}, headers=ann.headers)
    inactive = await say(client, setup, "hello", wait_s=0, chat_id="other")
    assert inactive.status_code == 409
    assert await _count_messages(client, setup) == before


async def test_a_message_sent_twice_is_stored_and_answered_once(
    client: httpx.AsyncClient, echo: BotSetup
) -> None:
    first = (await say(client, echo, "once", message_id="abc-1")).json()
    second = (await say(client, echo, "once", message_id="abc-1")).json()
    assert second["duplicate"] is True and second["message_id"] == first["message_id"]
    assert await _transcript(client, echo, first["session_id"]) == [
        ("user", "once"),
        ("assistant", "You said: once"),
    ]


async def test_taking_over_pauses_the_dialog(client: httpx.AsyncClient, echo: BotSetup) -> None:
    session_id = (await say(client, echo, "hi")).json()["session_id"]
    taken = await client.post(f"/api/v1/sessions/{session_id}/takeover", headers=echo.who.headers)
    assert taken.status_code == 200 and taken.json()["taken_over_by"] == echo.who.user_id
    quiet = (await say(client, echo, "anyone?", wait_s=0.5)).json()
    assert quiet["routed_to"] is None and quiet["replies"] == []
    by_hand = await client.post(
        f"/api/v1/sessions/{session_id}/messages", json={"text": "A human here."}, headers=echo.who.headers
    )
    assert by_hand.status_code == 201 and by_hand.json()["sender"] == "ann"
    await client.delete(f"/api/v1/sessions/{session_id}/takeover", headers=echo.who.headers)
    back = (await say(client, echo, "thanks")).json()
    assert [r["content"] for r in back["replies"]] == ["You said: thanks"]
    assert await _transcript(client, echo, session_id) == [
        ("user", "hi"),
        ("assistant", "You said: hi"),
        ("user", "anyone?"),
        ("assistant", "A human here."),
        ("user", "thanks"),
        ("assistant", "You said: thanks"),
    ]


async def test_replies_stream_as_server_sent_events(client: httpx.AsyncClient, echo: BotSetup) -> None:
    events: list[tuple[str, dict[str, object]]] = []
    async with client.stream(
        "POST",
        f"/api/v1/bots/{echo.id}/messages",
        json={"text": "stream me", "wait_s": 10},
        headers={**echo.who.headers, "accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event:
                events.append((event, json.loads(line[6:])))
    assert [e for e, _ in events] == ["stored", "message", "done"]
    assert events[1][1]["content"] == "You said: stream me"


async def test_first_messages_at_once_open_one_conversation(
    client: httpx.AsyncClient, echo: BotSetup
) -> None:
    answers = await asyncio.gather(*(say(client, echo, f"hi {n}", chat_id="race") for n in range(8)))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    assert len({a.json()["session_id"] for a in answers}) == 1
    sessions = (await client.get(f"/api/v1/sessions?bot_id={echo.id}", headers=echo.who.headers)).json()
    assert [s["message_count"] for s in sessions["items"]] == [16]

    closed = await client.post(
        f"/api/v1/sessions/{sessions['items'][0]['id']}/close", headers=echo.who.headers
    )
    assert closed.status_code == 200, closed.text
    after = (await say(client, echo, "back again", chat_id="race")).json()
    assert after["session_id"] != sessions["items"][0]["id"]  # a closed conversation is not reopened
