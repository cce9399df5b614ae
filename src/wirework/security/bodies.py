"""Request bodies from outside: the one JSON parser for webhook and API bodies, and the text check.

Whatever enters here is later stored (JSON columns on three databases), rendered and answered,
so the door refuses what would break any of those, with a 400 instead of a 500 later:

- not UTF-8, or not JSON;
- `NaN`, `Infinity`, `-Infinity`, and numbers too large for a float (`1e999` is infinity):
  Python accepts them, JSON, PostgreSQL and every JSON consumer do not;
- lone surrogates (`"\\ud800"`): valid JSON escapes that no UTF-8 text can hold, so storing or
  answering them fails;
- the NUL character (`"\\u0000"`): PostgreSQL stores it neither in JSON nor in text, so a call
  carrying one failed with a 500 there (and its execution, on every claim);
- nesting deeper than `MAX_JSON_DEPTH`: the decoder and everything after it recurse (about
  1,000 levels exhaust Python's stack), and MariaDB stores JSON nested at most 31 levels. A
  webhook body is kept 3 levels down in an execution's records (`{"main": [{"body": …}]}`),
  so 28 levels are what all three databases hold.

The depth is measured on the raw bytes before decoding, only when the body holds more brackets
than the limit, so small bodies pay two `bytes.count`s.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from wirework.errors import BadRequest

MAX_JSON_DEPTH = 28
MAX_JSON_VALUES = 200_000
"""Values (array elements, object members, containers) one body may hold. Decoding holds the
GIL in C, so a thread would not spare the event loop: 2.6 million `[]` in 8 MB held it for
seconds per call. 200,000 decode in about 0.1 s."""

_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_NOT_VALUE_MARK = bytes(b for b in range(256) if b not in b'[{,"')
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
_NOT_TEXT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
"""Characters no database stores as text: lone UTF-16 surrogates, and NUL (PostgreSQL)."""


def parse_json(body: bytes) -> Any:
    """The JSON value of `body`, or BadRequest saying what is wrong with it."""
    containers = body.count(b"[") + body.count(b"{")
    if containers > MAX_JSON_DEPTH and _depth(body) > MAX_JSON_DEPTH:
        raise _invalid(f"it nests deeper than {MAX_JSON_DEPTH} levels")
    if containers + body.count(b",") > MAX_JSON_VALUES and _values(body) > MAX_JSON_VALUES:
        raise _invalid(f"it holds more than {MAX_JSON_VALUES:,} values; send it in parts")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _invalid(f"it is not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except ValueError as exc:  # JSONDecodeError, and the two hooks below
        raise _invalid(str(exc)) from None
    except RecursionError:  # a backstop: _depth has refused anything this deep
        raise _invalid("it nests too deeply") from None
    if _NOT_TEXT_ESCAPE.search(text) and _holds_non_text(value):
        raise _invalid(
            "it holds a lone UTF-16 surrogate (such as \\ud800) or a NUL character (\\u0000), which is "
            "not text the databases store"
        )
    return value


def check_text(value: Any, *, where: str) -> None:
    """BadRequest if a string (or key) anywhere in `value` holds a lone surrogate or a NUL."""
    if _holds_non_text(value):
        raise BadRequest(f"The {where} holds a lone UTF-16 surrogate or a NUL character, which is not text.")


def _invalid(reason: str) -> BadRequest:
    return BadRequest(
        f"The request body is not valid JSON: {reason}.",
        errors=[{"loc": ["body"], "msg": reason, "type": "json_invalid"}],
    )


def _holds_non_text(value: Any) -> bool:
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            if NOT_TEXT.search(current):
                return True
        elif isinstance(current, dict):
            stack.extend(current)
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return False


def _depth(body: bytes) -> int:
    """How deep the brackets outside strings nest (exact for valid JSON; for anything else the
    decoder refuses it anyway)."""
    outside = _outside_strings(body, _NOT_STRUCTURE)
    return max(accumulate(map(_STEP.__getitem__, outside)), default=0)


def _values(body: bytes) -> int:
    """Commas and opening brackets outside strings: about the number of values."""
    return len(_outside_strings(body, _NOT_VALUE_MARK))


def _outside_strings(body: bytes, dropped: bytes) -> bytes:
    """The characters of `body` outside strings, less those in `dropped` (which keeps quotes).
    Escapes go first (a backslash only occurs in strings, and `\\\\` before `\\"`), then the
    dropped characters; what is left between quotes was inside strings."""
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(unescaped.translate(None, dropped).split(b'"')[::2])


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise ValueError(f"{literal[:20]} is too large for a JSON number")
    return number
