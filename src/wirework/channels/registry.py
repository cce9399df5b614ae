"""The chat platforms Wirework connects bots to: one adapter each, and what the set-up form shows.

This list is the one source: the `platforms` table is filled from it at start, the API serves it
to the UI's set-up forms (fields, where to find them, the steps), and the inbound route dispatches
by its names.
"""

from __future__ import annotations

from typing import Any, Final

from wirework.channels.base import Adapter
from wirework.channels.discord import Discord
from wirework.channels.slack import Slack
from wirework.channels.telegram import Telegram
from wirework.channels.webhook import Webhook
from wirework.channels.whatsapp import WhatsApp

ADAPTERS: Final[dict[str, Adapter]] = {
    adapter.name: adapter for adapter in (Telegram(), Slack(), Discord(), WhatsApp(), Webhook())
}


def adapter(name: str) -> Adapter | None:
    return ADAPTERS.get(name)


def describe(adapter: Adapter) -> dict[str, Any]:
    """What the UI needs to set a connection up (no secrets in it: it is the same for everyone)."""
    return {
        "name": adapter.name,
        "display_name": adapter.display_name,
        "fields": [
            {
                "name": f.name,
                "label": f.label,
                "help": f.help,
                "secret": f.secret,
                "required": f.required and not f.generated,
                "generated": f.generated,
            }
            for f in adapter.fields
        ],
        "setup_steps": list(adapter.setup_steps),
        "can_test": adapter.can_test,
        "can_register": adapter.can_register,
    }
