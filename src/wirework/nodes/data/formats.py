"""Parse and build text formats: JSON, CSV and XML, between a string field and items.

XML is read with `xml.etree.ElementTree`; documents with a DOCTYPE or ENTITY declaration
are refused, which rules out entity-expansion and external-entity attacks.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from typing import Any, Literal

from pydantic import Field

from wirework.engine.errors import NodeError
from wirework.engine.items import MISSING, Item, Items, NodeOutputs, canonical, get_path, to_items
from wirework.engine.nodes import Node, NodeContext, NodeParameters

Format = Literal["json", "csv", "xml"]
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


class ParseParameters(NodeParameters):
    format: Format
    field: str = Field("data", min_length=1, description="The text field to parse.")
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV: the separator.")
    header: bool = Field(True, description="CSV: the first row names the columns (else column_1, column_2…).")


class Parse(Node):
    """JSON: an object gives one item, an array one item per element (non-objects become
    `{"value": x}`). CSV: one item per row, values as text. XML: one item
    `{root_tag: …}` where attributes are `@name`, text beside children is `#text`, and
    repeated child tags become lists."""

    type = "data.parse"
    display_name = "Parse JSON, CSV or XML"
    description = "Reads a text field as JSON, CSV or XML and outputs the records as items."
    category = "Data"
    icon = "file-input"
    Parameters = ParseParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        out: Items = []
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                params = ctx.params(ParseParameters, index)
                text = get_path(item, params.field)
                if text is MISSING:
                    raise NodeError(f"the item has no field {params.field!r} to parse")
                if not isinstance(text, str):
                    raise NodeError(f"field {params.field!r} is not text (it is {type(text).__name__})")
                out.extend(parse_text(text, params))
        return {"main": out}


def parse_text(text: str, params: ParseParameters) -> Items:
    if params.format == "json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NodeError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        return to_items(value, where="parsed JSON")
    if params.format == "csv":
        return _parse_csv(text, params.delimiter, params.header)
    return [parse_xml(text)]


def _parse_csv(text: str, delimiter: str, header: bool) -> Items:
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise NodeError(f"invalid CSV: {exc}") from None
    rows = [row for row in rows if row]
    if not header:
        return [{f"column_{i + 1}": v for i, v in enumerate(row)} for row in rows]
    if not rows:
        return []
    names = [name.strip() or f"column_{i + 1}" for i, name in enumerate(rows[0])]
    items: Items = []
    for row in rows[1:]:
        item: Item = dict(zip(names, row, strict=False))
        for name in names[len(row) :]:
            item[name] = ""
        if len(row) > len(names):
            item["_extra"] = row[len(names) :]
        items.append(item)
    return items


def parse_xml(text: str) -> Item:
    """An XML document as one item; refuses DOCTYPE and ENTITY declarations."""
    if _DECLARATION.search(text):
        raise NodeError("XML with a DOCTYPE or ENTITY declaration is refused (entity expansion is unsafe)")
    try:
        # Safe here: no DOCTYPE means no entity declarations to expand or fetch.
        root = ET.fromstring(text)  # noqa: S314
    except ET.ParseError as exc:
        raise NodeError(f"invalid XML: {exc}") from None
    return {_local(root.tag): _element_value(root)}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _element_value(element: ET.Element) -> Any:
    children = list(element)
    text = (element.text or "").strip()
    if not children and not element.attrib:
        return text
    value: dict[str, Any] = {f"@{_local(k)}": v for k, v in element.attrib.items()}
    for child in children:
        tag, child_value = _local(child.tag), _element_value(child)
        if tag not in value:
            value[tag] = child_value
        elif isinstance(value[tag], list):
            value[tag].append(child_value)
        else:
            value[tag] = [value[tag], child_value]
    if text:
        value["#text"] = text
    return value


class BuildParameters(NodeParameters):
    format: Format
    field: str = Field("data", min_length=1, description="The text field of the output item.")
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV: the separator.")
    indent: int | None = Field(None, ge=0, le=8, description="JSON/XML: pretty-print indent.")
    root: str = Field("items", description="XML: the root element's tag.")
    item_tag: str = Field("item", description="XML: the tag of each item's element.")


class Build(Node):
    """JSON: an array of the items. CSV: a header row with every key met (in order of first
    appearance), objects and lists written as JSON. XML: `<root><item>…</item></root>`,
    with `@name` keys as attributes and `#text` as text (the reverse of data.parse)."""

    type = "data.build"
    display_name = "Build JSON, CSV or XML"
    description = "Writes all items as one JSON, CSV or XML text, in a single output item."
    category = "Data"
    icon = "file-output"
    Parameters = BuildParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        params = ctx.params(BuildParameters)
        return {"main": [{params.field: build_text(ctx.items, params)}]}


def build_text(items: Items, params: BuildParameters) -> str:
    if params.format == "json":
        return json.dumps(items, ensure_ascii=False, indent=params.indent)
    if params.format == "csv":
        return _build_csv(items, params.delimiter)
    return _build_xml(items, params.root, params.item_tag, params.indent)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return canonical(value)


def _build_csv(items: Items, delimiter: str) -> str:
    columns = list(dict.fromkeys(key for item in items for key in item))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(columns)
    for item in items:
        writer.writerow([_cell(item.get(column)) for column in columns])
    return buffer.getvalue()


def _tag(name: str) -> str:
    if not _XML_NAME.fullmatch(name) or name.lower().startswith("xml"):
        raise NodeError(f"{name!r} cannot be an XML tag name")
    return name


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            if key.startswith("@"):
                element.set(_tag(key[1:]), _cell(sub))
            elif key == "#text":
                element.text = _cell(sub)
            else:
                for one in sub if isinstance(sub, list) else [sub]:
                    _fill(ET.SubElement(element, _tag(key)), one)
    elif isinstance(value, list):
        for one in value:
            _fill(ET.SubElement(element, "value"), one)
    else:
        element.text = _cell(value)


def _build_xml(items: Items, root_tag: str, item_tag: str, indent: int | None) -> str:
    root = ET.Element(_tag(root_tag))
    for item in items:
        _fill(ET.SubElement(root, _tag(item_tag)), item)
    if indent:
        ET.indent(root, space=" " * indent)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
