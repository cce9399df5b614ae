"""The Code node: the author's Python on the items, in the sandbox, failing as a node, not as the server."""

from __future__ import annotations

import logging

import pytest

from wirework.engine.errors import NodeError, ParameterError
from wirework.engine.items import Items
from wirework.engine.nodes import NodeRegistry, parameter_errors
from wirework.engine.runner import run_workflow
from wirework.engine.testing import chain, definition, node, run_node
from wirework.nodes import load_builtin_nodes
from wirework.nodes.core.code import (
    Code,
    CodeError,
    CodeMemoryExceeded,
    CodeOutputError,
    CodeSyntaxError,
    CodeTimeout,
)

REGISTRY = load_builtin_nodes(NodeRegistry())

ORDERS: Items = [
    {"id": 1, "price": 2.5, "qty": 4},
    {"id": 2, "price": 10, "qty": 1},
]


async def test_all_items_mode_returns_the_output_items() -> None:
    code = "return [{'id': o['id'], 'total': o['price'] * o['qty']} for o in items]"
    assert await run_node(Code, {"code": code}, ORDERS) == {
        "main": [{"id": 1, "total": 10.0}, {"id": 2, "total": 10}]
    }
    assert await run_node(Code, {"code": "return {'count': len(items)}"}, ORDERS) == {"main": [{"count": 2}]}
    assert ORDERS[0] == {"id": 1, "price": 2.5, "qty": 4}  # the input is not touched


async def test_each_item_mode_runs_per_item_with_item_and_index() -> None:
    code = (
        "if item['qty'] > 1:\n"
        "    return [{**item, 'copy': n} for n in range(2)]\n"
        "return {**item, 'at': index}"
    )
    out = await run_node(Code, {"code": code, "mode": "each_item"}, ORDERS)
    assert out == {
        "main": [
            {"id": 1, "price": 2.5, "qty": 4, "copy": 0},
            {"id": 1, "price": 2.5, "qty": 4, "copy": 1},
            {"id": 2, "price": 10, "qty": 1, "at": 1},
        ]
    }


async def test_code_is_never_rendered_as_an_expression() -> None:
    code = "labels = {'a': 1}\nreturn [{'text': f'{{{{ json.name }}}}', 'labels': labels}]"
    out = await run_node(Code, {"code": code, "timeout_s": "{{ 2 + 3 }}"}, [{}])
    assert out == {"main": [{"text": "{{ json.name }}", "labels": {"a": 1}}]}


async def test_printed_output_goes_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wirework.engine")
    await run_node(Code, {"code": "print('hello from', len(items), 'items')\nreturn items"}, ORDERS)
    assert "hello from 2 items" in caplog.text


@pytest.mark.parametrize(
    ("mode", "code", "message"),
    [
        ("all_items", "return 5", "Code must return a list of objects (dicts); got int"),
        (
            "all_items",
            "x = 1",
            "Code must return a list of objects (dicts); got None (did you forget `return`?)",
        ),
        ("all_items", "return [{}, 'x']", "got a list with str at position 1"),
        ("all_items", "return {1, 2}", "Code must return a list of objects (dicts); got set"),
        (
            "each_item",
            "return 3",
            "Code must return an object (dict) or a list of objects for each item; got int",
        ),
        ("each_item", "return (x for x in [])", "for each item; got generator"),
    ],
)
async def test_wrong_shapes_get_a_clear_message(mode: str, code: str, message: str) -> None:
    with pytest.raises(CodeOutputError) as caught:
        await run_node(Code, {"code": code, "mode": mode}, ORDERS)
    assert message in caught.value.message
    assert not caught.value.retryable


async def test_exceptions_and_syntax_errors_point_at_the_users_line() -> None:
    with pytest.raises(CodeSyntaxError, match=r"^Syntax error on line 2: ") as syntax:
        await run_node(Code, {"code": "x = 1\nreturn [x for x in]"}, ORDERS)
    assert syntax.value.description is not None and "line 2" in syntax.value.description
    code = "print('before')\nreturn [{'r': o['price'] / (o['qty'] - 1)} for o in items]"
    with pytest.raises(CodeError) as caught:
        await run_node(Code, {"code": code}, ORDERS)
    error = caught.value
    assert error.message == "ZeroDivisionError: division by zero (line 2)"
    assert error.description is not None
    assert (
        'File "<code>", line 2' in error.description
        and "Output before the error:\nbefore" in error.description
    )


async def test_each_item_failures_follow_on_error() -> None:
    code = "return {'inverse': 1 / item['n']}"
    items = [{"n": 1}, {"n": 0}, {"n": 4}]
    flow = definition(
        [
            node("t", "core.manual_trigger"),
            node("c", "core.code", parameters={"code": code, "mode": "each_item"}, on_error="continue"),
        ],
        chain("t", "c"),
    )
    result = await run_workflow(flow, items, registry=REGISTRY)
    assert result.status == "completed"
    out = result.output("c")
    assert out[0] == {"inverse": 1.0} and out[1] == {"inverse": 0.25}
    assert out[2]["error"]["message"] == "ZeroDivisionError: division by zero (line 1)"
    assert out[2]["error"]["item_index"] == 1

    stopped = definition([node("c", "core.code", parameters={"code": code, "mode": "each_item"})])
    failed = await run_workflow(stopped, items, registry=REGISTRY)
    assert failed.status == "failed" and failed.error is not None
    assert (failed.error.error_type, failed.error.item_index) == ("CodeError", 1)


async def test_time_and_memory_limits_fail_the_node_and_the_next_run_works() -> None:
    with pytest.raises(CodeTimeout, match=r"^Code ran longer than 0.5 s and was stopped$"):
        await run_node(Code, {"code": "while True: pass", "timeout_s": 0.5}, ORDERS)
    with pytest.raises(CodeMemoryExceeded, match=r"^Code used more than 64 MB of memory and was stopped$"):
        await run_node(Code, {"code": "b = bytearray(2 * 1024**3)", "memory_mb": 64}, ORDERS)
    flow = definition([node("c", "core.code", parameters={"code": "import os\nos.fork()"})])
    failed = await run_workflow(flow, ORDERS, registry=REGISTRY)
    assert failed.status == "failed" and failed.error is not None
    assert "starting processes is not allowed" in failed.error.message
    assert await run_node(Code, {"code": "return items"}, ORDERS) == {"main": ORDERS}


async def test_secrets_of_the_server_are_not_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIREWORK_SECRET_KEY", "node-test-secret-77")
    out = await run_node(Code, {"code": "import os\nreturn [dict(os.environ)]"}, [])
    assert "node-test-secret-77" not in str(out)
    with pytest.raises(NodeError, match="PermissionError"):
        await run_node(Code, {"code": "return [{'e': open('/proc/1/environ').read()}]"}, [])


def test_parameters_are_checked_on_save() -> None:
    assert parameter_errors(Code, {"code": "return items"}) == []
    problems = dict(parameter_errors(Code, {"code": "", "timeout_s": 301, "memory_mb": 4096, "mode": "x"}))
    assert set(problems) == {"code", "timeout_s", "memory_mb", "mode"}
    assert "core.code" in REGISTRY
    schema = Code.describe()["parameters_schema"]
    assert schema["properties"]["code"]["x-static"] is True
    assert schema["required"] == ["code"]


async def test_bad_rendered_parameters_are_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="timeout_s"):
        await run_node(Code, {"code": "return items", "timeout_s": "{{ 1000 }}"}, ORDERS)
