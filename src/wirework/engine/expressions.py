"""Expressions: `{{ ... }}` in node parameters, rendered per item in Jinja2's immutable sandbox.

Rules a workflow author sees:

- A string that is exactly one expression, `"{{ json.total * 2 }}"`, gives the native
  value (number, bool, list, object, null). Surrounding whitespace is ignored.
- A string mixing text and expressions, `"Hello {{ json.name }}!"`, gives a string.
  Inside text, null and missing values render as "", booleans as `true`/`false`,
  lists and objects as compact JSON, dates as ISO 8601.
- Strings without `{{` or `{%` are returned untouched (and never parsed), dicts and
  lists are walked recursively, other values are returned as they are.
- Names available: `json` (this item), `items` (all items on the node's first input),
  `index` (this item's position), `nodes` (outputs of nodes that ran, by node name,
  see `NodeOutputView`), `vars`, `execution`, `workflow`, `now` (tz-aware, in the
  workflow's time zone). Filters `to_json` and `from_json` are added to Jinja's own.
- Unknown names (`{{ jsn.x }}`), unknown node names and unsafe attribute access
  (`''.__class__`) are errors. A missing key on an object (`{{ json.nickname }}`) is
  not: as in n8n, where `$json.nickname` is `undefined`, it renders as "" in text,
  gives null as a whole value, is falsy, can be chained (`json.a.b.c`) and works with
  `| default("x")` and `is defined`. Doing arithmetic or ordering comparisons with it
  is an error that names the missing field. Out-of-range list indexes behave the same.

Compiled templates are cached (LRU) by their source text, so each distinct parameter
string is parsed once per process.
"""

from __future__ import annotations

import json as _json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any, Final

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.runtime import ChainableUndefined, Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from wirework.engine.errors import ExpressionError
from wirework.engine.items import Item, Items, NodeOutputs, json_problem

__all__ = [
    "EMPTY_NODES",
    "ENVIRONMENT",
    "CompiledTemplate",
    "MissingValue",
    "NodeOutputView",
    "NodesView",
    "compile_template",
    "expression_context",
    "has_expressions",
    "is_expression",
    "render_value",
]

_MAX_SEQUENCE: Final = 1_000_000
_MAX_EXPONENT: Final = 4096


class MissingValue(ChainableUndefined):
    """A key that an object does not have: falsy, "" in text, null as a value, chainable."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        # `json.missing == none` holds, like `undefined == null` in JavaScript.
        return other is None or isinstance(other, MissingValue)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(None)


def _missing(name: object) -> MissingValue:
    return MissingValue(hint=f"no field {name!r} in this object", name=str(name))


class NodeOutputView(list[Item]):
    """What `nodes["Name"]` gives in an expression: the node's primary output items.

    It is a list (index it, loop over it, `| length`), plus:
    `.outputs` — every output by name (`nodes["Check"].outputs["false"]`),
    `.first` / `.json` — the first item, `.last` — the last item (missing if none).
    The primary output is `main`, or the node type's first output when it has no
    `main` (IF → `true`). A node that has not run (or was skipped) shows no items.
    """

    __slots__ = ("outputs",)

    def __init__(self, outputs: NodeOutputs | None, primary: str) -> None:
        outputs = outputs or {}
        super().__init__(outputs.get(primary, ()))
        self.outputs = {k: v for k, v in outputs.items() if not k.startswith("$")}

    @property
    def first(self) -> Any:
        return self[0] if self else MissingValue(hint="the node has no items", name="first")

    @property
    def json(self) -> Any:
        return self.first

    @property
    def last(self) -> Any:
        return self[-1] if self else MissingValue(hint="the node has no items", name="last")


class NodesView(Mapping[str, NodeOutputView]):
    """`nodes` in expressions: node name → NodeOutputView, built lazily and cached per node run."""

    __slots__ = ("_cache", "_ids_by_name", "_outputs", "_primary")

    def __init__(
        self, ids_by_name: Mapping[str, str], outputs: Mapping[str, NodeOutputs], primary: Mapping[str, str]
    ) -> None:
        self._ids_by_name = ids_by_name
        self._outputs = outputs
        self._primary = primary
        self._cache: dict[str, NodeOutputView] = {}

    def __getitem__(self, name: str) -> NodeOutputView:
        view = self._cache.get(name)
        if view is None:
            node_id = self._ids_by_name[name]
            view = NodeOutputView(self._outputs.get(node_id), self._primary.get(node_id, "main"))
            self._cache[name] = view
        return view

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids_by_name)

    def __len__(self) -> int:
        return len(self._ids_by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._ids_by_name


EMPTY_NODES: Final = NodesView({}, {}, {})


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with dict keys preferred over dict methods and missing keys lenient."""

    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict):
            if attribute in obj:
                return obj[attribute]
            # Methods such as `json.keys()` still work; private names stay refused.
            if attribute.startswith("_") or hasattr(dict, attribute):
                return super().getattr(obj, attribute)
            return _missing(attribute)
        if isinstance(obj, NodesView):
            return self.getitem(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, dict):
            try:
                return obj[argument]
            except (KeyError, TypeError):
                return _missing(argument)
        if isinstance(obj, list) and type(argument) is int:
            try:
                return obj[argument]
            except IndexError:
                return _missing(argument)
        if isinstance(obj, NodesView):
            if isinstance(argument, str) and argument in obj:
                return obj[argument]
            return self.undefined(hint=f"no node named {argument!r} in this workflow", name=str(argument))
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        # Refuse the cheap ways to exhaust memory from one expression.
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and type(times) is int
                    and len(seq) * times > _MAX_SEQUENCE
                ):
                    raise SecurityError("the result of '*' would be too large")
        elif (
            operator == "**"
            and type(left) is int
            and type(right) is int
            and abs(left) > 1
            and right > _MAX_EXPONENT
        ):
            raise SecurityError("the exponent is too large")
        return super().call_binop(context, operator, left, right)


