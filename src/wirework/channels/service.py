"""A bot's connections to chat platforms: create, change, test and remove them (their secrets sealed
in a credential of the organization), find one by its inbound token, and send a reply through one.
Functions take the session and never commit; the caller owns the transaction."""

from __future__ import annotations

import re
import secrets as random_secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from wirework.bots import service as bots_service
from wirework.channels import registry
from wirework.channels.base import Adapter, Outbound, SendFailed, SendLater, platform_client, split_text
from wirework.channels.models import Platform, PlatformBot
from wirework.db.scoping import get_scoped, scoped
from wirework.db.types import utcnow
from wirework.errors import NotFound, ValidationFailed
from wirework.security.ssrf import SsrfPolicy, guarded_client
from wirework.security.vault import Vault, VaultError
from wirework.settings import Settings
from wirework.workflows import service as workflow_service
from wirework.workflows.models import Credential

log = structlog.get_logger("wirework.channels")

CREDENTIAL_TYPE_PREFIX = "chat_platform_"
_TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
MAX_FIELD_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the platforms' APIs are (settings) and what the SSRF guard lets user URLs reach."""

    base_urls: Mapping[str, str]
    ssrf_policy: SsrfPolicy
    public_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Endpoints:
        return cls(
            base_urls={
                "telegram": settings.telegram_api_url,
                "slack": settings.slack_api_url,
                "discord": settings.discord_api_url,
                "whatsapp": settings.whatsapp_api_url,
                "webhook": "",
            },
            ssrf_policy=SsrfPolicy.from_entries(settings.http_allow_hosts.split(",")),
            public_url=settings.effective_public_url,
        )

    def client(self, platform: str) -> httpx.AsyncClient:
        # The webhook channel posts to a URL a user typed: through the guard. The platforms' hosts
        # are the operator's settings.
        return guarded_client(self.ssrf_policy, timeout=15.0) if platform == "webhook" else platform_client()

    def inbound_url(self, connection: PlatformBot) -> str:
        return f"{self.public_url}/channels/{connection.platform}/{connection.inbound_token}"


# ---------------------------------------------------------------- the platforms table


async def sync_platforms(session: AsyncSession) -> None:
    """The `platforms` table lists exactly the registry's adapters (called at start)."""
    rows = {p.name: p for p in (await session.execute(select(Platform))).scalars()}
    for name, adapter in registry.ADAPTERS.items():
        row = rows.pop(name, None)
        if row is None:
            session.add(Platform(name=name, display_name=adapter.display_name))
        elif row.display_name != adapter.display_name:
            row.display_name = adapter.display_name
    if rows:
        await session.execute(delete(Platform).where(Platform.name.in_(list(rows))))
    await session.flush()


# ---------------------------------------------------------------- connections


def _adapter(platform: str) -> Adapter:
    adapter = registry.adapter(platform)
    if adapter is None:
        names = ", ".join(registry.ADAPTERS)
        raise ValidationFailed(
            f"Unknown platform {platform!r}; one of: {names}.",
            errors=[{"loc": ["body", "platform"], "msg": f"one of {names}", "type": "enum"}],
        )
    return adapter


def _field_error(name: str, msg: str) -> ValidationFailed:
    return ValidationFailed(
        f"values.{name}: {msg}", errors=[{"loc": ["body", "values", name], "msg": msg, "type": "value_error"}]
    )


def _check_values(adapter: Adapter, values: Mapping[str, Any]) -> dict[str, str]:
    known = {f.name for f in adapter.fields}
    unknown = sorted(set(values) - known)
    if unknown:
        raise _field_error(unknown[0], f"{adapter.display_name} takes only {', '.join(sorted(known))}")
    checked: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise _field_error(name, "must be text")
        value = value.strip()
        if len(value) > MAX_FIELD_CHARS:
            raise _field_error(name, f"at most {MAX_FIELD_CHARS} characters")
        checked[name] = value
    token = checked.get("secret_token", "")
    if adapter.name == "telegram" and token and not _TELEGRAM_SECRET.fullmatch(token):
        raise _field_error("secret_token", "Telegram allows 1-256 of A-Z, a-z, 0-9, _ and -")
    key = checked.get("public_key", "")
    if adapter.name == "discord" and key and not _HEX_KEY.fullmatch(key):
        raise _field_error("public_key", "the application's public key is 64 hexadecimal characters")
    if adapter.name == "webhook" and checked.get("outbound_url"):
        url = httpx.URL(checked["outbound_url"])
        if url.scheme not in ("http", "https") or not url.host:
            raise _field_error("outbound_url", "an http:// or https:// URL")
    return checked


