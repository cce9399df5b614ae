"""The node protocol (Node, NodeContext, parameter models) and the registry of node types.

A node type is a `Node` subclass with a pydantic `Parameters` model: the model is both
the JSON schema the editor shows and the validator. Any parameter value may be an
expression string (`"{{ json.total }}"`); on save, `parameter_errors` checks the
static shape and defers fields holding expressions to run time, where
`NodeContext.params` renders them for an item and validates the result.
Fields marked `x-static` in the schema (e.g. switch output names) must be literal.
"""

from __future__ import annotations

import builtins
import importlib.metadata
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Final, Protocol, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

from wirework.engine.definition import NodeSpec
from wirework.engine.errors import (
    ExpressionError,
    ParameterError,
    UnknownNodeType,
    WaitRequested,
)
from wirework.engine.expressions import (
    EMPTY_NODES,
    NodesView,
    expression_context,
    has_expressions,
    is_expression,
    render_value,
)
from wirework.engine.items import Items, NodeOutputs

ENTRY_POINT_GROUP: Final = "wirework.nodes"
STATE_OUTPUT: Final = "$state"
"""Private output holding a node's state between its runs in one execution (loops)."""

log = logging.getLogger("wirework.engine")

P = TypeVar("P", bound=BaseModel)
N = TypeVar("N", bound="type[Node]")


class NodeParameters(BaseModel):
    """Base for parameter models: unknown parameters are an error (they are usually typos)."""

    model_config = ConfigDict(extra="forbid")


class NoParameters(NodeParameters):
    pass


def _condition(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "false"):
            return text == "true"
        if info.context and info.context.get("static"):
            if is_expression(value):
                return True  # decided per item at run time
            raise PydanticCustomError(
                "condition",
                "a condition must be an expression such as {{ json.age > 18 }}, or true/false",
            )
    # Truthiness as in Jinja: null, false, 0, "", [] and {} are false.
    return bool(value)


Condition = Annotated[bool, BeforeValidator(_condition), Field(json_schema_extra={"x-condition": True})]
"""A parameter evaluated per item for truthiness (IF, filter, switch rules)."""

_OUTPUT_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9 _\-]{0,63}")


def _static_output_name(value: str) -> str:
    if is_expression(value):
        raise PydanticCustomError("static_value", "output names cannot use expressions")
    if not _OUTPUT_NAME.fullmatch(value):
        raise PydanticCustomError(
            "static_value",
            "an output name is 1-64 letters, digits, spaces, '_' or '-', not starting with a space or '-'",
        )
    return value


OutputName = Annotated[str, AfterValidator(_static_output_name), Field(json_schema_extra={"x-static": True})]


@dataclass(frozen=True, slots=True)
class CredentialSlot:
    """A credential a node type can use, e.g. `CredentialSlot("api", "slack_oauth2")`."""

    name: str
    credential_type: str
    required: bool = True
    description: str = ""


class NodeLogger(Protocol):
    """What nodes may log with: a stdlib Logger or a structlog logger both fit."""

    def debug(self, msg: str, /, *args: Any) -> Any: ...
    def info(self, msg: str, /, *args: Any) -> Any: ...
    def warning(self, msg: str, /, *args: Any) -> Any: ...
    def error(self, msg: str, /, *args: Any) -> Any: ...


class _ParametersSchema:
    """`Node.parameters_schema`: the JSON schema of the class's Parameters, built on first use."""

    def __get__(self, instance: object, owner: type[Node]) -> dict[str, Any]:
        cached = owner.__dict__.get("_parameters_schema_cache")
        if cached is None or cached[0] is not owner.Parameters:
            schema: dict[str, Any] = owner.Parameters.model_json_schema()
            schema["x-expressions"] = True  # any non-static value may be an expression
            cached = (owner.Parameters, schema)
            type.__setattr__(owner, "_parameters_schema_cache", cached)
        result: dict[str, Any] = cached[1]
        return result


