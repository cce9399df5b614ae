"""Dialog nodes and routing: chat.ask waits for the next message, memories per person and per
bot, chat commands with typed arguments, the events bots emit."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.bots.conftest import make_bot, say
from tests.support.accounts import Account
from tests.support.workflows import chain, create, node
from wirework.bots.service import match_command, parse_command

ASKING = chain(
    node("t", "chat.trigger"),
    node("ask", "chat.ask", {"question": "What is your name?"}),
    node("remember", "bot.memory_set", {"key": "name", "value": "{{ json.answer }}"}),
    node("count", "bot.memory_get", {"key": "visits", "scope": "bot", "field": "visits"}),
    node(
        "bump", "bot.memory_set", {"key": "visits", "scope": "bot", "value": "{{ (json.visits or 0) + 1 }}"}
    ),
    node("hello", "chat.reply", {"text": "Nice to meet you, {{ json.answer }}."}),
)


async def test_chat_ask_waits_for_the_next_message_and_memories_keep_it(
    client: httpx.AsyncClient, ann: Account
) -> None:
    setup = await make_bot(client, ann, ASKING)
    first = (await say(client, setup, "hi")).json()
    assert [r["content"] for r in first["replies"]] == ["What is your name?"]
    assert first["waiting"] is True
    session = (await client.get(f"/api/v1/sessions/{first['session_id']}", headers=ann.headers)).json()
    assert session["waiting"] is True

    answer = (await say(client, setup, "Ann")).json()
    assert answer["routed_to"] == "answer"
    assert [r["content"] for r in answer["replies"]] == ["Nice to meet you, Ann."]
    assert answer["waiting"] is False

    memories = (await client.get(f"/api/v1/bots/{setup.id}/memories", headers=ann.headers)).json()["items"]
    assert {(m["user_key"], m["key"]): m["value"] for m in memories} == {
        (f"user:{ann.user_id}", "name"): "Ann",
        ("", "visits"): 1,
    }
    # A second person has a memory of their own; the bot's count is shared.
    bob = await signup_member(client, ann, "bob")
    setup_bob = type(setup)(bob, setup.bot, setup.workflow_id)
    await say(client, setup_bob, "hey")
    await say(client, setup_bob, "Bob")
    memories = (await client.get(f"/api/v1/bots/{setup.id}/memories", headers=ann.headers)).json()["items"]
    values = {(m["user_key"], m["key"]): m["value"] for m in memories}
    assert values[(f"user:{bob.user_id}", "name")] == "Bob" and values[("", "visits")] == 2
    assert values[(f"user:{ann.user_id}", "name")] == "Ann"


async def signup_member(client: httpx.AsyncClient, by: Account, name: str) -> Account:
    from tests.support.accounts import signup_invited

    return await signup_invited(client, by, name)


async def test_a_reply_is_sent_once_per_run_even_in_a_loop_of_asks(
    client: httpx.AsyncClient, ann: Account
) -> None:
    # Ask twice in one run (two chat.ask nodes): each question waits for its own answer.
    two = chain(
        node("t", "chat.trigger"),
        node("a1", "chat.ask", {"question": "First?"}),
        node("a2", "chat.ask", {"question": "Second?"}),
        node("r", "chat.reply", {"text": "{{ nodes['a1'].first.answer }} then {{ json.answer }}"}),
    )
    setup = await make_bot(client, ann, two)
    assert [r["content"] for r in (await say(client, setup, "go")).json()["replies"]] == ["First?"]
    assert [r["content"] for r in (await say(client, setup, "one")).json()["replies"]] == ["Second?"]
    assert [r["content"] for r in (await say(client, setup, "two")).json()["replies"]] == ["one then two"]


@pytest.mark.parametrize(
    ("declaration", "text", "expected"),
    [
        ("todo add [string]", "todo add milk", {"arg1": "milk"}),
        ("todo add [string]", "/Todo ADD milk", {"arg1": "milk"}),
        ("todo add [string]", "todo add milk now", None),
        ("todo add [text:what]", "todo add buy oat milk", {"what": "buy oat milk"}),
        ("remind [int:minutes] [text:what]", "remind 5 stretch legs", {"minutes": 5, "what": "stretch legs"}),
        ("remind [int:minutes] [text:what]", "remind five stretch", None),
        ("price [number]", "price 2.5", {"arg1": 2.5}),
        ("notify [bool]", "notify off", {"arg1": False}),
        ("notify [bool]", "notify maybe", None),
        ("help", "help", {}),
        ("help", "help me", None),
        ("todo add [string]", "todo", None),
    ],
)
def test_commands_parse_typed_arguments(
    declaration: str, text: str, expected: dict[str, object] | None
) -> None:
    assert match_command(parse_command(declaration), text) == expected


async def test_a_command_runs_its_workflow_and_other_messages_go_to_the_dialog(
    client: httpx.AsyncClient, ann: Account
) -> None:
    todo = await create(
        client,
        ann,
        chain(
            node("t", "chat.trigger"),
            node("r", "chat.reply", {"text": "Added {{ json.args.what }} ({{ json.command }})"}),
        ),
        name="todo",
    )
    setup = await make_bot(client, ann, commands=[{"command": "todo add [text:what]", "workflow_id": todo}])
    added = (await say(client, setup, "todo add oat milk")).json()
    assert added["routed_to"] == "command"
    assert [r["content"] for r in added["replies"]] == ["Added oat milk (todo add)"]
    other = (await say(client, setup, "todo")).json()
    assert other["routed_to"] == "dialog" and [r["content"] for r in other["replies"]] == ["You said: todo"]
    detail = (await client.get(f"/api/v1/bots/{setup.id}", headers=ann.headers)).json()
    assert [c["command"] for c in detail["commands"]] == ["todo add [text:what]"]


async def test_bots_emit_their_events_to_listening_workflows(client: httpx.AsyncClient, ann: Account) -> None:
    setup = await make_bot(client, ann)
    listeners = {}
    for event in ("session.started", "message.received", "message.sent"):
        listener = chain(node("on", "core.event", {"event": event}), node("n", "core.noop"))
        listeners[event] = await create(client, ann, listener, name=event)
        activated = await client.post(f"/api/v1/workflows/{listeners[event]}/activate", headers=ann.headers)
        assert activated.status_code == 200, activated.text
    session_id = (await say(client, setup, "ping")).json()["session_id"]
    await say(client, setup, "pong")
    seen: dict[str, list[str]] = {}
    for _ in range(100):
        for event, workflow_id in listeners.items():
            runs = (
                await client.get(f"/api/v1/executions?workflow_id={workflow_id}", headers=ann.headers)
            ).json()["items"]
            seen[event] = [r["status"] for r in runs]
        if [len(v) for v in seen.values()] == [1, 2, 2] and all(
            s == "completed" for v in seen.values() for s in v
        ):
            break
        await asyncio.sleep(0.1)
    assert {k: len(v) for k, v in seen.items()} == {
        "session.started": 1,
        "message.received": 2,
        "message.sent": 2,
    }
    runs = (
        await client.get(
            f"/api/v1/executions?workflow_id={listeners['message.received']}", headers=ann.headers
        )
    ).json()
    detail = (await client.get(f"/api/v1/executions/{runs['items'][-1]['id']}", headers=ann.headers)).json()
    item = detail["input_items"][0]
    assert item["event"] == "message.received" and item["session_id"] == session_id and item["text"] == "ping"