def _complete(adapter: Adapter, values: dict[str, str]) -> dict[str, str]:
    """Generated fields filled in; 422 naming the first required field missing."""
    for field in adapter.fields:
        if not values.get(field.name):
            if field.generated:
                values[field.name] = random_secrets.token_urlsafe(32)
            elif field.required:
                raise _field_error(field.name, f"{field.label} is required")
    return values


async def list_connections(session: AsyncSession, org_id: uuid.UUID, bot_id: uuid.UUID) -> list[PlatformBot]:
    stmt = scoped(PlatformBot, org_id).where(PlatformBot.bot_id == bot_id).order_by(PlatformBot.created_at)
    return list((await session.execute(stmt)).scalars())


async def get_connection(
    session: AsyncSession, org_id: uuid.UUID, bot_id: uuid.UUID, connection_id: uuid.UUID
) -> PlatformBot:
    connection = await get_scoped(session, PlatformBot, connection_id, org_id)
    if connection.bot_id != bot_id:
        raise NotFound(f"Channel connection {connection_id} not found")
    return connection


async def create_connection(
    session: AsyncSession,
    vault: Vault,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID | None,
    bot_id: uuid.UUID,
    platform: str,
    name: str,
    values: Mapping[str, Any],
) -> tuple[PlatformBot, dict[str, str]]:
    """A new connection and its secrets (generated ones included, to show once)."""
    adapter = _adapter(platform)
    checked = _complete(adapter, _check_values(adapter, values))
    secret_names = {f.name for f in adapter.fields if f.secret}
    sealed = {k: v for k, v in checked.items() if k in secret_names}
    settings = {k: v for k, v in checked.items() if k not in secret_names}
    token = random_secrets.token_urlsafe(32)
    credential = await workflow_service.create_credential(
        session,
        vault,
        org_id=org_id,
        user_id=user_id,
        # unique in the organization: the token's start tells two connections of one name apart
        name=f"{adapter.display_name} bot: {name} ({token[:6]})",
        type=CREDENTIAL_TYPE_PREFIX + adapter.name,
        data=sealed,
    )
    connection = PlatformBot(
        org_id=org_id,
        bot_id=bot_id,
        platform=adapter.name,
        name=name,
        credential_id=credential.id,
        settings=settings,
        inbound_token=token,
        is_active=True,
    )
    session.add(connection)
    await session.flush()
    return connection, sealed


async def update_connection(
    session: AsyncSession,
    vault: Vault,
    connection: PlatformBot,
    *,
    name: str | None,
    values: Mapping[str, Any] | None,
    is_active: bool | None,
) -> PlatformBot:
    """Change the name, the active flag, or some values (a secret left empty keeps its value)."""
    adapter = _adapter(connection.platform)
    if name is not None:
        connection.name = name
    if is_active is not None:
        connection.is_active = is_active
    if values:
        checked = _check_values(adapter, values)
        secret_names = {f.name for f in adapter.fields if f.secret}
        current = await connection_secrets(session, vault, connection)
        sealed = {**current, **{k: v for k, v in checked.items() if k in secret_names and v}}
        settings = {**connection.settings, **{k: v for k, v in checked.items() if k not in secret_names}}
        _complete(adapter, {**sealed, **settings})  # still complete
        credential = await _credential(session, connection)
        await workflow_service.update_credential(session, vault, credential, name=None, data=sealed)
        connection.settings = settings
    connection.updated_at = utcnow()
    await session.flush()
    return connection


async def delete_connection(session: AsyncSession, connection: PlatformBot) -> None:
    credential_id = connection.credential_id
    await session.delete(connection)
    await session.flush()
    if credential_id is not None:
        await session.execute(
            delete(Credential).where(Credential.id == credential_id, Credential.org_id == connection.org_id)
        )


async def _credential(session: AsyncSession, connection: PlatformBot) -> Credential:
    credential = None
    if connection.credential_id is not None:
        credential = await session.get(Credential, connection.credential_id)
    if credential is None or credential.org_id != connection.org_id:
        raise ValidationFailed(
            f"The connection {connection.name!r} lost its credential (deleted on the credentials page); "
            "remove the connection and add it again."
        )
    return credential


