"""A conversation survives a restart mid-dialog: the bot asks, the server is killed (SIGKILL)
and started again on the same database, the person answers, the dialog goes on."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.server import running_server
from tests.support.workflows import chain, node

DIALOG = chain(
    node("t", "chat.trigger"),
    node("ask", "chat.ask", {"question": "Which city?"}),
    node("r", "chat.reply", {"text": "Booked for {{ json.answer }}."}),
)


def test_a_conversation_survives_a_restart_mid_dialog(tmp_path: Path) -> None:
    with running_server(tmp_path, WIREWORK_OPEN_SIGNUP="true") as (url, process):
        token = httpx.post(
            f"{url}/api/v1/auth/signup",
            json={"email": "ann@example.com", "username": "ann", "password": "a-long-password"},
        ).json()["session"]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        workflow = httpx.post(
            f"{url}/api/v1/workflows", json={"name": "dialog", "definition": DIALOG}, headers=headers
        ).json()["id"]
        bot = httpx.post(
            f"{url}/api/v1/bots", json={"name": "Trips", "dialog_workflow_id": workflow}, headers=headers
        ).json()["id"]
        asked = httpx.post(
            f"{url}/api/v1/bots/{bot}/messages", json={"text": "book a trip", "wait_s": 10}, headers=headers
        ).json()
        assert [r["content"] for r in asked["replies"]] == ["Which city?"] and asked["waiting"]
        process.kill()  # no shutdown: whatever was not committed is lost
        process.wait()

    with running_server(tmp_path, WIREWORK_OPEN_SIGNUP="true") as (url, _):
        answered = httpx.post(
            f"{url}/api/v1/bots/{bot}/messages",
            json={"text": "Lisbon", "wait_s": 15},
            headers=headers,
            timeout=30,
        ).json()
        assert answered["session_id"] == asked["session_id"] and answered["routed_to"] == "answer"
        assert [r["content"] for r in answered["replies"]] == ["Booked for Lisbon."]
        transcript = httpx.get(
            f"{url}/api/v1/sessions/{asked['session_id']}/messages", headers=headers
        ).json()
        assert [(m["role"], m["content"]) for m in transcript["items"]] == [
            ("user", "book a trip"),
            ("assistant", "Which city?"),
            ("user", "Lisbon"),
            ("assistant", "Booked for Lisbon."),
        ]
