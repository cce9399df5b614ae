"""Item-shaping nodes: set fields, split out a list, aggregate, sort, limit, remove duplicates."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from wirework.engine.errors import NodeError
from wirework.engine.items import (
    MISSING,
    Item,
    Items,
    NodeOutputs,
    assign_path,
    canonical,
    get_path,
    remove_path,
)
from wirework.engine.nodes import Node, NodeContext, NodeParameters


class SetParameters(NodeParameters):
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description=('Field name → value or expression, e.g. {"total": "{{ json.price * json.qty }}"}.'),
    )
    keep_only_set: bool = Field(False, description="Drop the item's other fields.")
    dot_notation: bool = Field(True, description="`a.b` sets b inside a (else a key 'a.b').")


class SetFields(Node):
    type = "core.set"
    display_name = "Set fields"
    description = "Adds or replaces fields on each item, with values or expressions."
    category = "Transform"
    icon = "pencil"
    Parameters = SetParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        out: Items = []
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                params = ctx.params(SetParameters, index)
                new: Item = {} if params.keep_only_set else dict(item)
                for name, value in params.fields.items():
                    if params.dot_notation:
                        assign_path(new, name, value)
                    else:
                        new[name] = value
                out.append(new)
        return {"main": out}


class SplitOutParameters(NodeParameters):
    field: str = Field(min_length=1, description="The list field to split (dotted path).")
    include: Literal["none", "all", "selected"] = Field(
        "none", description="Which other fields of the item each new item keeps."
    )
    include_fields: list[str] = Field(
        default_factory=list, description="With include=selected: those fields."
    )
    destination: str | None = Field(
        None,
        description=(
            "Key for each element; default: the list field's name. Object elements are "
            "spread into the item unless this is set."
        ),
    )


class SplitOut(Node):
    type = "core.split_out"
    display_name = "Split out"
    description = "Turns a list field into one item per element."
    category = "Transform"
    icon = "list-tree"
    Parameters = SplitOutParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        out: Items = []
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                params = ctx.params(SplitOutParameters, index)
                out.extend(split_item(item, params))
        return {"main": out}


def split_item(item: Item, params: SplitOutParameters) -> Items:
    """One item per element of `params.field` (none when the field is missing or null)."""
    values = get_path(item, params.field)
    if values is MISSING or values is None:
        return []
    if not isinstance(values, list):
        raise NodeError(f"field {params.field!r} is not a list (it is a {type(values).__name__})")
    base: Item = {}
    if params.include == "all":
        base = dict(item)
        remove_path(base, params.field)
    elif params.include == "selected":
        for name in params.include_fields:
            value = get_path(item, name)
            if value is not MISSING:
                assign_path(base, name, value)
    key = params.destination or params.field.rsplit(".", 1)[-1]
    if params.destination is None:
        return [{**base, **v} if isinstance(v, dict) else {**base, key: v} for v in values]
    return [{**base, key: v} for v in values]


def _field_spec(value: Any) -> Any:
    return {"field": value} if isinstance(value, str) else value


class AggregateField(NodeParameters):
    field: str = Field(min_length=1)
    rename: str | None = Field(None, description="Output key; default: the path's last part.")


class AggregateParameters(NodeParameters):
    mode: Literal["fields", "all_items"] = Field(
        "fields",
        description=(
            "fields: collect each named field's values into a list; all_items: put all items into one list."
        ),
    )
    fields: list[Annotated[AggregateField, BeforeValidator(_field_spec)]] = Field(
        default_factory=list, description="mode fields: paths, or {field, rename} objects."
    )
    keep_missing: bool = Field(False, description="Collect null for missing or null values.")
    destination: str = Field("data", min_length=1, description="mode all_items: the key.")

    @model_validator(mode="after")
    def _fields_needed(self) -> AggregateParameters:
        if self.mode == "fields" and not self.fields:
            raise ValueError("mode fields needs at least one field")
        return self


class Aggregate(Node):
    type = "core.aggregate"
    display_name = "Aggregate"
    description = "Combines all items into one: lists of field values, or the items themselves."
    category = "Transform"
    icon = "layers"
    Parameters = AggregateParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        return {"main": [aggregate_items(ctx.items, ctx.params(AggregateParameters))]}


def aggregate_items(items: Items, params: AggregateParameters) -> Item:
    if params.mode == "all_items":
        return {params.destination: list(items)}
    out: Item = {}
    for spec in params.fields:
        values = []
        for item in items:
            value = get_path(item, spec.field)
            if value is MISSING or value is None:
                if not params.keep_missing:
                    continue
                value = None
            values.append(value)
        out[spec.rename or spec.field.rsplit(".", 1)[-1]] = values
    return out


class SortKey(NodeParameters):
    field: str = Field(min_length=1)
    order: Literal["asc", "desc"] = "asc"


class SortParameters(NodeParameters):
    keys: list[SortKey] = Field(min_length=1, description="Sort by the first key, then the next.")


class Sort(Node):
    type = "core.sort"
    display_name = "Sort"
    description = "Orders items by one or more fields (stable; missing and null values last)."
    category = "Transform"
    icon = "arrow-down-up"
    Parameters = SortParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        return {"main": sort_items(ctx.items, ctx.params(SortParameters).keys)}


def _sort_value(value: Any) -> tuple[int, Any]:
    # Numbers (and booleans) before strings before objects and lists, so mixed types
    # still sort instead of raising.
    if isinstance(value, bool | int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, canonical(value))


def sort_items(items: Items, keys: list[SortKey]) -> Items:
    """Stable multi-key sort; for every key, missing and null values go last."""
    ordered = list(items)
    for key in reversed(keys):  # stable sorts, least significant key first
        present = []
        absent = []
        for item in ordered:
            value = get_path(item, key.field)
            if value is MISSING or value is None:
                absent.append(item)
            else:
                present.append((_sort_value(value), item))
        present.sort(key=lambda pair: pair[0], reverse=key.order == "desc")
        ordered = [item for _, item in present] + absent
    return ordered


class LimitParameters(NodeParameters):
    max_items: int = Field(1, ge=0)
    keep: Literal["first", "last"] = "first"


class Limit(Node):
    type = "core.limit"
    display_name = "Limit"
    description = "Keeps only the first (or last) N items."
    category = "Transform"
    icon = "scissors"
    Parameters = LimitParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        params = ctx.params(LimitParameters)
        return {"main": limit_items(ctx.items, params.max_items, params.keep)}


def limit_items(items: Items, max_items: int, keep: Literal["first", "last"]) -> Items:
    if max_items <= 0:
        return []
    return items[:max_items] if keep == "first" else items[-max_items:]


class RemoveDuplicatesParameters(NodeParameters):
    fields: list[str] = Field(
        default_factory=list,
        description=("Compare only these fields (dotted paths); empty compares whole items."),
    )


class RemoveDuplicates(Node):
    type = "core.remove_duplicates"
    display_name = "Remove duplicates"
    description = "Drops items equal to an earlier one (whole item or chosen fields)."
    category = "Transform"
    icon = "copy-minus"
    Parameters = RemoveDuplicatesParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        return {"main": dedupe_items(ctx.items, ctx.params(RemoveDuplicatesParameters).fields)}


def dedupe_items(items: Items, fields: list[str]) -> Items:
    """The first item of each group of equal items (missing and null compare equal)."""
    seen: set[str] = set()
    out: Items = []
    for item in items:
        if fields:
            values = [get_path(item, f) for f in fields]
            key = canonical([None if v is MISSING else v for v in values])
        else:
            key = canonical(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