async def connection_secrets(session: AsyncSession, vault: Vault, connection: PlatformBot) -> dict[str, str]:
    """The connection's opened secrets; {} when its credential is gone or no key opens it (then
    every signature check fails, which is the safe way to fail)."""
    if connection.credential_id is None:
        return {}
    credential = await session.get(Credential, connection.credential_id)
    if credential is None or credential.org_id != connection.org_id:
        return {}
    try:
        opened = workflow_service.open_credential(vault, credential)
    except VaultError as exc:
        log.error("channel_secrets_unreadable", connection=str(connection.id), error=str(exc))
        return {}
    return {k: str(v) for k, v in opened.items()}


async def find_inbound(session: AsyncSession, platform: str, token: str) -> PlatformBot | None:
    """The active connection of this platform whose inbound URL carries `token`."""
    if not token or len(token) > 64:
        return None
    stmt = select(PlatformBot).where(
        PlatformBot.inbound_token == token, PlatformBot.platform == platform, PlatformBot.is_active.is_(True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


# ---------------------------------------------------------------- calls to the platform


def outbound(endpoints: Endpoints, connection: PlatformBot, secrets: Mapping[str, str]) -> Outbound:
    return Outbound(
        client=endpoints.client(connection.platform),
        base_url=endpoints.base_urls.get(connection.platform, ""),
        settings={**connection.settings, "name": connection.name},
        secrets=secrets,
    )


async def test_connection(
    session: AsyncSession, vault: Vault, endpoints: Endpoints, connection: PlatformBot
) -> dict[str, Any]:
    """Call the platform with the connection's secrets: `{"ok", "detail", "info"}`. What it learns
    (Slack's bot user id, which keeps the bot from answering itself) is kept in the settings."""
    adapter = _adapter(connection.platform)
    if not adapter.can_test:
        return {"ok": False, "detail": f"{adapter.display_name} has nothing to test.", "info": {}}
    secrets = await connection_secrets(session, vault, connection)
    out = outbound(endpoints, connection, secrets)
    try:
        async with out.client:
            info = await adapter.test(out)
    except (SendFailed, SendLater) as exc:
        connection.last_error = f"test: {exc}"
        await session.flush()
        return {"ok": False, "detail": str(exc), "info": {}}
    connection.settings = {**connection.settings, **{k: v for k, v in info.items() if v}}
    connection.last_error = None
    await session.flush()
    return {"ok": True, "detail": f"{adapter.display_name} answered.", "info": info}


async def register_connection(
    session: AsyncSession, vault: Vault, endpoints: Endpoints, connection: PlatformBot
) -> dict[str, Any]:
    """Give the platform the inbound URL (Telegram's setWebhook)."""
    adapter = _adapter(connection.platform)
    url = endpoints.inbound_url(connection)
    if not adapter.can_register:
        return {"ok": False, "detail": f"Paste {url} into {adapter.display_name}'s settings yourself."}
    secrets = await connection_secrets(session, vault, connection)
    out = outbound(endpoints, connection, secrets)
    try:
        async with out.client:
            await adapter.register(out, url)
    except (SendFailed, SendLater) as exc:
        connection.last_error = f"register: {exc}"
        await session.flush()
        return {"ok": False, "detail": str(exc)}
    connection.last_error = None
    await session.flush()
    return {"ok": True, "detail": f"{adapter.display_name} now sends updates to {url}."}


def sender(settings: Settings, platform: str) -> bots_service.Send:
    """`send(connection, secrets, chat_id, text)` for `bots.service.register_sender`: posts the text
    (in pieces when the platform's limit is shorter) and returns the last piece's platform id.
    A retried send posts every piece again (delivery is at least once)."""
    adapter = _adapter(platform)

    async def send(
        connection: PlatformBot | None, secrets: dict[str, Any], chat_id: str, text: str
    ) -> str | None:
        if connection is None:
            raise bots_service.SendFailed(f"no {adapter.display_name} connection to send through")
        # read per send: the settings object is the app's, and building this is cheap
        out = outbound(Endpoints.from_settings(settings), connection, {k: str(v) for k, v in secrets.items()})
        sent: str | None = None
        try:
            async with out.client:
                for piece in split_text(text, adapter.max_text):
                    sent = await adapter.send_one(out, chat_id, piece)
        except SendLater as exc:
            raise bots_service.SendLater(exc.after_s, exc.reason) from None
        except SendFailed as exc:
            raise bots_service.SendFailed(exc.reason) from None
        return sent

    return send


def register_senders(settings: Settings) -> None:
    """Replies on each platform go out through its adapter (called when the app is made)."""
    for name in registry.ADAPTERS:
        bots_service.register_sender(name, sender(settings, name))
