"""The events Wirework emits: the one list `core.event` offers and its save-validation checks.

A domain that starts emitting an event (a bot's `message.received`, a form's
`form.submitted`, …) adds its name here in the same change, so a workflow can only subscribe
to something that happens. A subscription is a known name, `<prefix>.*` for a prefix some
known name has, or `*`: the forms `triggers.events` looks subscriptions up by.
"""

from __future__ import annotations

from typing import Final

WORKFLOW_COMPLETED: Final = "workflow.completed"
WORKFLOW_FAILED: Final = "workflow.failed"
MESSAGE_RECEIVED: Final = "message.received"
MESSAGE_SENT: Final = "message.sent"
SESSION_STARTED: Final = "session.started"

EMITTED_EVENTS: Final = {
    WORKFLOW_COMPLETED: "a run of another workflow of the organization completed",
    WORKFLOW_FAILED: "a run of another workflow of the organization failed",
    MESSAGE_RECEIVED: "a bot of the organization received a message (any channel)",
    MESSAGE_SENT: "a bot's reply was delivered (stored on web chat and REST; accepted by the platform)",
    SESSION_STARTED: "a conversation with a bot of the organization began",
}


def subscription_patterns() -> list[str]:
    """Every value a `core.event` node may subscribe to: each event, each `<prefix>.*`, `*`."""
    prefixes = sorted({name.split(".", 1)[0] for name in EMITTED_EVENTS})
    return [*EMITTED_EVENTS, *(f"{p}.*" for p in prefixes), "*"]


def subscription_problem(pattern: str) -> str | None:
    """Why `pattern` can never match an emitted event, or None if it can."""
    if pattern in subscription_patterns():
        return None
    return f"no event {pattern!r} is emitted; choose one of: {', '.join(subscription_patterns())}"
