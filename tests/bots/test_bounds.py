"""What the bots domain stores stays inside its columns and bounds, on every database: long
platform ids, text no database stores (NUL), formulas in config.csv, memories' size and count.
Each was a 500 (PostgreSQL, MariaDB) or an unbounded write before."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tests.bots.conftest import BotSetup, make_bot, say
from tests.support.accounts import Account
from tests.support.workflows import chain, node
from wirework.bots import service


async def _executions(client: httpx.AsyncClient, setup: BotSetup) -> list[dict[str, Any]]:
    url = f"/api/v1/executions?workflow_id={setup.workflow_id}"
    items = (await client.get(url, headers=setup.who.headers)).json()["items"]
    return [
        (await client.get(f"/api/v1/executions/{e['id']}", headers=setup.who.headers)).json() for e in items
    ]


async def test_a_rest_message_id_of_200_characters_is_stored_once(
    client: httpx.AsyncClient, echo: BotSetup
) -> None:
    """Stored as `<user id>:<message_id>`, up to 237 characters for a 200-column: kept as its
    SHA-256 when longer, so a resend is still a duplicate (was a 500 on PostgreSQL and MariaDB)."""
    long_id = "m" * 200
    first = await say(client, echo, "once", message_id=long_id)
    assert first.status_code == 200, first.text
    again = await say(client, echo, "once", message_id=long_id)
    assert again.json()["duplicate"] is True and again.json()["message_id"] == first.json()["message_id"]
    other = await say(client, echo, "other", message_id="m" * 199 + "n")
    assert other.json()["duplicate"] is False


async def test_config_csv_with_a_nul_is_a_400_and_imports_nothing(
    client: httpx.AsyncClient, echo: BotSetup
) -> None:
    url = f"/api/v1/bots/{echo.id}/config.csv"
    headers = {**echo.who.headers, "content-type": "text/csv"}
    for body in (b"name,value\na,x\x00y\n", b"name,value\nok,1\nb\x00,2\n"):
        refused = await client.post(url, content=body, headers=headers)
        assert refused.status_code == 400, refused.text
        assert "line" in refused.json()["detail"] and "NUL" in refused.json()["detail"]
    assert (await client.get(f"/api/v1/bots/{echo.id}/config", headers=echo.who.headers)).json() == []


async def test_config_csv_export_neutralizes_formulas_and_imports_them_back(
    client: httpx.AsyncClient, echo: BotSetup
) -> None:
    """OWASP CSV injection: a cell starting with = + - @ (or tab, CR) is a formula to a
    spreadsheet; the export starts it with a quote, and importing the file gives the values back."""
    values = {
        "link": '=HYPERLINK("http://evil.example","click")',
        "plus": "+1",
        "minus": "-2",
        "at": "@SUM(A1)",
        "tab": "\tx",
        "cr": "\rx",
        "quoted": "'=kept as written",
        "apostrophe": "'plain",
        "hash": "#not a comment",
        "=name": "fine",
    }
    config = [{"name": k, "value": v} for k, v in values.items()]
    put = await client.put(f"/api/v1/bots/{echo.id}/config", json=config, headers=echo.who.headers)
    assert put.status_code == 200, put.text
    url = f"/api/v1/bots/{echo.id}/config.csv"
    exported = (await client.get(url, headers=echo.who.headers)).text
    rows = list(csv.reader(io.StringIO(exported, newline="")))
    assert rows[0] == ["name", "value"]
    assert dict(rows[1:]) == {
        "link": '\'=HYPERLINK("http://evil.example","click")',
        "plus": "'+1",
        "minus": "'-2",
        "at": "'@SUM(A1)",
        "tab": "'\tx",
        "cr": "'\rx",
        "quoted": "''=kept as written",
        "apostrophe": "'plain",
        "hash": "'#not a comment",
        "'=name": "fine",
    }
    headers = {**echo.who.headers, "content-type": "text/csv"}
    back = await client.post(f"{url}?replace=true", content=exported.encode(), headers=headers)
    assert back.status_code == 200, back.text
    assert {e["name"]: e["value"] for e in back.json()["entries"]} == values


async def test_memories_are_bounded_in_size_and_count(
    client: httpx.AsyncClient, echo: BotSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = f"/api/v1/bots/{echo.id}/memories"
    big = await client.put(
        f"{base}/big", json={"value": "x" * service.MEMORY_MAX_BYTES}, headers=echo.who.headers
    )
    assert big.status_code == 413 and "at most 65,536" in big.json()["detail"], big.text
    assert (await client.put(f"{base}/k0", json={"value": 0}, headers=echo.who.headers)).status_code == 200
    monkeypatch.setattr(service, "MEMORY_MAX_KEYS", 3)  # the bound, smaller: 1,000 PUTs say nothing more
    for n in (1, 2):
        assert (
            await client.put(f"{base}/k{n}", json={"value": n}, headers=echo.who.headers)
        ).status_code == 200
    fourth = await client.put(f"{base}/k3", json={"value": 3}, headers=echo.who.headers)
    assert fourth.status_code == 422 and "3 keys" in fourth.json()["detail"], fourth.text
    assert (await client.put(f"{base}/k2", json={"value": 22}, headers=echo.who.headers)).status_code == 200
    person = await client.put(f"{base}/k3?user_key=visitor:abc", json={"value": 3}, headers=echo.who.headers)
    assert person.status_code == 200  # each owner has keys of their own
    values = {
        (m["user_key"], m["key"]) for m in (await client.get(base, headers=echo.who.headers)).json()["items"]
    }
    assert values == {("", "k0"), ("", "k1"), ("", "k2"), ("visitor:abc", "k3")}


REMEMBERING = chain(
    node("t", "chat.trigger"),
    node("keep", "bot.memory_set", {"key": "last", "value": "{{ json.text }}"}),
    node("r", "chat.reply", {"text": "kept"}),
)
NUL_REPLY = chain(node("t", "chat.trigger"), node("r", "chat.reply", {"text": '{{ "a\\x00b" }}'}))


async def test_nodes_fail_with_the_bound_or_the_nul_named(
    client: httpx.AsyncClient, ann: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A memory past its bound and a reply with a NUL fail their node once, saying why (a NUL
    reply crashed the execution on PostgreSQL, on every claim)."""
    monkeypatch.setattr(service, "MEMORY_MAX_BYTES", 16)
    remembering = await make_bot(client, ann, REMEMBERING)
    assert [r["content"] for r in (await say(client, remembering, "short")).json()["replies"]] == ["kept"]
    assert (await say(client, remembering, "x" * 40)).json()["replies"] == []
    failed = [e for e in await _executions(client, remembering) if e["status"] == "failed"]
    assert [(e["error_node"], "at most 16" in e["error"]) for e in failed] == [("keep", True)], failed

    nul = await make_bot(client, ann, NUL_REPLY)
    assert (await say(client, nul, "hi")).json()["replies"] == []
    (run,) = await _executions(client, nul)
    assert run["status"] == "failed" and run["error_node"] == "r" and "NUL" in run["error"], run
    assert [n["status"] for n in run["nodes"] if n["node_id"] == "r"] == ["failed"]
