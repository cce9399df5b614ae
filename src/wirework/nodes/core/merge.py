"""The merge node: combines the items of inputs `a` and `b` (append, join by key, zip, wait)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from wirework.engine.items import MISSING, Item, Items, NodeOutputs, canonical, get_path
from wirework.engine.nodes import Node, NodeContext, NodeParameters

MergeMode = Literal["append", "by_key", "by_position", "wait_all"]


class MergeParameters(NodeParameters):
    mode: MergeMode = Field(
        "append",
        description=(
            "append: a's items then b's; by_key: join items whose key fields are equal; "
            "by_position: merge the 1st of a with the 1st of b, and so on; wait_all: like "
            "append, but runs only when both inputs received items."
        ),
    )
    keys: list[str] = Field(
        default_factory=list, description="by_key: the key field(s) in a's items (dotted paths)."
    )
    keys_b: list[str] | None = Field(
        None, description="by_key: b's key fields, if named differently (same count as `keys`)."
    )
    join: Literal["inner", "left", "outer"] = Field(
        "inner",
        description=(
            "by_key: inner keeps matches only; left also keeps a's unmatched items; outer "
            "keeps unmatched items of both."
        ),
    )
    include_unpaired: bool = Field(
        False, description="by_position: keep the extra items of the longer input."
    )

    @model_validator(mode="after")
    def _keys_for_by_key(self) -> MergeParameters:
        if self.mode == "by_key" and not self.keys:
            raise ValueError("mode by_key needs at least one key field in `keys`")
        if self.keys_b is not None and len(self.keys_b) != len(self.keys):
            raise ValueError("`keys_b` must name as many fields as `keys`")
        return self


class Merge(Node):
    """Inputs are `a` and `b`. Merged items are `{**a_item, **b_item}` (b wins on clashes).

    Runs when at least one input received items (a skipped branch leaves its input
    empty), except in mode wait_all, which is skipped unless both received items.
    """

    type = "core.merge"
    display_name = "Merge"
    description = "Combines two inputs: append, join by key, merge by position, or wait for both."
    category = "Flow"
    icon = "merge"
    inputs = ("a", "b")
    Parameters = MergeParameters

    @classmethod
    def requires_all_inputs(cls, parameters: Mapping[str, Any]) -> bool:
        return parameters.get("mode") == "wait_all"

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        params = ctx.params(MergeParameters)
        a, b = ctx.inputs.get("a", []), ctx.inputs.get("b", [])
        if params.mode in ("append", "wait_all"):
            return {"main": [*a, *b]}
        if params.mode == "by_position":
            merged: Items = [{**x, **y} for x, y in zip(a, b, strict=False)]
            if params.include_unpaired:
                merged.extend(a[len(b) :] if len(a) > len(b) else b[len(a) :])
            return {"main": merged}
        return {"main": join_by_key(a, b, params.keys, params.keys_b or params.keys, params.join)}


def _key(item: Item, fields: list[str]) -> str | None:
    values = []
    for field in fields:
        value = get_path(item, field)
        if value is MISSING or value is None:
            return None  # items without a key never match
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 1 and 1.0 are the same key
        values.append(value)
    return canonical(values)


def join_by_key(
    a: Items, b: Items, keys_a: list[str], keys_b: list[str], join: Literal["inner", "left", "outer"]
) -> Items:
    """Join like SQL: every a item with every b item of equal key, in a's order."""
    index: dict[str, list[int]] = {}
    for position, item in enumerate(b):
        key = _key(item, keys_b)
        if key is not None:
            index.setdefault(key, []).append(position)
    out: Items = []
    matched: set[int] = set()
    for item in a:
        key = _key(item, keys_a)
        matches = index.get(key, []) if key is not None else []
        for position in matches:
            out.append({**item, **b[position]})
            matched.add(position)
        if not matches and join != "inner":
            out.append(item)
    if join == "outer":
        out.extend(item for position, item in enumerate(b) if position not in matched)
    return out
