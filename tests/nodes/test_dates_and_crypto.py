"""The date & time node and the crypto node."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from wirework.engine.errors import NodeError
from wirework.engine.nodes import parameter_errors
from wirework.engine.testing import run_node
from wirework.nodes.core.crypto import Crypto
from wirework.nodes.core.dates import DateTime

NOW = datetime(2024, 3, 30, 22, 15, tzinfo=UTC)


async def date_op(params: dict[str, Any], item: dict[str, Any] | None = None, zone: str = "UTC") -> Any:
    out = await run_node(
        DateTime, {"field": "out", **params}, [item or {}], now=NOW, workflow={"timezone": zone}
    )
    return out["main"][0]["out"]


async def test_now_in_the_workflow_zone_or_a_given_one() -> None:
    assert await date_op({"operation": "now"}) == "2024-03-30T22:15:00+00:00"
    assert await date_op({"operation": "now"}, zone="Europe/Paris") == "2024-03-30T23:15:00+01:00"
    assert await date_op({"operation": "now", "timezone": "Asia/Tokyo"}) == "2024-03-31T07:15:00+09:00"


async def test_format_and_parse() -> None:
    assert (
        await date_op(
            {"operation": "format", "value": "{{ json.at }}", "format": "%d/%m/%Y %H:%M"},
            {"at": "2024-05-17T09:30:00Z"},
        )
        == "17/05/2024 09:30"
    )
    assert (
        await date_op(
            {"operation": "parse", "value": "17/05/2024", "format": "%d/%m/%Y", "timezone": "Europe/Paris"}
        )
        == "2024-05-17T00:00:00+02:00"
    )
    assert await date_op({"operation": "parse", "value": 1715938200}) == "2024-05-17T09:30:00+00:00"
    assert await date_op({"operation": "parse", "value": 1715938200000}) == "2024-05-17T09:30:00+00:00"


async def test_add_and_subtract_use_calendar_months_and_wall_clock_days() -> None:
    assert (
        await date_op({"operation": "add", "value": "2024-01-31T10:00:00+00:00", "duration": {"months": 1}})
        == "2024-02-29T10:00:00+00:00"
    )
    # Across the DST change in Paris (31 March), a day keeps the wall-clock time.
    assert (
        await date_op(
            {
                "operation": "add",
                "value": "2024-03-30T12:00:00",
                "duration": {"days": 1, "hours": 2},
                "timezone": "Europe/Paris",
            }
        )
        == "2024-03-31T14:00:00+02:00"
    )
    assert (
        await date_op({"operation": "subtract", "value": "2024-03-01", "duration": {"years": 1, "weeks": 1}})
        == "2023-02-22T00:00:00+00:00"
    )


async def test_diff_and_to_timezone() -> None:
    assert (
        await date_op(
            {
                "operation": "diff",
                "value": "2024-01-01T00:00:00Z",
                "other": "2024-01-02T12:00:00Z",
                "unit": "hours",
            }
        )
        == 36
    )
    assert (
        await date_op(
            {
                "operation": "diff",
                "value": "2024-01-01T00:00:00Z",
                "other": "2024-01-01T00:00:30Z",
                "unit": "minutes",
            }
        )
        == 0.5
    )
    assert (
        await date_op(
            {"operation": "to_timezone", "value": "2024-07-01T12:00:00Z", "timezone": "America/New_York"}
        )
        == "2024-07-01T08:00:00-04:00"
    )


async def test_date_errors_are_clear() -> None:
    with pytest.raises(NodeError, match="cannot read 'tomorrow' as a date"):
        await date_op({"operation": "parse", "value": "tomorrow"})
    assert parameter_errors(DateTime, {"operation": "format", "value": "x"}) == [
        ("", "Value error, operation format needs a `format`, e.g. %Y-%m-%d")
    ]
    assert (
        parameter_errors(DateTime, {"operation": "to_timezone", "value": "x", "timezone": "Mars/Base"})[0][0]
        == "timezone"
    )


async def crypto(params: dict[str, Any], item: dict[str, Any] | None = None) -> Any:
    out = await run_node(Crypto, params, [item or {"id": 1}])
    return out["main"][0]["data"]


async def test_hashes_in_hex_and_base64() -> None:
    assert (
        await crypto({"operation": "hash", "value": "{{ json.email }}"}, {"email": "ada@example.com"})
        == hashlib.sha256(b"ada@example.com").hexdigest()
    )
    assert (
        await crypto({"operation": "hash", "value": "abc", "algorithm": "md5", "encoding": "base64"})
        == base64.b64encode(hashlib.md5(b"abc").digest()).decode()
    )
    assert (
        await crypto({"operation": "hash", "value": {"b": 1, "a": 2}})
        == hashlib.sha256(b'{"a":2,"b":1}').hexdigest()
    )


async def test_hmac_signs_with_a_secret() -> None:
    expected = hmac.new(b"s3cret", b"payload", "sha512").hexdigest()
    assert (
        await crypto({"operation": "hmac", "value": "payload", "secret": "s3cret", "algorithm": "sha512"})
        == expected
    )
    assert parameter_errors(Crypto, {"operation": "hmac", "value": "x"}) == [
        ("", "Value error, operation hmac needs a `secret`")
    ]


async def test_uuid_and_random_values() -> None:
    assert uuid.UUID(await crypto({"operation": "uuid"})).version == 4
    text = await crypto({"operation": "random_string", "length": 24})
    assert re.fullmatch(r"[A-Za-z0-9]{24}", text)
    raw = await crypto({"operation": "random_bytes", "length": 16, "encoding": "base64"})
    assert len(base64.b64decode(raw)) == 16
    out = await run_node(Crypto, {"operation": "uuid", "field": "meta.id"}, [{"a": 1}, {"a": 2}])
    ids = [i["meta"]["id"] for i in out["main"]]
    assert len(set(ids)) == 2
