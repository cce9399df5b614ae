"""The credential types built-in nodes and AI models use, with the fields each one reads: what the
credential form offers. A test checks this list against the node registry's credential slots and
the AI models' key types (`ai.service.CREDENTIAL_TYPES`), so a type in use is never missing here,
and nothing here is unused."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class CredentialField:
    name: str
    label: str
    secret: bool = True
    required: bool = True
    description: str = ""
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CredentialType:
    type: str
    display_name: str
    description: str
    fields: tuple[CredentialField, ...]


CREDENTIAL_TYPES: Final = (
    CredentialType(
        "http_basic_auth",
        "HTTP basic auth",
        "A user name and password the HTTP Request node sends (authentication: basic).",
        (
            CredentialField("username", "User name", secret=False),
            CredentialField("password", "Password"),
        ),
    ),
    CredentialType(
        "http_bearer_token",
        "Bearer token",
        "A token the HTTP Request node sends as Authorization: Bearer (authentication: bearer).",
        (CredentialField("token", "Token"),),
    ),
    CredentialType(
        "http_header_auth",
        "Header auth",
        "A header the HTTP Request node sends (authentication: header), e.g. X-API-Key.",
        (
            CredentialField("name", "Header name", secret=False, description="e.g. X-API-Key"),
            CredentialField("value", "Header value"),
        ),
    ),
    CredentialType(
        "oauth2_client_credentials",
        "OAuth2 client credentials",
        "The HTTP Request node gets (and renews) an access token from the token URL.",
        (
            CredentialField("token_url", "Token URL", secret=False),
            CredentialField("client_id", "Client ID", secret=False),
            CredentialField("client_secret", "Client secret"),
            CredentialField("scope", "Scope", secret=False, required=False),
            CredentialField("audience", "Audience", secret=False, required=False),
            CredentialField(
                "client_auth",
                "Client authentication",
                secret=False,
                required=False,
                description="basic (default): in the Authorization header; body: in the form",
                options=("basic", "body"),
            ),
        ),
    ),
    CredentialType(
        "webhook_auth",
        "Webhook auth",
        "What callers of a Webhook node must present: fill the fields of the node's auth mode.",
        (
            CredentialField("token", "Token", required=False, description="auth: header"),
            CredentialField("user", "User", secret=False, required=False, description="auth: basic"),
            CredentialField("password", "Password", required=False, description="auth: basic"),
            CredentialField("secret", "HMAC secret", required=False, description="auth: hmac"),
        ),
    ),
    CredentialType(
        "openai_api",
        "OpenAI-compatible API key",
        "The key of an AI model at OpenAI or an OpenAI-compatible server (sent as Authorization: Bearer).",
        (
            CredentialField("api_key", "API key"),
            CredentialField(
                "organization",
                "Organization",
                secret=False,
                required=False,
                description="OpenAI only: sent as OpenAI-Organization, e.g. org-…",
            ),
        ),
    ),
    CredentialType(
        "anthropic_api",
        "Anthropic API key",
        "The key of an AI model at Anthropic (sent as x-api-key).",
        (CredentialField("api_key", "API key"),),
    ),
)


def credential_types() -> list[dict[str, Any]]:
    return [asdict(t) for t in CREDENTIAL_TYPES]
