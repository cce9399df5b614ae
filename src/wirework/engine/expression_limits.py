"""The bounds every expression render stays within: a work budget and a size cap.

Expressions are written by workflow authors and run inside the server, so one render must
not be able to hold the process for long or fill its memory. `expressions` installs the
hooks; this module holds what they check.

**Work.** Each render gets a `Budget` of `max_steps` steps. A step is one loop turn, one
call (function, method, filter, test; a macro call counts `MACRO_STEPS`), one operator,
one comparison or one rendered block, plus what the operation reads and makes: a step per
element of a list or object and one per `BYTES_PER_STEP` bytes of text, so big strings
and lists cost what they weigh (a million steps take about a second of CPU). Past the
budget the render stops with `TooMuchWork`. Every `CHECK_EVERY` steps the budget also lets
the event loop take a turn when the render has had the loop for a whole slice (see
`cooperative`).

**Size.** No value an expression makes may weigh more than `max_size`: text and bytes
weigh one per character or byte, every element of a list, tuple or object (and every
number) 8 more, and a part that appears several times (`[x, x]`) counts each time, so
what would be written out (JSON, text) is bounded too, not only what is in memory.
Integers are also limited to `MAX_INT_BITS` bits. Results are checked as they are made
(`Budget.made`); the operations that can make far more than they are given (padding and
widths, `*` and `**`, `%` and `format`, `replace`, `join`, `indent`, `wordwrap`,
`expandtabs`, `translate`, `batch`, `slice`, `urlize`, `lipsum`, `strftime`) are checked
before they allocate, by the `check_*` functions below.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, MappingView, Sequence, Sized
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import chain
from typing import Any, Final

from jinja2.utils import Namespace

from wirework.engine.cooperative import pause_if_due

__all__ = [
    "BYTES_PER_STEP",
    "MACRO_STEPS",
    "MAX_INT_BITS",
    "Budget",
    "ExpressionLimits",
    "LimitExceeded",
    "NumberTooLarge",
    "TooLarge",
    "TooMuchWork",
    "active_budget",
    "configure",
    "current_limits",
    "end_render",
    "start_render",
]

BYTES_PER_STEP: Final = 256
"""A step is charged for every this many bytes an operation reads or makes."""
MACRO_STEPS: Final = 20
"""What calling a macro costs: Jinja's macro machinery takes about 20 loop turns' time."""
CHECK_EVERY: Final = 64
"""Steps between two checks of the budget and the time slice."""
MAX_INT_BITS: Final = 14_000
"""Largest integer an expression may make: about 4,200 decimal digits, within what Python
will write as text (4,300), so any number an expression makes can be stored as JSON."""
_ELEMENT: Final = 8
"""What one element of a container (or one number) weighs."""


@dataclass(frozen=True, slots=True)
class ExpressionLimits:
    """Per render: at most `max_steps` steps, no value heavier than `max_size` (about bytes)."""

    max_steps: int = 1_000_000
    max_size: int = 10_000_000


_limits = ExpressionLimits()


def configure(limits: ExpressionLimits) -> ExpressionLimits:
    """Set the limits of every later render in this process; returns the previous ones.
    The runtime calls it at start with the `expression_max_*` settings."""
    global _limits
    previous, _limits = _limits, limits
    return previous


def current_limits() -> ExpressionLimits:
    return _limits


class LimitExceeded(Exception):
    """A render went past one of its limits; the message says which and how to change it."""


class TooMuchWork(LimitExceeded):
    def __init__(self, max_steps: int) -> None:
        super().__init__(
            f"the expression needs more than {max_steps:,} steps (loop turns, calls and data "
            "handled); make it do less per item, or raise WIREWORK_EXPRESSION_MAX_STEPS"
        )


class TooLarge(LimitExceeded):
    def __init__(self, what: str, max_size: int) -> None:
        super().__init__(
            f"{what} would be larger than the expression size limit ({max_size:,} bytes; "
            "WIREWORK_EXPRESSION_MAX_SIZE)"
        )


class NumberTooLarge(LimitExceeded):
    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} would be a number of more than {MAX_INT_BITS:,} bits (about 4,200 digits), "
            "the largest an expression may make"
        )


def _steps(value: Any) -> int:
    """What reading a value costs, from its outer length: a step per element (Python-level
    work per element is about a loop turn), a step per BYTES_PER_STEP of text or bytes."""
    kind = type(value)
    if kind is str or kind is bytes:
        return len(value) // BYTES_PER_STEP
    if kind is int or kind is float or kind is bool or value is None:
        return 0
    if kind is list or kind is tuple or kind is dict:
        return len(value)
    if isinstance(value, str | bytes | bytearray):
        return len(value) // BYTES_PER_STEP
    if isinstance(value, Sized):
        return len(value)
    return 0


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        return chain.from_iterable(value.items())
    if isinstance(value, Namespace):
        return chain.from_iterable(value._Namespace__attrs.items())
    return iter(value)


def _flat_size(value: Any) -> int | None:
    """The weight of a value that holds no others, or None for a container."""
    kind = type(value)
    if kind is str or kind is bytes:
        return len(value)
    if kind is int:
        return _ELEMENT + int(value.bit_length()) // 8
    if kind is float or kind is bool or value is None:
        return _ELEMENT
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    if isinstance(value, range):
        return _ELEMENT * len(value)
    if isinstance(value, list | tuple | set | frozenset | deque | Mapping | MappingView | Namespace):
        return None
    return _ELEMENT


_REMEMBERED: Final = 4096
"""How many container sizes a render remembers (it holds those containers until it ends,
or until it has remembered this many, when it forgets them all)."""


class Budget:
    """The steps and sizes of one render (see the module docstring)."""

    __slots__ = ("_check_at", "_sizes", "max_size", "max_steps", "steps")

    def __init__(self, limits: ExpressionLimits) -> None:
        self.max_steps = limits.max_steps
        self.max_size = limits.max_size
        self.steps = 0
        self._check_at = min(CHECK_EVERY, self.max_steps + 1)
        self._sizes: dict[int, tuple[Any, int]] = {}

    def charge(self, steps: int) -> None:
        self.steps += steps
        if self.steps >= self._check_at:
            if self.steps > self.max_steps:
                raise TooMuchWork(self.max_steps)
            self._check_at = min(self.steps + CHECK_EVERY, self.max_steps + 1)
            pause_if_due()

    def touch(self, *values: Any) -> None:
        """Charge one step, plus what reading the values an operation is given costs."""
        steps = 1 + len(values)
        for value in values:
            steps += _steps(value)
        self.charge(steps)

    def made(self, value: Any, what: str = "the result") -> Any:
        """Check (and charge for) a value an operation made; returns it."""
        kind = type(value)
        if kind is str or kind is bytes:
            size = len(value)
        elif kind is int:
            if value.bit_length() > MAX_INT_BITS:
                raise NumberTooLarge(what)
            return value
        else:
            size = self.size(value)
        if size > self.max_size:
            raise TooLarge(what, self.max_size)
        if size >= BYTES_PER_STEP:
            self.charge(size // BYTES_PER_STEP)
        return value

    def allow(self, size: int, what: str) -> None:
        """Before making something of (at most) `size`: refuse it if too large, charge for it."""
        if size > self.max_size:
            raise TooLarge(what, self.max_size)
        self.charge(1 + size // BYTES_PER_STEP)

    def counted(self, values: Iterator[Any]) -> Iterator[Any]:
        """An iterator that charges a step per value it gives (for lazy inputs: generators)."""
        for value in values:
            self.charge(1)
            yield value

    def size(self, value: Any) -> int:
        """The weight of a value (see the module docstring); stops counting past `max_size`.

        Each element looked at costs a step. Containers measured are remembered (the sandbox
        cannot change lists and objects), so a value built from parts is measured in the
        time it takes to look at its own elements; whatever holds a namespace, which can
        change, is measured anew.
        """
        flat = _flat_size(value)
        if flat is not None:
            return flat
        sizes = self._sizes
        cached = sizes.get(id(value))
        if cached is not None:
            return cached[1]
        limit = self.max_size
        volatile = isinstance(value, Namespace)
        total = _ELEMENT if volatile else _ELEMENT * len(value)
        visited = 0
        # Iterative, so deep nesting cannot exhaust the stack. A frame: [container, its
        # children, the total when it started, whether it holds a namespace].
        stack: list[list[Any]] = [[value, _children(value), 0, volatile]]
        while stack:
            frame = stack[-1]
            for child in frame[1]:
                visited += 1
                if visited == CHECK_EVERY:
                    self.charge(visited)
                    visited = 0
                flat = _flat_size(child)
                if flat is None:
                    cached = sizes.get(id(child))
                    if cached is None:
                        volatile = isinstance(child, Namespace)
                        if volatile:
                            for outer in stack:
                                outer[3] = True
                        stack.append([child, _children(child), total, volatile])
                        total += _ELEMENT if volatile else _ELEMENT * len(child)
                        break
                    flat = cached[1]
                total += flat
                if total > limit:
                    self.charge(visited)
                    return total
            else:
                stack.pop()
                if not frame[3]:
                    if len(sizes) >= _REMEMBERED:
                        sizes.clear()
                    sizes[id(frame[0])] = (frame[0], total - frame[2])
        self.charge(visited)
        return total


_ACTIVE: ContextVar[Budget | None] = ContextVar("wirework_expression_budget", default=None)


def active_budget() -> Budget:
    """The budget of the render in progress (a fresh one outside any render)."""
    budget = _ACTIVE.get()
    return budget if budget is not None else Budget(_limits)


def start_render(limits: ExpressionLimits | None = None) -> Token[Budget | None]:
    """Give the render that starts now a fresh budget, of `limits` or the process's (undo
    with `end_render`)."""
    return _ACTIVE.set(Budget(limits or _limits))


def end_render(token: Token[Budget | None]) -> None:
    _ACTIVE.reset(token)


# -- Checks before operations that can make far more than they are given -----------------------


def _int_arg(value: Any) -> int:
    return value if type(value) is int else 0


def check_width(budget: Budget, width: Any, what: str) -> None:
    """center/ljust/rjust/zfill and the like: the result is at most `width` long."""
    if _int_arg(width) > budget.max_size:
        raise TooLarge(what, budget.max_size)


def check_repeat(budget: Budget, left: Any, right: Any) -> None:
    """`*`: a sequence repeated, or two integers multiplied."""
    if type(left) is int and type(right) is int:
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise NumberTooLarge("the result of '*'")
        return
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | bytes | bytearray | list | tuple) and type(times) is int and times > 0:
            budget.allow(budget.size(seq) * times, "the result of '*'")


def check_power(budget: Budget, left: Any, right: Any) -> None:
    # The result has at least (bits - 1) * right bits; `made` checks its exact size after.
    if (
        type(left) is int
        and type(right) is int
        and right > 0
        and (left.bit_length() - 1) * right > MAX_INT_BITS
    ):
        raise NumberTooLarge("the result of '**'")


_PRINTF: Final = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?[hlL]?(?P<kind>.)",
    re.DOTALL,
)


def check_printf(budget: Budget, template: Any, values: Any) -> None:
    """`text % values` and the `format` filter: widths, precisions and the values filled in."""
    if not isinstance(template, str | bytes):
        return
    source = template if isinstance(template, str) else template.decode("latin-1")
    bound = len(source)
    positional = list(values) if type(values) is tuple else [values]
    used = 0
    for match in _PRINTF.finditer(source):
        if match["kind"] == "%":
            continue
        if match["width"] == "*" or match["precision"] == "*":
            raise LimitExceeded("'*' widths in '%' formatting are not supported in expressions")
        bound += int(match["width"] or 0) + int(match["precision"] or 0)
        if match["key"] is not None and isinstance(values, Mapping):
            value = values.get(match["key"])
        else:
            value = positional[used] if used < len(positional) else None
            used += 1
        weight = budget.size(value)
        # A string goes in as it is; anything else may be written as its repr (escaped).
        bound += weight if isinstance(value, str) and match["kind"] in "sa" else 10 * weight + 400
        if bound > budget.max_size:
            break
    budget.allow(bound, "the result of '%' formatting")


_SPEC_NUMBERS: Final = re.compile(r"\d+")


def check_format_spec(budget: Budget, value: Any, spec: str) -> None:
    """One `{...:spec}` field of str.format: its width and precision (or strftime directives)."""
    if isinstance(value, date | time):
        check_strftime(budget, spec)
        return
    for number in _SPEC_NUMBERS.findall(spec):
        if len(number) > 12 or int(number) > budget.max_size:
            raise TooLarge("a '{}' format width or precision", budget.max_size)


def check_strftime(budget: Budget, pattern: Any) -> None:
    # CPython gives up (returns "") once a result exceeds 256 times the pattern's length;
    # %f, %z and %Z are expanded up to 3 times before that.
    if isinstance(pattern, str):
        budget.allow(768 * len(pattern), "the result of strftime")


def check_replace(budget: Budget, text: Any, old: Any, new: Any, count: Any = -1) -> None:
    kind = type(text)
    if kind not in (str, bytes) or type(old) is not kind or type(new) is not kind:
        return
    found = text.count(old)
    if len(new) <= len(old):
        return
    if type(count) is int and count >= 0:
        found = min(found, count)
    budget.allow(len(text) + found * (len(new) - len(old)), "the result of 'replace'")


def check_expandtabs(budget: Budget, text: Any, tabsize: Any = 8) -> None:
    tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t") if isinstance(text, bytes) else 0
    if tabs:
        budget.allow(len(text) + tabs * max(_int_arg(tabsize), 0), "the result of 'expandtabs'")


def check_translate(budget: Budget, text: Any, table: Any) -> None:
    if isinstance(text, str) and isinstance(table, Mapping):
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
        budget.allow(len(text) * max(longest, 1), "the result of 'translate'")


def joined(budget: Budget, separator: str | bytes | bytearray, parts: Iterable[Any]) -> list[Any]:
    """`sep.join(parts)`: the parts as a list, refused before joining if the result is too large."""
    pieces = list(parts)
    total = len(separator) * max(len(pieces) - 1, 0)
    for piece in pieces:
        if isinstance(piece, str | bytes | bytearray):
            total += len(piece)
    budget.allow(total, "the result of 'join'")
    budget.charge(len(pieces))
    return pieces


def check_indent(budget: Budget, text: Any, width: Any = 4) -> None:
    if isinstance(width, str):
        step = len(width)
    else:
        check_width(budget, width, "the 'indent' width")
        step = max(_int_arg(width), 0)
    if isinstance(text, str):
        budget.allow(len(text) + (text.count("\n") + 1) * step, "the result of 'indent'")


def check_wordwrap(budget: Budget, text: Any, width: Any = 79, wrapstring: Any = None) -> None:
    if not isinstance(text, str):
        return
    glue = len(wrapstring) if isinstance(wrapstring, str) else 1
    lines = 2 * len(text) // max(_int_arg(width), 1) + text.count("\n") + 1
    budget.allow(len(text) + lines * glue, "the result of 'wordwrap'")


def check_urlize(budget: Budget, text: Any, *extras: Any) -> None:
    if isinstance(text, str):
        extra = sum(len(e) for e in extras if isinstance(e, str))
        budget.allow(3 * len(text) + (len(text) // 4 + 1) * (extra + 64), "the result of 'urlize'")


def check_count(budget: Budget, count: Any, what: str) -> None:
    """batch/slice: a number of elements or slices made up to `count`."""
    if _int_arg(count) * _ELEMENT > budget.max_size:
        raise TooLarge(what, budget.max_size)


def check_lipsum(budget: Budget, n: Any = 5, low: Any = 20, high: Any = 100) -> None:
    words = max(_int_arg(low), _int_arg(high), 1)
    budget.allow(max(_int_arg(n), 0) * words * 16, "the result of 'lipsum'")


def arg(args: Sequence[Any], kwargs: Mapping[str, Any], index: int, name: str, default: Any) -> Any:
    """An argument given by position or by name."""
    if index < len(args):
        return args[index]
    return kwargs.get(name, default)


class CappedText:
    """A write-only text stream that refuses to grow past the size limit (pprint, indented JSON)."""

    __slots__ = ("_budget", "_parts", "_size", "_what")

    def __init__(self, budget: Budget, what: str) -> None:
        self._budget = budget
        self._parts: list[str] = []
        self._size = 0
        self._what = what

    def write(self, text: str) -> int:
        self._size += len(text)
        if self._size > self._budget.max_size:
            raise TooLarge(self._what, self._budget.max_size)
        self._budget.charge(1 + len(text) // BYTES_PER_STEP)
        self._parts.append(text)
        return len(text)

    def getvalue(self) -> str:
        return "".join(self._parts)


def is_datetime(value: Any) -> bool:
    return isinstance(value, datetime | date | time)
