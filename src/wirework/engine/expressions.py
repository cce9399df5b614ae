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
  `EXPRESSION_NAMES` lists them with what each means; the API serves that list
  (GET /api/v1/expressions) and the editor's preview offers exactly those names.
- Unknown names (`{{ jsn.x }}`), unknown node names and unsafe attribute access
  (`''.__class__`) are errors. A missing key on an object (`{{ json.nickname }}`) is
  not: as in n8n, where `$json.nickname` is `undefined`, it renders as "" in text,
  gives null as a whole value, is falsy, can be chained (`json.a.b.c`) and works with
  `| default("x")` and `is defined`. An ordering comparison (`<`, `<=`, `>`, `>=`) with a
  missing value or null is false, as with `undefined` in JavaScript, so a condition on a
  field that some items lack sends them down the false branch instead of failing the run.
  Arithmetic with it is an error that names the missing field. Out-of-range list indexes
  behave the same.

Compiled templates are cached (LRU) by their source text, so each distinct parameter
string is parsed once per process.

Every render is bounded (see `expression_limits`): a budget of steps (loop turns, calls,
operators, comparisons and data handled) per `render_value` call, and a size cap on every
value an expression makes, checked before the operations that could allocate far more
than they are given. Templates are instrumented when compiled (`_Instrument`) so that loop
turns, comparisons, slices, literals and `~` are counted as well as calls, filters, tests
and operators. Inside a node, a long render gives the event loop a turn every millisecond
and stops there when the node times out (see `cooperative`).
"""

from __future__ import annotations

import json as _json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache, update_wrapper
from pprint import PrettyPrinter
from types import BuiltinMethodType, MethodType
from typing import Any, Final, cast

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.runtime import ChainableUndefined, Context, Macro, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import Namespace, _PassArg, generate_lorem_ipsum, pass_context, pass_environment
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from wirework.engine.cooperative import pause_if_due
from wirework.engine.errors import ExpressionError
from wirework.engine.expression_limits import (
    BYTES_PER_STEP,
    MACRO_STEPS,
    Budget,
    CappedText,
    ExpressionLimits,
    LimitExceeded,
    TooLarge,
    active_budget,
    arg,
    check_count,
    check_expandtabs,
    check_format_spec,
    check_indent,
    check_lipsum,
    check_power,
    check_printf,
    check_repeat,
    check_replace,
    check_strftime,
    check_translate,
    check_urlize,
    check_width,
    check_wordwrap,
    end_render,
    joined,
    start_render,
)
from wirework.engine.items import Item, Items, NodeOutputs, json_problem

__all__ = [
    "EMPTY_NODES",
    "ENVIRONMENT",
    "EXPRESSION_NAMES",
    "CompiledTemplate",
    "MissingValue",
    "NodeOutputView",
    "NodesView",
    "compile_template",
    "expression_context",
    "expression_reference",
    "has_expressions",
    "is_expression",
    "render_value",
]


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

    def _compares_false(self, other: object) -> bool:
        # `json.missing > 5` and `5 > json.missing` are false, like `undefined > 5` in JavaScript.
        return False

    __lt__ = __le__ = __gt__ = __ge__ = _compares_false  # type: ignore[assignment]


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


# -- Instrumentation: what the compiled template counts besides calls, filters and operators ----

_ITERATE: Final = "@iterate"
_TOUCH: Final = "@touch"
_MADE: Final = "@made"
_NAMESPACE: Final = "@namespace"
_ORDERED: Final = "@ordered"
"""Internal filters the instrumented code calls; '@' cannot be typed in a filter name."""


class _Instrument(NodeTransformer):
    """Rewrites a parsed template so loop turns, comparisons, slices, `~`, literals with
    computed parts and namespace assignments go through the budget: `{% for x in xs %}`
    becomes `{% for x in xs|@iterate %}`, `a in b` becomes `a|@touch in b|@touch`,
    `{% set ns.a = v %}` becomes `{% set ns.a = v|@namespace(ns, 'a') %}`, and so on."""

    def __init__(self, environment: _Environment) -> None:
        self.environment = environment

    def _wrap(self, node: nodes.Node, name: str) -> nodes.Filter:
        return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno, environment=self.environment)

    def visit_Assign(self, node: nodes.Assign) -> nodes.Node:
        self.generic_visit(node)
        if isinstance(node.target, nodes.NSRef):  # {% set ns.attr = value %}
            node.node = self._into_namespace(node.node, node.target)
        return node

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> nodes.Node:
        self.generic_visit(node)
        if isinstance(node.target, nodes.NSRef):  # {% set ns.attr %}...{% endset %}
            # The block's text (or the block's own filter of it) goes through the check.
            node.filter = self._into_namespace(node.filter, node.target)
        return node

    def _into_namespace(self, value: nodes.Node | None, target: nodes.NSRef) -> nodes.Filter:
        namespace = nodes.Name(target.name, "load", lineno=target.lineno, environment=self.environment)
        attr = nodes.Const(target.attr, lineno=target.lineno, environment=self.environment)
        return nodes.Filter(
            value,
            _NAMESPACE,
            [namespace, attr],
            [],
            None,
            None,
            lineno=target.lineno,
            environment=self.environment,
        )

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._wrap(node.iter, _ITERATE)
        return node

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        self.generic_visit(node)
        # Operands of `<`, `>`, `<=`, `>=` also turn null into a missing value, which compares false.
        kind = _ORDERED if any(operand.op in _ORDERING for operand in node.ops) else _TOUCH
        if not isinstance(node.expr, nodes.Const):
            node.expr = self._wrap(node.expr, kind)
        for operand in node.ops:
            if not isinstance(operand.expr, nodes.Const):
                operand.expr = self._wrap(operand.expr, kind)
        return node

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        self.generic_visit(node)
        return self._wrap(node, _MADE) if isinstance(node.arg, nodes.Slice) else node  # a copy

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._wrap(node, _MADE)

    def _literal(self, node: nodes.List | nodes.Tuple | nodes.Dict, parts: list[nodes.Node]) -> nodes.Node:
        self.generic_visit(node)
        if all(isinstance(part, nodes.Const) for part in parts):
            return node
        return self._wrap(node, _MADE)

    def visit_List(self, node: nodes.List) -> nodes.Node:
        return self._literal(node, list(node.items))

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        return self._literal(node, [part for pair in node.items for part in (pair.key, pair.value)])

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        if node.ctx != "load":
            return self.generic_visit(node)
        return self._literal(node, list(node.items))


class _CodeGenerator(CodeGenerator):
    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        assert isinstance(self.environment, _Environment)
        _Instrument(self.environment).visit(node)
        super().visit_Template(node, frame)


@pass_context
def _iterate(context: Context, iterable: Any) -> Iterator[Any]:
    budget = active_budget()
    for value in iterable:
        budget.charge(1)
        yield value


@pass_context
def _touch(context: Context | None, value: Any) -> Any:
    budget = active_budget()
    budget.touch(value)
    return budget.counted(value) if isinstance(value, Iterator) else value


_ORDERING: Final = frozenset({"lt", "lteq", "gt", "gteq"})


@pass_context
def _ordered(context: Context | None, value: Any) -> Any:
    """A compared operand, charged like `_touch`; null becomes a missing value (equal to null,
    false in every ordering comparison)."""
    if value is None:
        return MissingValue(hint="the value is null", name="null")
    return _touch(context, value)


@pass_context
def _made(context: Context, value: Any) -> Any:
    return active_budget().made(value)


@pass_context
def _namespace_value(context: Context, value: Any, namespace: Any, attr: str) -> Any:
    """Before `{% set ns.attr = value %}`: the namespace, with the value in it, must stay
    within the size limit (it is one value: `{{ ns }}` writes all of it)."""
    budget = active_budget()
    budget.made(value)
    if isinstance(namespace, Namespace):
        attrs = namespace._Namespace__attrs
        total = budget.size(namespace) + budget.size(value)
        if attr in attrs:
            total -= budget.size(attrs[attr])
        if total > budget.max_size:
            raise TooLarge("the namespace", budget.max_size)
    return value


# -- Filters and tests, each counted and checked -------------------------------------------------

_Check = Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], Any]
_UNCHANGED: Final = object()


def _as_text(value: Any) -> Any:
    return value if isinstance(value, str) else str(value)


def _check_join(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    separator = _as_text(arg(args, kwargs, 0, "d", ""))
    attribute = arg(args, kwargs, 1, "attribute", None)
    pieces = list(value)
    texts = pieces if attribute is None else map(make_attrgetter(ENVIRONMENT, attribute), pieces)
    strings = [_as_text(piece) for piece in texts]
    joined(budget, separator, strings)
    return strings if attribute is None else pieces


def _check_groupby(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`groupby(attr, default)` keys every element lacking `attr` with `default`, lower-cased
    (a copy each) unless case-sensitive: as many copies as elements."""
    default = arg(args, kwargs, 1, "default", None)
    if default is None:
        return _UNCHANGED
    pieces = list(value)
    budget.allow(len(pieces) * budget.size(default), "the keys of 'groupby'")
    return pieces