class Node:
    """A node type. Subclass it, set the class attributes, write `run`, and register it.

    `run` receives a NodeContext and returns items per output name; outputs it leaves
    out are empty. Nodes must not mutate their input items (they are shared with
    upstream outputs): build new dicts instead. Raise NodeError for failures the
    user should read; raise WaitRequested to pause the execution.
    """

    type: ClassVar[str]
    version: ClassVar[int] = 1
    display_name: ClassVar[str]
    description: ClassVar[str] = ""
    category: ClassVar[str] = "Core"
    icon: ClassVar[str] = "box"
    inputs: ClassVar[tuple[str, ...]] = ("main",)
    outputs: ClassVar[tuple[str, ...]] = ("main",)
    Parameters: ClassVar[builtins.type[NodeParameters]] = NoParameters
    parameters_schema = _ParametersSchema()
    credential_slots: ClassVar[tuple[CredentialSlot, ...]] = ()
    is_trigger: ClassVar[bool] = False
    dynamic_outputs: ClassVar[bool] = False
    """True when `output_names` depends on the parameters (switch)."""
    loop_output: ClassVar[str | None] = None
    """The output that starts a loop body; only edges back into such a node may close a
    cycle. The node runs again once its body has finished (see `graph`)."""
    passthrough_output: ClassVar[str | None] = None
    """Where a disabled node sends its input items; default: its first output."""

    @classmethod
    def output_names(cls, parameters: Mapping[str, Any]) -> list[str]:
        """The node's outputs for these parameters (override when `dynamic_outputs`)."""
        return list(cls.outputs)

    @classmethod
    def requires_all_inputs(cls, parameters: Mapping[str, Any]) -> bool:
        """True if the node is skipped unless every connected input received items."""
        return False

    @classmethod
    def disabled_output(cls, parameters: Mapping[str, Any]) -> str:
        if cls.passthrough_output:
            return cls.passthrough_output
        names = cls.output_names(parameters)
        return names[0] if names else "main"

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The JSON description served by `/node-types` and stored in the `nodes` table."""
        return {
            "type": cls.type,
            "version": cls.version,
            "display_name": cls.display_name,
            "description": cls.description,
            "category": cls.category,
            "icon": cls.icon,
            "inputs": list(cls.inputs),
            "outputs": list(cls.outputs),
            "dynamic_outputs": cls.dynamic_outputs,
            "loop_output": cls.loop_output,
            "is_trigger": cls.is_trigger,
            "parameters_schema": cls.parameters_schema,
            "credential_slots": [
                {
                    "name": s.name,
                    "credential_type": s.credential_type,
                    "required": s.required,
                    "description": s.description,
                }
                for s in cls.credential_slots
            ],
        }

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        raise NotImplementedError


class NodeContext:
    """Everything a node run sees. The runner builds one per attempt.

    `inputs` maps input name → items (a start node gets the execution's input items on
    `main`). `previous` holds this node's own outputs from its previous run in this
    execution (loops), `state` the state it kept there. `resume` is the payload of a
    WaitRequested when the execution resumes at this node, else None. `services` is an
    opaque slot the runtime fills (credentials, HTTP client, database access).
    """

    __slots__ = (
        "_base",
        "_has_expressions",
        "_static",
        "attempt",
        "execution",
        "inputs",
        "item_failures",
        "logger",
        "node",
        "nodes",
        "now",
        "previous",
        "resume",
        "services",
        "vars",
        "workflow",
    )

    def __init__(
        self,
        *,
        node: NodeSpec,
        inputs: Mapping[str, Items],
        vars: Mapping[str, Any] | None = None,
        execution: Mapping[str, Any] | None = None,
        workflow: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        nodes: NodesView = EMPTY_NODES,
        logger: NodeLogger | None = None,
        services: Any = None,
        attempt: int = 1,
        previous: NodeOutputs | None = None,
        resume: Any = None,
    ) -> None:
        self.node = node
        self.inputs = dict(inputs)
        self.vars: Mapping[str, Any] = vars if vars is not None else {}
        self.execution: Mapping[str, Any] = execution if execution is not None else {}
        self.workflow: Mapping[str, Any] = workflow if workflow is not None else {}
        self.now = now if now is not None else datetime.now(UTC)
        self.nodes = nodes
        self.logger: NodeLogger = logger or log.getChild(node.type)
        self.services = services
        self.attempt = attempt
        self.previous = previous
        self.resume = resume
        self.item_failures: list[tuple[int, Exception]] = []
        self._has_expressions = has_expressions(node.parameters)
        self._static: dict[type[BaseModel], BaseModel] = {}
        self._base: dict[str, Any] | None = None

    @property
    def parameters(self) -> dict[str, Any]:
        """The node's raw parameters, expressions unrendered."""
        return self.node.parameters

    @property
    def items(self) -> Items:
        """The items on `main`, or on the first input that has any."""
        main = self.inputs.get("main")
        if main is not None:
            return main
        return next(iter(self.inputs.values()), [])

    @property
    def state(self) -> dict[str, Any] | None:
        """The state this node returned on STATE_OUTPUT in its previous run, if any."""
        kept = (self.previous or {}).get(STATE_OUTPUT)
        return kept[0] if kept else None

    def expression_context(self, index: int = 0) -> dict[str, Any]:
        if self._base is None:
            self._base = expression_context(
                item={},
                index=0,
                items=self.items,
                nodes=self.nodes,
                vars=self.vars,
                execution=self.execution,
                workflow=self.workflow,
                now=self.now,
            )
        context = dict(self._base)
        items = self.items
        context["json"] = items[index] if 0 <= index < len(items) else {}
        context["index"] = index
        return context

    def evaluate(self, value: Any, index: int = 0, path: str = "") -> Any:
        """Render expressions in `value` for item `index` (see `expressions`)."""
        if not has_expressions(value):
            return value
        try:
            return render_value(value, self.expression_context(index), path)
        except ExpressionError as exc:
            exc.item_index = index
            raise

    def params(self, model: type[P], index: int = 0) -> P:
        """The node's parameters rendered for item `index` and validated into `model`.

        Parameters without expressions are validated once per run, not per item.
        """
        if not self._has_expressions:
            cached = self._static.get(model)
            if cached is None:
                cached = self._static[model] = _validate(model, self.node.parameters, None)
            assert isinstance(cached, model)
            return cached
        return _validate(model, self.evaluate(self.node.parameters, index), index)

    @contextmanager
    def item_guard(self, index: int) -> Iterator[None]:
        """Process one item; with on_error continue/error_output its failure is recorded
        (and routed by the runner) instead of failing the whole node."""
        if self.node.on_error == "stop":
            yield
            return
        try:
            yield
        except WaitRequested:
            raise
        except Exception as exc:
            self.item_failures.append((index, exc))


