"""Parsing and building JSON, CSV and XML."""

from __future__ import annotations

from typing import Any

import pytest

from wirework.engine.errors import ItemsError, NodeError
from wirework.engine.items import Items
from wirework.engine.testing import run_node
from wirework.nodes.data.formats import Build, Parse


async def parse(fmt: str, text: str, **params: Any) -> list[dict[str, Any]]:
    return (await run_node(Parse, {"format": fmt, **params}, [{"data": text}]))["main"]


async def build(fmt: str, items: list[dict[str, Any]], **params: Any) -> str:
    out = (await run_node(Build, {"format": fmt, **params}, items))["main"]
    assert len(out) == 1
    text: str = out[0]["data"]
    return text


async def test_parse_json_arrays_objects_and_scalars() -> None:
    assert await parse("json", '[{"a": 1}, {"a": 2}, 3]') == [{"a": 1}, {"a": 2}, {"value": 3}]
    assert await parse("json", '{"a": {"b": true}}') == [{"a": {"b": True}}]
    with pytest.raises(ItemsError):
        await parse("json", "42")
    with pytest.raises(NodeError, match="invalid JSON: Expecting value at line 1 column 1"):
        await parse("json", "nope")


async def test_parse_csv_with_and_without_a_header() -> None:
    text = "name;city\nAda;London\n\nLinus;Helsinki;extra\nGrace\n"
    assert await parse("csv", text, delimiter=";") == [
        {"name": "Ada", "city": "London"},
        {"name": "Linus", "city": "Helsinki", "_extra": ["extra"]},
        {"name": "Grace", "city": ""},
    ]
    assert await parse("csv", '1,"two, three"\n', header=False) == [
        {"column_1": "1", "column_2": "two, three"}
    ]


async def test_parse_xml_to_one_item() -> None:
    text = """<?xml version="1.0"?>
    <order id="7" xmlns="urn:shop">
      <line sku="A">2</line><line sku="B">1</line>
      <note>rush</note><empty/>
    </order>"""
    assert await parse("xml", text) == [
        {
            "order": {
                "@id": "7",
                "line": [{"@sku": "A", "#text": "2"}, {"@sku": "B", "#text": "1"}],
                "note": "rush",
                "empty": "",
            }
        }
    ]


@pytest.mark.parametrize(
    "text",
    [
        '<!DOCTYPE lolz [<!ENTITY lol "lol">]><lolz>&lol;</lolz>',
        '<?xml version="1.0"?><!doctype x SYSTEM "http://evil.example/x.dtd"><x/>',
        '<!ENTITY x SYSTEM "file:///etc/passwd"><a/>',
    ],
)
async def test_parse_xml_refuses_doctype_and_entities(text: str) -> None:
    with pytest.raises(NodeError, match="DOCTYPE or ENTITY declaration is refused"):
        await parse("xml", text)


async def test_parse_errors_name_the_field() -> None:
    with pytest.raises(NodeError, match="no field 'body'"):
        await run_node(Parse, {"format": "json", "field": "body"}, [{"data": "{}"}])
    with pytest.raises(NodeError, match="field 'data' is not text"):
        await run_node(Parse, {"format": "json"}, [{"data": {"a": 1}}])
    with pytest.raises(NodeError, match="invalid XML"):
        await parse("xml", "<a><b></a>")


ROWS = [{"name": "Ada", "langs": ["en", "fr"], "vip": True}, {"name": "Linus, T.", "age": 28, "note": None}]


async def test_build_json_and_csv() -> None:
    assert await build("json", ROWS) == (
        '[{"name": "Ada", "langs": ["en", "fr"], "vip": true}, '
        '{"name": "Linus, T.", "age": 28, "note": null}]'
    )
    assert await build("csv", ROWS) == (
        'name,langs,vip,age,note\nAda,"[""en"",""fr""]",true,,\n"Linus, T.",,,28,\n'
    )


async def test_csv_round_trip() -> None:
    items = [{"a": "1", "b": "x,y"}, {"a": "2", "b": 'say "hi"'}]
    assert await parse("csv", await build("csv", items)) == items


async def test_build_xml_and_round_trip_through_parse() -> None:
    items: Items = [{"@id": "1", "name": "Ada", "tag": ["a", "b"]}, {"@id": "2", "name": "Linus"}]
    text = await build("xml", items, root="people", item_tag="person")
    assert text == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<people>'
        '<person id="1"><name>Ada</name><tag>a</tag><tag>b</tag></person>'
        '<person id="2"><name>Linus</name></person></people>'
    )
    assert await parse("xml", text) == [{"people": {"person": items}}]


async def test_build_xml_refuses_keys_that_cannot_be_tags() -> None:
    with pytest.raises(NodeError, match="'first name' cannot be an XML tag name"):
        await build("xml", [{"first name": "Ada"}])