def _check_batch(budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if arg(args, kwargs, 1, "fill_with", None) is not None:
        check_count(budget, arg(args, kwargs, 0, "linecount", 0), "the 'batch' size")
    return _UNCHANGED


_CONSTANT_TIME: Final = frozenset({"length", "count", "first", "default", "d", "random", "attr"})
"""Filters that do not read their whole input: charged one step, not its length."""
_PER_CHARACTER: Final = frozenset(
    {"wordwrap", "title", "urlize", "urlencode", "striptags", "wordcount"}
    | {"list", "sort", "unique", "batch", "slice", "groupby", "join", "min", "max", "sum"}
    | {"map", "select", "reject", "selectattr", "rejectattr"}
)
"""Filters that, given text, do Python-level work per character or make an element of each:
charged a step per character (before they run, so a long text cannot become a huge list)."""

_FILTER_CHECKS: Final[dict[str, _Check]] = {
    "center": lambda b, v, a, k: check_width(b, arg(a, k, 0, "width", 80), "the 'center' width"),
    "indent": lambda b, v, a, k: check_indent(b, _as_text(v), arg(a, k, 0, "width", 4)),
    "wordwrap": lambda b, v, a, k: check_wordwrap(
        b, _as_text(v), arg(a, k, 0, "width", 79), arg(a, k, 2, "wrapstring", None)
    ),
    "format": lambda b, v, a, k: check_printf(b, _as_text(v), k or tuple(a)),
    "replace": lambda b, v, a, k: check_replace(
        b,
        _as_text(v),
        _as_text(arg(a, k, 0, "old", "")),
        _as_text(arg(a, k, 1, "new", "")),
        arg(a, k, 2, "count", None),
    ),
    "join": _check_join,
    "groupby": _check_groupby,
    "batch": _check_batch,
    "slice": lambda b, v, a, k: check_count(b, arg(a, k, 0, "slices", 0), "the number of slices"),
    "urlize": lambda b, v, a, k: check_urlize(
        b, _as_text(v), arg(a, k, 2, "target", None), arg(a, k, 3, "rel", None)
    ),
}


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """The filter, charging the budget for what it reads and checking what it makes.

    The guard takes the template context, which also keeps Jinja from running filters at
    compile time (constant folding), where no render budget applies."""
    pass_arg = _PassArg.from_obj(func)
    check = _FILTER_CHECKS.get(name)
    what = f"the result of '{name}'"

    cheap = name in _CONSTANT_TIME
    per_character = name in _PER_CHARACTER

    def guarded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        budget = active_budget()
        if cheap:
            budget.charge(1)
        else:
            budget.touch(value, *args)
            if isinstance(value, Iterator):  # a generator (map, select...): charged as consumed
                value = budget.counted(value)
            elif per_character and isinstance(value, str):
                budget.charge(len(value))
        if check is not None:
            replaced = check(budget, value, args, kwargs)
            if replaced is not None and replaced is not _UNCHANGED:
                value = replaced
        if pass_arg is _PassArg.context:
            result = func(context, value, *args, **kwargs)
        elif pass_arg is _PassArg.eval_context:
            result = func(context.eval_ctx, value, *args, **kwargs)
        elif pass_arg is _PassArg.environment:
            result = func(context.environment, value, *args, **kwargs)
        else:
            result = func(value, *args, **kwargs)
        return budget.made(result, what)

    update_wrapper(guarded, func)
    return pass_context(guarded)


_COMPARING_TESTS: Final = frozenset(
    {
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "eq",
        "equalto",
        "ne",
        "lt",
        "lessthan",
        "le",
        "gt",
        "greaterthan",
        "ge",
    }
)


def _guard_test(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """The test, charged one step; tests that compare or search their arguments (`is in`,
    `is eq`...) are charged what reading them costs, like the operators."""
    if name == "in":

        def guarded(*args: Any, **kwargs: Any) -> Any:
            return func(args[0], _touch(None, args[1]))

    elif name in _COMPARING_TESTS:

        def guarded(*args: Any, **kwargs: Any) -> Any:
            active_budget().touch(*args)
            return func(*args, **kwargs)

    else:

        def guarded(*args: Any, **kwargs: Any) -> Any:
            active_budget().charge(1)
            return func(*args, **kwargs)

    return update_wrapper(guarded, func)


@pass_environment
def _sum(environment: _Environment, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    """`sum`, in linear time when it joins lists (`|sum(start=[])`), which `+=` on a new list
    each time would make quadratic."""
    values = iterable if attribute is None else map(make_attrgetter(environment, attribute), iterable)
    if not isinstance(start, list | tuple):
        total = start
        for value in values:
            total += value
        return total
    budget = active_budget()
    kind = type(start)
    out = list(start)
    for value in values:
        if not isinstance(value, kind):
            name = kind.__name__
            raise TypeError(f'can only concatenate {name} (not "{type(value).__name__}") to {name}')
        out.extend(value)
        budget.charge(1 + len(value) // BYTES_PER_STEP)
        if len(out) * 8 > budget.max_size:
            raise TooLarge("the result of 'sum'", budget.max_size)
    return out if kind is list else tuple(out)


_MAX_INDENT: Final = 64
"""Each line of indented JSON repeats the indent once per level: a long one multiplies."""


def _json_text(value: Any, indent: int | str | None, *, compact: bool, sort_keys: bool = False) -> str:
    """JSON text; with an indent it is written piecewise and refused once too large."""
    separators = (",", ":") if compact and indent is None else None
    if indent is None:
        return _json.dumps(
            value, ensure_ascii=False, default=_jsonable, separators=separators, sort_keys=sort_keys
        )
    width = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if width > _MAX_INDENT:
        raise LimitExceeded(f"a JSON indent of more than {_MAX_INDENT} characters is not supported")
    stream = CappedText(active_budget(), "the JSON text")
    encoder = _json.JSONEncoder(ensure_ascii=False, indent=indent, default=_jsonable, sort_keys=sort_keys)
    for piece in encoder.iterencode(value):
        stream.write(piece)
    return stream.getvalue()


def _to_json(value: Any, indent: int | None = None) -> str:
    return _json_text(value, indent, compact=True)


def _from_json(value: str) -> Any:
    return _json.loads(value)


def _tojson(value: Any, indent: int | None = None) -> Markup:
    """Jinja's `tojson` (HTML-safe JSON), written piecewise like `to_json`."""
    text = _json_text(value, indent, compact=False, sort_keys=True)
    return Markup(  # noqa: S704 - JSON with <, >, & and ' escaped, as Jinja's own tojson
        text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")
    )


def _pprint(value: Any) -> str:
    stream = CappedText(active_budget(), "the result of 'pprint'")
    PrettyPrinter(stream=stream).pprint(value)  # type: ignore[arg-type]
    return stream.getvalue().rstrip("\n")


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:  # Jinja's names
    check_lipsum(active_budget(), n, min, max)
    return generate_lorem_ipsum(n, html, min, max)


# -- Methods of the values expressions hold ---------------------------------------------------


def _check_method(
    budget: Budget, owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Checks before the methods that can make far more than they are given; returns the
    arguments to call with (`join` consumes its iterable here, so it is passed on as a list)."""
    if isinstance(owner, str | bytes | bytearray):
        if name in ("center", "ljust", "rjust", "zfill"):
            check_width(budget, arg(args, kwargs, 0, "width", 0), f"the '{name}' width")
        elif name == "expandtabs":
            check_expandtabs(budget, owner, arg(args, kwargs, 0, "tabsize", 8))
        elif name == "replace":
            old, new = arg(args, kwargs, 0, "old", ""), arg(args, kwargs, 1, "new", "")
            check_replace(budget, owner, old, new, arg(args, kwargs, 2, "count", -1))
        elif name == "join" and args:
            return (joined(budget, owner, args[0]), *args[1:])
        elif name == "translate":
            check_translate(budget, owner, arg(args, kwargs, 0, "table", None))
    elif type(owner) is int and name == "to_bytes":
        length = arg(args, kwargs, 0, "length", 1)
        budget.allow(length if type(length) is int else 0, "the result of 'to_bytes'")
    elif isinstance(owner, datetime | date | time) and name == "strftime":
        check_strftime(budget, arg(args, kwargs, 0, "format", ""))
    elif isinstance(owner, type) and issubclass(owner, datetime | date | time) and name == "strptime":
        pattern = arg(args, kwargs, 1, "format", "")  # compiled to a regular expression
        budget.allow(256 * len(pattern) if isinstance(pattern, str) else 0, "the strptime format")
    return args


_NUMBERS: Final = frozenset({int, float, bool})
_RESULT_OF: Final = {op: f"the result of '{op}'" for op in ("+", "-", "*", "/", "//", "%", "**")}
_FORMAT_STEPS: Final = 10
"""str.format runs Python's string.Formatter: about ten loop turns' time per call."""


class _SizedFormatter(SandboxedFormatter):
    """str.format in the sandbox, refusing widths and results past the size limit."""

    budget: Budget
    total: int = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        check_format_spec(self.budget, value, format_spec)
        text = super().format_field(value, format_spec)
        self.total += len(text)
        if self.total > self.budget.max_size:
            raise TooLarge("the result of 'format'", self.budget.max_size)
        return text


class _SizedEscapeFormatter(_SizedFormatter, SandboxedEscapeFormatter):
    pass


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with dict keys preferred over dict methods, missing keys lenient, and
    every operation counted against the render's budget and size cap."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters["to_json"] = _to_json
        self.filters["from_json"] = _from_json
        self.filters["tojson"] = _tojson
        self.filters["pprint"] = _pprint
        self.filters["sum"] = _sum
        self.filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}
        self.filters[_ITERATE] = _iterate
        self.filters[_TOUCH] = _touch
        self.filters[_MADE] = _made
        self.filters[_NAMESPACE] = _namespace_value
        self.filters[_ORDERED] = _ordered
        self.tests = {
            name: _guard_test(name, cast(Callable[..., Any], func)) for name, func in self.tests.items()
        }
        self.globals["lipsum"] = _lipsum

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
        budget = active_budget()
        if type(left) in _NUMBERS and type(right) in _NUMBERS:  # the common case, kept fast
            budget.charge(1)
            if operator == "*":
                check_repeat(budget, left, right)
            elif operator == "**":
                check_power(budget, left, right)
            result = self.binop_table[operator](left, right)
            return budget.made(result, _RESULT_OF[operator]) if type(result) is int else result
        budget.touch(left, right)
        if operator == "*":
            check_repeat(budget, left, right)
        elif operator == "**":
            check_power(budget, left, right)
        elif operator == "%":
            check_printf(budget, left, right)
        return budget.made(self.binop_table[operator](left, right), _RESULT_OF[operator])

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = active_budget()
        if not __self.is_safe_callable(__obj):
            raise SecurityError(f"{__obj!r} is not safely callable")
        owner = __obj.__self__ if isinstance(__obj, BuiltinMethodType | MethodType) else None
        budget.touch(owner, *args, *kwargs.values())
        if any(isinstance(value, Iterator) for value in args):
            args = tuple(budget.counted(v) if isinstance(v, Iterator) else v for v in args)
        if isinstance(__obj, Macro):
            budget.charge(MACRO_STEPS)
        if len(args) + len(kwargs) > 1:
            # What keeps its arguments (a macro's varargs and kwargs, cycler) makes one value of
            # them all.
            total = sum(budget.size(value) for value in (*args, *kwargs.values()))
            if total > budget.max_size:
                raise TooLarge("the arguments of a call", budget.max_size)
        if owner is not None:
            args = _check_method(budget, owner, __obj.__name__, args, kwargs)
        return budget.made(__context.call(__obj, *args, **kwargs))

    def concat(self, parts: Iterator[str]) -> str:  # type: ignore[override]
        """Joins rendered text (the whole output, blocks, macro bodies), refused once too large."""
        budget = active_budget()
        limit = budget.max_size
        pieces = []
        total = 0
        for part in parts:
            total += len(part)
            if total > limit:
                raise TooLarge("the rendered text", limit)
            pieces.append(part)
        if total > BYTES_PER_STEP:
            budget.charge(total // BYTES_PER_STEP)
        return "".join(pieces)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`text.format(...)` and `text.format_map(...)`, sandboxed and size-checked."""
        if not isinstance(value, MethodType | BuiltinMethodType) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        template = value.__self__
        if not isinstance(template, str):
            return None
        is_format_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            formatter: _SizedFormatter
            if isinstance(template, Markup):
                formatter = _SizedEscapeFormatter(self, escape=template.escape)
            else:
                formatter = _SizedFormatter(self)
            formatter.budget = active_budget()
            formatter.budget.charge(_FORMAT_STEPS)
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs, args = args[0], ()
            return type(template)(formatter.vformat(template, args, kwargs))

        return update_wrapper(wrapper, value)


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


ENVIRONMENT: Final = _Environment(
    undefined=StrictUndefined, finalize=_text, autoescape=False, keep_trailing_newline=True
)

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


MAX_TEMPLATE_TOKENS: Final = 2_000
"""Tokens (names, operators, literals; not plain text) one parameter string may hold. Compiling
is outside a render's budget and its cost grows with the tokens (a 600 KB list literal took
12 s on the event loop); 2,000 tokens compile in about 50 ms."""
MAX_TEMPLATE_CHARS: Final = 1_000_000
"""Length of one parameter string with expressions (plain text around them is cheap)."""


def _check_template_cost(source: str) -> None:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateSyntaxError(
            f"the text holding this expression is longer than {MAX_TEMPLATE_CHARS:,} characters", 1
        )
    tokens = 0
    for _, kind, _ in ENVIRONMENT.lex(source):  # stops early: lexing is lazy
        if kind != "data":
            tokens += 1
            if tokens > MAX_TEMPLATE_TOKENS:
                raise TemplateSyntaxError(
                    f"the expression is too long: more than {MAX_TEMPLATE_TOKENS:,} names, operators and "
                    "values; split it over several fields or nodes, or use a Code node",
                    1,
                )


@lru_cache(maxsize=4096)
def compile_template(source: str) -> CompiledTemplate:
    """Compile (once, cached) a parameter string; raises jinja2.TemplateSyntaxError, also for one
    too costly to compile (MAX_TEMPLATE_TOKENS, MAX_TEMPLATE_CHARS)."""
    _check_template_cost(source)
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
        pause_if_due()
        compiled = compile_template(source)
        if compiled.expression is not None:
            return _native(compiled.expression(context), path)
        assert compiled.template is not None
        return compiled.template.render(context)
    except ExpressionError:
        raise
    except LimitExceeded as exc:
        raise ExpressionError(path, str(exc), expression=source) from None
    except TemplateSyntaxError as exc:
        raise ExpressionError(path, f"syntax error: {exc.message}", expression=source) from None
    except SecurityError as exc:
        raise ExpressionError(path, f"not allowed: {exc}", expression=source) from None
    except UndefinedError as exc:
        raise ExpressionError(path, str(exc), expression=source) from None
    except RecursionError:
        message = "the expression nests or recurses too deeply"
        raise ExpressionError(path, message, expression=source) from None
    except Exception as exc:
        raise ExpressionError(path, f"{type(exc).__name__}: {exc}", expression=source) from None


def _render(value: Any, context: Mapping[str, Any], path: str) -> Any:
    """Render `value`, which holds expressions (has_expressions is true)."""
    if isinstance(value, str):
        return _render_string(value, context, path)
    if isinstance(value, dict):
        return {
            k: _render(v, context, f"{path}.{k}" if path else str(k)) if has_expressions(v) else v
            for k, v in value.items()
        }
    return [_render(v, context, f"{path}[{i}]") if has_expressions(v) else v for i, v in enumerate(value)]


def render_value(
    value: Any, context: Mapping[str, Any], path: str = "", limits: ExpressionLimits | None = None
) -> Any:
    """Render every expression inside `value` for one item; other values come back as-is.

    Containers without expressions are returned without copying. Raises ExpressionError
    naming the parameter path (`fields.total`, `rules[2].condition`). All the expressions
    in `value` share one budget (see `expression_limits`): `limits`, or the process's.
    """
    if not has_expressions(value):
        return value
    token = start_render(limits)
    try:
        return _render(value, context, path)
    finally:
        end_render(token)


EXPRESSION_NAMES: Final[dict[str, str]] = {
    "json": "This item: json.field, json.a.b, json['a key']. A missing field is empty, not an error.",
    "index": "This item's position in the node's input (0 for the first).",
    "items": "Every item on the node's first input, as a list.",
    "nodes": "Output of nodes that ran before, by name: nodes['Name'].first.field (also .last, "
    ".outputs['false'], or index it like a list).",
    "vars": "Variables of the organization, and of this workflow (which win): vars.NAME.",
    "execution": "This run: execution.id and execution.mode (manual, webhook, schedule, event).",
    "workflow": "This workflow: workflow.id, workflow.name, workflow.version, workflow.timezone.",
    "now": "The time the item is rendered, in the workflow's time zone.",
}
"""The names an expression sees, with what each means: the one list the server renders with
(`expression_context`) and the editor's preview and autocomplete offer (through the API)."""


def expression_reference() -> dict[str, Any]:
    """What expressions offer, for the editor: names, filters, tests and functions."""
    filters = sorted(name for name in ENVIRONMENT.filters if not name.startswith("@"))
    return {
        "names": [{"name": name, "description": text} for name, text in EXPRESSION_NAMES.items()],
        "filters": filters,
        "tests": sorted(ENVIRONMENT.tests),
        "functions": sorted(ENVIRONMENT.globals),
    }


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
    """The names an expression sees for one item: exactly those of EXPRESSION_NAMES."""
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