def _validate(model: type[P], values: Any, index: int | None) -> P:
    try:
        return model.model_validate(values, context={"static": False})
    except ValidationError as exc:
        where = f" (item {index})" if index is not None else ""
        problems = "; ".join(
            f"{path or 'parameters'}: {msg}" for path, msg in _error_list(exc, values, defer=False)
        )
        raise ParameterError(f"invalid parameters{where}: {problems}", item_index=index) from None


def parameter_errors(node_type: type[Node], parameters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Check parameters on save: (dotted path, message) for each problem, expressions deferred.

    A value that is (or sits under) an expression string is checked at run time
    instead, except for fields that must be static.
    """
    try:
        node_type.Parameters.model_validate(parameters, context={"static": True})
    except ValidationError as exc:
        return _error_list(exc, parameters, defer=True)
    return []


def _error_list(exc: ValidationError, values: Any, *, defer: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if (
            defer
            and err["type"] not in ("static_value", "extra_forbidden", "missing")
            and _under_expression(values, loc)
        ):
            continue
        out.append((_path(loc), err["msg"]))
    return out


def _under_expression(values: Any, loc: tuple[int | str, ...]) -> bool:
    current = values
    for part in loc:
        if is_expression(current):
            return True
        found = (isinstance(current, Mapping) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and part < len(current)
        )
        if not found:
            return False
        current = current[part]
    return is_expression(current)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_TYPE_NAME: Final = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


class NodeRegistry:
    """Node types by type name and version. The engine looks types up through `find`."""

    def __init__(self) -> None:
        self._types: dict[str, dict[int, type[Node]]] = {}

    def register(self, cls: N) -> N:
        """Add a node class (usable as a decorator). Registering the same class twice is a
        no-op; another class under the same type and version is an error."""
        problems = _class_problems(cls)
        if problems:
            raise TypeError(f"{cls.__qualname__} is not a valid node type: {'; '.join(problems)}")
        versions = self._types.setdefault(cls.type, {})
        existing = versions.get(cls.version)
        if existing is not None and existing is not cls:
            raise ValueError(
                f"node type {cls.type} v{cls.version} is already registered "
                f"by {existing.__module__}.{existing.__qualname__}"
            )
        versions[cls.version] = cls
        return cls

    def find(self, type_name: str, version: int | None = None) -> type[Node] | None:
        """The class for a type (exact version, or the latest when None), or None."""
        versions = self._types.get(type_name)
        if not versions:
            return None
        if version is None:
            return versions[max(versions)]
        return versions.get(version)

    def get(self, type_name: str, version: int | None = None) -> type[Node]:
        found = self.find(type_name, version)
        if found is None:
            known = sorted(self._types.get(type_name, {}))
            detail = f" (registered versions: {known})" if known else ""
            label = type_name if version is None else f"{type_name} v{version}"
            raise UnknownNodeType(f"unknown node type {label}{detail}")
        return found

    def all(self) -> list[type[Node]]:
        """Every registered class, ordered by category, type and version."""
        return sorted(
            (cls for versions in self._types.values() for cls in versions.values()),
            key=lambda c: (c.category, c.type, c.version),
        )

    def categories(self) -> list[str]:
        return sorted({cls.category for cls in self.all()})

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._types

    def __len__(self) -> int:
        return sum(len(v) for v in self._types.values())

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Register third-party nodes from an entry-point group; return the problems met.

        An entry point may name a Node subclass, an iterable of them, or a callable
        taking the registry. One broken plugin is logged and skipped, not fatal.
        """
        problems: list[str] = []
        for entry in importlib.metadata.entry_points(group=group):
            try:
                target = entry.load()
                for cls in _node_classes(target, self):
                    self.register(cls)
            except Exception as exc:
                problem = f"entry point {entry.name!r} ({entry.value}): {exc}"
                log.warning("could not load node plugin: %s", problem)
                problems.append(problem)
        return problems


def _node_classes(target: Any, registry: NodeRegistry) -> Iterable[type[Node]]:
    if isinstance(target, type) and issubclass(target, Node):
        return [target]
    if isinstance(target, Iterable) and not isinstance(target, str | bytes):
        classes = list(target)
        if all(isinstance(c, type) and issubclass(c, Node) for c in classes):
            return classes
    if callable(target):
        target(registry)
        return []
    raise TypeError("expected a Node subclass, a list of them, or a function(registry)")


def _class_problems(cls: type[Node]) -> list[str]:
    problems = []
    type_name = getattr(cls, "type", None)
    if not isinstance(type_name, str) or not _TYPE_NAME.fullmatch(type_name):
        problems.append("`type` must look like 'core.if' (lowercase, dotted)")
    if not isinstance(getattr(cls, "display_name", None), str):
        problems.append("`display_name` is required")
    if not (isinstance(cls.Parameters, type) and issubclass(cls.Parameters, BaseModel)):
        problems.append("`Parameters` must be a pydantic model")
    names = [*cls.inputs, *cls.outputs]
    if any(not n or n.startswith("$") for n in names):
        problems.append("input and output names cannot be empty or start with '$'")
    if cls.loop_output is not None and cls.loop_output not in cls.outputs:
        problems.append("`loop_output` must be one of `outputs`")
    return problems


default_registry: Final = NodeRegistry()


def register(cls: N) -> N:
    """Class decorator: register a node type in the default registry."""
    return default_registry.register(cls)
