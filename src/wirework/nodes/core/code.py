"""The Code node (`core.code`): Python written by the workflow author, run in the sandbox.

The code is the body of a function. In `all_items` mode it sees `items` (this node's
input, a list of dicts) and returns the output items: a list of dicts (or one dict).
In `each_item` mode it runs once per input item with `item` and `index`, and returns
a dict or a list of dicts for that item. It never runs in the server process: see
`wirework.security.sandbox` for the limits and what the code can and cannot do.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError

from wirework.engine.errors import NodeError, ParameterError
from wirework.engine.items import Items, NodeOutputs
from wirework.engine.nodes import Node, NodeContext, NodeParameters
from wirework.security.sandbox import (
    AVAILABLE_MODULES,
    DEFAULT_POLICY,
    MIN_MEMORY_MB,
    SandboxBadOutput,
    SandboxCodeError,
    SandboxError,
    SandboxMemoryExceeded,
    SandboxSyntaxError,
    SandboxTimeout,
    SandboxUnavailable,
    run_python,
    run_python_each,
)

ALL_ITEMS_EXAMPLE = """\
# `items` is the list of input items (dicts). Return the output items.
out = []
for item in items:
    out.append({**item, "total": item.get("price", 0) * item.get("qty", 1)})
return out
"""


class CodeParameters(NodeParameters):
    code: str = Field(
        min_length=1,
        max_length=256_000,
        description=(
            "Python 3.11, written as the body of a function. Mode all_items: use `items` (the "
            "input items, a list of dicts) and `return` the output items, a list of dicts (or one "
            "dict). Mode each_item: use `item` (a dict) and `index`, and `return` a dict or a list "
            "of dicts. print() output goes to the execution log. No network, no processes, files "
            "only in a scratch directory; importable modules: " + ", ".join(AVAILABLE_MODULES) + "."
        ),
        json_schema_extra={"x-static": True, "x-code-language": "python", "examples": [ALL_ITEMS_EXAMPLE]},
    )
    mode: Literal["all_items", "each_item"] = Field(
        "all_items",
        description="all_items: run once with `items`; each_item: run once per item with `item`.",
    )
    timeout_s: float = Field(10, gt=0, le=300, description="Stop the code after this many seconds.")
    memory_mb: int = Field(
        256, ge=MIN_MEMORY_MB, le=2048, description="Stop the code when it needs more memory (MB)."
    )


class CodeError(NodeError):
    """The code raised an exception; `description` holds the traceback (the user's frames)."""


class CodeSyntaxError(CodeError):
    retryable = False


class CodeTimeout(NodeError):
    pass


class CodeMemoryExceeded(NodeError):
    retryable = False


class CodeOutputError(NodeError):
    """The code returned something that is not items."""

    retryable = False


class CodeSandboxError(NodeError):
    """The sandbox failed, or the code's process died without a result."""


class CodeIsolationUnavailable(CodeSandboxError):
    """This host cannot isolate user code and the operator has not accepted less."""

    retryable = False


class Code(Node):
    type = "core.code"
    display_name = "Code"
    description = "Runs your Python on the items, in an isolated process with time and memory limits."
    category = "Core"
    icon = "code"
    Parameters = CodeParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        params = code_parameters(ctx)
        limits: dict[str, Any] = {
            "timeout_s": params.timeout_s,
            "memory_mb": params.memory_mb,
            "policy": getattr(ctx.services, "code_sandbox", DEFAULT_POLICY),
        }
        items = ctx.items
        try:
            if params.mode == "all_items":
                result = await run_python(params.code, {"items": items}, **limits)
                _log_output(ctx, result.logs)
                return {"main": all_items_result(result.value)}
            calls = [{"item": item, "index": index} for index, item in enumerate(items)]
            keep_going = ctx.node.on_error != "stop"
            result = await run_python_each(params.code, {}, calls, keep_going=keep_going, **limits)
        except SandboxError as exc:
            raise node_error(exc) from None
        _log_output(ctx, result.logs)
        out: Items = []
        for index, value in enumerate(result.value):
            with ctx.item_guard(index):
                failure = result.errors.get(index)
                if failure is not None:
                    raise node_error(failure)
                out.extend(item_result(value, index))
        return {"main": out}


def code_parameters(ctx: NodeContext) -> CodeParameters:
    """The parameters, with expressions rendered in all but `code`: Python source may hold
    `{{` (dict literals, f-strings), so it is always taken literally."""
    raw = dict(ctx.parameters)
    code = raw.pop("code", None)
    rendered = ctx.evaluate(raw)
    try:
        return CodeParameters.model_validate({**rendered, "code": code})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'parameters'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise ParameterError(f"invalid parameters: {problems}") from None


def all_items_result(value: Any) -> Items:
    """What the code returned in all_items mode, as items."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        for position, entry in enumerate(value):
            if not isinstance(entry, dict):
                raise CodeOutputError(
                    "Code must return a list of objects (dicts); "
                    f"got a list with {_type_name(entry)} at position {position}"
                )
        return value
    raise CodeOutputError(
        f"Code must return a list of objects (dicts); got {_type_name(value)}{_hint(value)}"
    )


def item_result(value: Any, index: int) -> Items:
    """What the code returned for item `index` in each_item mode, as items."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(entry, dict) for entry in value):
        return value
    got = "a list with other values than dicts" if isinstance(value, list) else _type_name(value)
    raise CodeOutputError(
        f"Code must return an object (dict) or a list of objects for each item; got {got}{_hint(value)}",
        item_index=index,
    )


def node_error(exc: SandboxError) -> NodeError:
    """The sandbox's error as a node failure: the message for the log, details below it."""
    details = [exc.traceback.rstrip()] if isinstance(exc, SandboxCodeError) and exc.traceback else []
    if exc.logs:
        details.append("Output before the error:\n" + exc.logs.rstrip())
    description = "\n\n".join(details) or None
    kind: type[NodeError] = CodeSandboxError
    message = exc.message
    index: int | None = None
    if isinstance(exc, SandboxUnavailable):
        kind = CodeIsolationUnavailable
    elif isinstance(exc, SandboxSyntaxError):
        kind = CodeSyntaxError
    elif isinstance(exc, SandboxCodeError):
        kind, index = CodeError, exc.call_index
    elif isinstance(exc, SandboxTimeout):
        kind = CodeTimeout
    elif isinstance(exc, SandboxMemoryExceeded):
        kind = CodeMemoryExceeded
    elif isinstance(exc, SandboxBadOutput):
        kind, index = CodeOutputError, exc.call_index
        if exc.got is not None:
            message = (
                f"Code must return a list of objects (dicts); got {exc.got}"
                if index is None
                else f"Code must return an object (dict) or a list of objects for each item; got {exc.got}"
            )
    return kind(message, description=description, item_index=index)


def _log_output(ctx: NodeContext, logs: str) -> None:
    if logs:
        ctx.logger.info("output of code node %r:\n%s", ctx.node.name, logs.rstrip())


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _hint(value: Any) -> str:
    return " (did you forget `return`?)" if value is None else ""
