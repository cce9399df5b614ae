"""Opaque tokens (sessions, API keys, invitations): made with `secrets`, stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "ww_"
API_KEY_SHOWN_PREFIX_LENGTH = 11  # "ww_" + 8 characters, enough to tell keys apart in a list


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 suffices: tokens carry 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(session_token: str) -> str:
    """The CSRF token bound to a session: derived, so nothing more is stored."""
    return hashlib.sha256(b"wirework-csrf:" + session_token.encode()).hexdigest()


def equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
