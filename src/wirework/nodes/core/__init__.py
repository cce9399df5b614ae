"""Built-in core nodes (`core.*`): triggers, flow control, item shaping, dates and crypto."""

from __future__ import annotations

from wirework.engine.nodes import Node
from wirework.nodes.core.code import Code
from wirework.nodes.core.crypto import Crypto
from wirework.nodes.core.dates import DateTime
from wirework.nodes.core.flow import Filter, If, ManualTrigger, NoOp, StopError, Switch
from wirework.nodes.core.http import HttpRequest
from wirework.nodes.core.loop import Loop
from wirework.nodes.core.merge import Merge
from wirework.nodes.core.orchestration import ExecuteWorkflow, Wait
from wirework.nodes.core.transform import (
    Aggregate,
    Limit,
    RemoveDuplicates,
    SetFields,
    Sort,
    SplitOut,
)
from wirework.nodes.core.triggers import Event, RespondWebhook, Schedule, Webhook

CORE_NODES: tuple[type[Node], ...] = (
    ManualTrigger,
    Webhook,
    RespondWebhook,
    Schedule,
    Event,
    SetFields,
    If,
    Switch,
    Filter,
    Merge,
    SplitOut,
    Aggregate,
    Sort,
    Limit,
    RemoveDuplicates,
    Loop,
    NoOp,
    StopError,
    DateTime,
    Crypto,
    Code,
    HttpRequest,
    Wait,
    ExecuteWorkflow,
)
