"""Engine errors: invalid definitions, node failures, expression errors and the wait signal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wirework.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class DefinitionError:
    """One thing wrong with a workflow definition, pointing at the node (and field) at fault.

    `node_id` is None only when no node can be blamed (e.g. an edge whose both ends are
    unknown, or a bad workflow setting); `field` is a dotted path inside the node
    (`parameters.fields.name`) or the definition (`edges[3].to`, `settings.timezone`).
    """

    message: str
    node_id: str | None = None
    field: str | None = None
    code: str = "invalid"

    def as_dict(self) -> dict[str, Any]:
        """The problem+json entry: `loc`/`msg`/`type` like request-validation errors, plus
        `node_id` and `field` for the editor to highlight."""
        loc: list[str | int] = ["nodes", self.node_id] if self.node_id is not None else []
        if self.field:
            loc.extend(self.field.split("."))
        return {
            "loc": loc,
            "msg": self.message,
            "type": self.code,
            "node_id": self.node_id,
            "field": self.field,
        }


class DefinitionInvalid(ValidationFailed):
    """A workflow definition failed validation; the web layer answers 422 with `errors`."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        count = len(errors)
        first = errors[0].message if errors else "invalid workflow"
        detail = first if count == 1 else f"{first} (and {count - 1} more problems)"
        super().__init__(detail, errors=[e.as_dict() for e in errors])
        self.definition_errors = errors


class NodeError(Exception):
    """A failure a node reports to the user: the message is shown as-is in the execution log.

    Raise it (or a subclass) from `Node.run` for expected failures (bad input data, a
    remote refusal). Any other exception also fails the node, with its type name added.
    `retryable=False` tells the runner that retrying cannot help (bad parameters).
    """

    retryable = True

    def __init__(
        self, message: str, *, description: str | None = None, item_index: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.description = description
        self.item_index = item_index


class ExpressionError(NodeError):
    """An expression failed to compile or render; `path` names the parameter (`fields.total`)."""

    retryable = False

    def __init__(
        self, path: str, message: str, *, expression: str | None = None, item_index: int | None = None
    ) -> None:
        where = f"parameter '{path}'" if path else "expression"
        super().__init__(f"{where}: {message}", item_index=item_index)
        self.path = path
        self.expression = expression
        self.reason = message


class ParameterError(NodeError):
    """A node's parameters (after rendering expressions) do not fit its parameter model."""

    retryable = False


class ItemsError(NodeError):
    """A value that should be items (a list of JSON objects) is not."""

    retryable = False


class WaitRequested(Exception):
    """Raised by a node to pause the execution until `resume_at` (or an outside event).

    Reserved for `core.wait`, form and approval nodes. The in-memory runner stops and
    returns status "waiting" with this node, `resume_at` and `payload`; the durable
    runner stores them, and later calls `run_workflow` again with the finished outputs
    and `resume={node_id: payload}`. The node then sees `ctx.resume` (not None) and
    must complete instead of waiting again. `resume_at=None` means "until an outside
    event" (a webhook call, a form submission).
    """

    def __init__(self, resume_at: datetime | None, *, payload: dict[str, Any] | None = None) -> None:
        super().__init__(f"waiting until {resume_at.isoformat() if resume_at else 'resumed'}")
        self.resume_at = resume_at
        self.payload = payload or {}


class UnknownNodeType(LookupError):
    """No node class is registered under this type name (and version)."""


@dataclass(frozen=True, slots=True)
class NodeFailure:
    """Why a node (or one of its items) failed, in the shape stored in logs and error items."""

    message: str
    error_type: str
    node_id: str
    node_name: str
    description: str | None = None
    item_index: int | None = None
    retryable: bool = True

    @classmethod
    def from_exception(
        cls, exc: BaseException, *, node_id: str, node_name: str, item_index: int | None = None
    ) -> NodeFailure:
        if isinstance(exc, NodeError):
            index = exc.item_index if exc.item_index is not None else item_index
            return cls(
                exc.message, type(exc).__name__, node_id, node_name, exc.description, index, exc.retryable
            )
        if isinstance(exc, TimeoutError):
            return cls(
                "the node took longer than its time limit",
                "TimeoutError",
                node_id,
                node_name,
                None,
                item_index,
                True,
            )
        text = str(exc)
        message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        return cls(message, type(exc).__name__, node_id, node_name, None, item_index, True)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form put under `error` in failed items and in execution logs."""
        out: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "node": self.node_name,
            "node_id": self.node_id,
        }
        if self.description:
            out["description"] = self.description
        if self.item_index is not None:
            out["item_index"] = self.item_index
        return out
