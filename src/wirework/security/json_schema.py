"""JSON Schemas that users give (MCP tool inputs, agent tool parameters, ai.extract schemas):
the one place that checks them and builds their validators.

jsonschema resolves a `$ref` it does not hold by fetching the URI itself (`urllib`, no timeout,
no SSRF guard, `file://` included), synchronously, on whatever thread validates — in Wirework
that is the event loop. Here nothing is ever fetched:

- `check_schema` (at save) refuses a `$ref` / `$dynamicRef` / `$recursiveRef` that is not local
  (`#...`), schemas larger than `MAX_SCHEMA_BYTES` or nested deeper than `MAX_SCHEMA_DEPTH`, and
  what the 2020-12 meta-schema refuses;
- `validator` (at use) resolves references only against the schema itself: its registry's
  `retrieve` refuses every URI, so a schema saved before these rules (or built another way)
  fails with a clear error instead of reaching the network or the disk.

Patterns run on RE2 (google-re2), in time linear in the text: Python's `re` backtracks, so a
pattern such as `^(a+)+$` and a caller's 40-character string would hold the thread (the event
loop) for minutes. A pattern RE2 cannot run (backreferences, lookaround) is refused at save, and
so is `patternProperties`, which jsonschema matches with `re` in several keywords.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any, Final, NoReturn

import re2
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from jsonschema.validators import extend
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable

MAX_SCHEMA_BYTES: Final = 64_000
"""A schema's JSON text at most this big (callers may hold theirs smaller)."""
MAX_SCHEMA_DEPTH: Final = 32
"""Objects and arrays nested at most this deep in a schema."""
_REF_KEYS: Final = ("$ref", "$dynamicRef", "$recursiveRef")
_DATA_KEYS: Final = frozenset({"const", "enum", "default", "examples"})
"""Keywords whose values are instances, not schemas: a "$ref" inside them is data."""


def _refuse(uri: str) -> NoReturn:
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


_REGISTRY: Final[Registry[Any]] = Registry(retrieve=_refuse)  # type: ignore[call-arg]

_RE2_OPTIONS: Final = re2.Options()
_RE2_OPTIONS.log_errors = False


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, _RE2_OPTIONS)


def _pattern_problem(pattern: str) -> str | None:
    try:
        _compiled(pattern)
    except re2.error:
        return (
            f"pattern {pattern[:200]!r} cannot be used: patterns run in linear time, without "
            "backreferences or lookaround"
        )
    return None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and _compiled(pattern).search(instance) is None:
        yield ValidationError(f"{instance[:200]!r} does not match {pattern[:200]!r}")


_Validator: Final = extend(Draft202012Validator, {"pattern": _pattern})


def _walk(value: Any, depth: int, problems: list[str]) -> None:
    if depth > MAX_SCHEMA_DEPTH:
        problems.append(f"the schema is nested deeper than {MAX_SCHEMA_DEPTH} levels")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _REF_KEYS and isinstance(item, str) and not item.startswith("#"):
                problems.append(
                    f"{key} {item[:200]!r} is not local: only references inside the schema "
                    '("#/$defs/...") are allowed; nothing is fetched'
                )
            elif key == "patternProperties":
                problems.append("patternProperties is not supported; use properties or additionalProperties")
            elif key == "pattern" and isinstance(item, str) and (problem := _pattern_problem(item)):
                problems.append(problem)
            elif key not in _DATA_KEYS:
                _walk(item, depth + 1, problems)
            if len(problems) >= 5:
                return
    elif isinstance(value, list):
        for item in value:
            _walk(item, depth + 1, problems)
            if len(problems) >= 5:
                return


def check_schema(schema: Any, *, max_bytes: int = MAX_SCHEMA_BYTES) -> list[str]:
    """Why `schema` cannot be used as a user's JSON Schema (2020-12); [] when it can."""
    try:
        size = len(json.dumps(schema, allow_nan=False).encode())
    except (TypeError, ValueError, RecursionError):
        return ["the schema is not JSON"]
    if size > max_bytes:
        return [f"the schema is larger than {max_bytes:,} bytes as JSON"]
    if not isinstance(schema, dict | bool):
        return ["a JSON Schema is an object"]
    problems: list[str] = []
    _walk(schema, 0, problems)
    if problems:
        return problems
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [f"not a valid JSON Schema: {exc.message}"]
    return []


def validator(schema: dict[str, Any] | bool) -> Draft202012Validator:
    """A validator for `schema` that resolves references only inside it (never fetches)."""
    return _Validator(schema, registry=_REGISTRY)


def first_error(schema: dict[str, Any] | bool, instance: Any) -> tuple[str, str] | None:
    """(where, why) for the most relevant way `instance` does not fit `schema`, or None.
    `where` is the path joined by "/" ("" at the root). A schema that cannot be used (a
    reference it does not hold, an invalid schema) is an error too: nothing passes it."""
    problems = check_schema(schema)
    if problems:
        return "", f"the schema cannot be used: {problems[0]}"
    try:
        error: ValidationError | None = best_match(validator(schema).iter_errors(instance))
    except Unresolvable as exc:
        return "", f"the schema cannot be used: it refers to {str(exc.ref)[:200]!r}, which it does not hold"
    if error is None:
        return None
    return "/".join(str(p) for p in error.absolute_path), error.message


__all__ = ["MAX_SCHEMA_BYTES", "MAX_SCHEMA_DEPTH", "check_schema", "first_error", "validator"]
