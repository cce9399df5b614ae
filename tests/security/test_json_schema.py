"""User JSON schemas: patterns run in linear time; what RE2 cannot run is refused at save."""

from __future__ import annotations

import asyncio

from wirework.security.json_schema import check_schema, first_error

CATASTROPHIC = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}}


async def test_a_backtracking_pattern_answers_at_once_for_a_hostile_string() -> None:
    # Python's re needs ~2**40 steps here: the old validator held the thread for hours.
    hostile = {"code": "a" * 40 + "!"}
    where, why = await asyncio.wait_for(asyncio.to_thread(first_error, CATASTROPHIC, hostile), 10) or ("", "")
    assert where == "code" and "does not match" in why
    assert first_error(CATASTROPHIC, {"code": "aaaa"}) is None


def test_patterns_re2_cannot_run_and_pattern_properties_are_refused_at_save() -> None:
    backreference = {"type": "string", "pattern": r"(a)\1"}
    assert "backreferences or lookaround" in check_schema(backreference)[0]
    lookahead = {"type": "string", "pattern": "(?=a)a"}
    assert check_schema(lookahead)
    by_pattern = {"type": "object", "patternProperties": {"^x": {"type": "string"}}}
    assert "patternProperties is not supported" in check_schema(by_pattern)[0]
    assert first_error(by_pattern, {"x": 1}) == (
        "",
        f"the schema cannot be used: {check_schema(by_pattern)[0]}",
    )
    # Ordinary patterns, and a property that happens to be called "pattern", are fine.
    slug = {"type": "object", "properties": {"pattern": {"type": "string", "pattern": "^[a-z]+(-[a-z]+)*$"}}}
    assert check_schema(slug) == []
    assert first_error(slug, {"pattern": "a-b"}) is None
    assert first_error(slug, {"pattern": "A"}) is not None