def _text(value: Any) -> Any:
    """How a value shows inside text (`"Total: {{ json.total }}"`)."""
    if value is None or isinstance(value, Undefined):
        if isinstance(value, StrictUndefined) and not isinstance(value, MissingValue):
            value._fail_with_undefined_error()
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict | list):
        return _json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_jsonable)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Undefined):
        return None
    raise TypeError(f"a value of type {type(value).__name__} is not JSON")


def _to_json(value: Any, indent: int | None = None) -> str:
    return _json.dumps(
        value, ensure_ascii=False, indent=indent, default=_jsonable, separators=None if indent else (",", ":")
    )


def _from_json(value: str) -> Any:
    return _json.loads(value)


ENVIRONMENT: Final = _Environment(
    undefined=StrictUndefined, finalize=_text, autoescape=False, keep_trailing_newline=True
)
ENVIRONMENT.filters["to_json"] = _to_json
ENVIRONMENT.filters["from_json"] = _from_json

_WHOLE: Final = re.compile(r"\s*\{\{(.*)\}\}\s*", re.DOTALL)
_OPENERS: Final = frozenset(
    {"variable_begin", "block_begin", "comment_begin", "linestatement_begin", "raw_begin"}
)


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A parameter string compiled once: either a native expression or a text template."""

    source: str
    expression: TemplateExpression | None
    template: Template | None


def is_expression(value: object) -> bool:
    """Whether a value is a string that holds Jinja syntax and must be rendered."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def has_expressions(value: Any) -> bool:
    """Whether any string inside `value` (walked through dicts and lists) is an expression."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(has_expressions(v) for v in value.values())
    if isinstance(value, list):
        return any(has_expressions(v) for v in value)
    return False


def _single_expression(source: str) -> str | None:
    """The inside of `{{ ... }}` when the whole string is one expression, else None."""
    match = _WHOLE.fullmatch(source)
    if match is None:
        return None
    try:
        openers = [kind for _, kind, _ in ENVIRONMENT.lex(source) if kind in _OPENERS]
    except TemplateSyntaxError:
        return None
    return match.group(1) if openers == ["variable_begin"] else None


@lru_cache(maxsize=4096)
def compile_template(source: str) -> CompiledTemplate:
    """Compile (once, cached) a parameter string; raises jinja2.TemplateSyntaxError."""
    inner = _single_expression(source)
    if inner is not None:
        return CompiledTemplate(source, ENVIRONMENT.compile_expression(inner, False), None)
    return CompiledTemplate(source, None, ENVIRONMENT.from_string(source))


def _native(value: Any, path: str) -> Any:
    """Turn a whole-expression result into a JSON value, or explain why it cannot be one."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if isinstance(value, Undefined):
        if isinstance(value, MissingValue):
            return None
        value._fail_with_undefined_error()
    if kind is dict or kind is list:
        if json_problem(value, "") is None:
            return value
        if kind is dict:
            return {str(k): _native(v, path) for k, v in value.items()}
        return [_native(v, path) for v in value]
    if isinstance(value, NodeOutputView):
        return list(value)
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): _native(v, path) for k, v in value.items()}
    if isinstance(value, list | tuple | range):
        return [_native(v, path) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if callable(value):
        raise ExpressionError(path, "the expression gives a function; did you forget '()'?")
    raise ExpressionError(path, f"the expression gives a {kind.__name__}, which is not JSON")


def _render_string(source: str, context: Mapping[str, Any], path: str) -> Any:
    try:
        compiled = compile_template(source)
        if compiled.expression is not None:
            return _native(compiled.expression(context), path)
        assert compiled.template is not None
        return compiled.template.render(context)
    except ExpressionError:
        raise
    except TemplateSyntaxError as exc:
        raise ExpressionError(path, f"syntax error: {exc.message}", expression=source) from None
    except SecurityError as exc:
        raise ExpressionError(path, f"not allowed: {exc}", expression=source) from None
    except UndefinedError as exc:
        raise ExpressionError(path, str(exc), expression=source) from None
    except Exception as exc:
        raise ExpressionError(path, f"{type(exc).__name__}: {exc}", expression=source) from None


def render_value(value: Any, context: Mapping[str, Any], path: str = "") -> Any:
    """Render every expression inside `value` for one item; other values come back as-is.

    Containers without expressions are returned without copying. Raises ExpressionError
    naming the parameter path (`fields.total`, `rules[2].condition`).
    """
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        return _render_string(value, context, path)
    if isinstance(value, dict):
        if not has_expressions(value):
            return value
        return {k: render_value(v, context, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        if not has_expressions(value):
            return value
        return [render_value(v, context, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def expression_context(
    *,
    item: Item,
    index: int,
    items: Items,
    nodes: NodesView,
    vars: Mapping[str, Any],
    execution: Mapping[str, Any],
    workflow: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The names an expression sees for one item (see the module docstring)."""
    return {
        "json": item,
        "index": index,
        "items": items,
        "nodes": nodes,
        "vars": vars,
        "execution": execution,
        "workflow": workflow,
        "now": now,
    }
