"""The node protocol and registry: registering, describing, plugins and parameter checks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import Field

from wirework.engine.errors import ParameterError, UnknownNodeType
from wirework.engine.items import NodeOutputs
from wirework.engine.nodes import (
    Condition,
    Node,
    NodeContext,
    NodeParameters,
    NodeRegistry,
    parameter_errors,
)
from wirework.engine.testing import run_node
from wirework.nodes import builtin_node_types, load_builtin_nodes
from wirework.nodes.core.flow import If, Switch
from wirework.nodes.core.transform import Limit, SetFields


class GreetParameters(NodeParameters):
    greeting: str = Field("Hello", description="How to greet.")
    times: int = Field(1, ge=1, le=5)
    loud: Condition = False


class Greet(Node):
    type = "test.greet"
    display_name = "Greet"
    category = "Test"
    Parameters = GreetParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        out = []
        for index, item in enumerate(ctx.items):
            params = ctx.params(GreetParameters, index)
            text = " ".join([f"{params.greeting} {item['name']}"] * params.times)
            out.append({**item, "text": text.upper() if params.loud else text})
        return {"main": out}


class GreetV2(Greet):
    version = 2


def test_register_find_get_and_list() -> None:
    registry = NodeRegistry()
    registry.register(Greet)
    registry.register(GreetV2)
    registry.register(Greet)  # the same class again is fine
    assert registry.find("test.greet") is GreetV2
    assert registry.find("test.greet", 1) is Greet
    assert registry.find("test.greet", 3) is None
    with pytest.raises(UnknownNodeType, match=r"test.greet v3 \(registered versions: \[1, 2\]\)"):
        registry.get("test.greet", 3)
    assert registry.all() == [Greet, GreetV2]
    assert "test.greet" in registry
    assert len(registry) == 2


def test_a_different_class_under_the_same_type_and_version_is_refused() -> None:
    registry = NodeRegistry()
    registry.register(Greet)

    class Impostor(Greet):
        pass

    with pytest.raises(ValueError, match="already registered"):
        registry.register(Impostor)


def test_badly_declared_nodes_are_refused() -> None:
    class Nameless(Node):
        type = "Not A Type"

    with pytest.raises(TypeError, match="display_name"):
        NodeRegistry().register(Nameless)


def test_builtin_nodes_register_and_describe_themselves() -> None:
    registry = load_builtin_nodes(NodeRegistry())
    load_builtin_nodes(registry)  # idempotent
    assert len(registry) == len(builtin_node_types())
    required = {
        "core.manual_trigger",
        "core.set",
        "core.if",
        "core.switch",
        "core.filter",
        "core.merge",
        "core.split_out",
        "core.aggregate",
        "core.sort",
        "core.limit",
        "core.remove_duplicates",
        "core.loop",
        "core.wait",
        "core.noop",
        "core.stop_error",
        "core.execute_workflow",
        "core.code",
        "core.http_request",
        "core.datetime",
        "core.crypto",
        "data.parse",
        "data.build",
    }
    assert required <= {cls.type for cls in registry.all()}
    assert {"Triggers", "Flow", "Transform", "Data", "Core"} <= set(registry.categories())
    described = If.describe()
    assert described["outputs"] == ["true", "false"]
    assert described["parameters_schema"]["required"] == ["condition"]
    assert described["parameters_schema"]["x-expressions"] is True
    assert Switch.describe()["dynamic_outputs"] is True
    for cls in registry.all():
        assert cls.describe()["parameters_schema"]["type"] == "object"


def test_schema_comes_from_the_parameters_model() -> None:
    schema = Greet.parameters_schema
    assert schema["properties"]["times"] == {
        "default": 1,
        "maximum": 5,
        "minimum": 1,
        "title": "Times",
        "type": "integer",
    }
    assert Greet.parameters_schema is schema  # built once


def test_parameter_errors_check_the_static_shape() -> None:
    assert parameter_errors(Greet, {"times": 9, "colour": "red"}) == [
        ("times", "Input should be less than or equal to 5"),
        ("colour", "Extra inputs are not permitted"),
    ]
    assert parameter_errors(Limit, {"max_items": "ten"})[0][0] == "max_items"


def test_expressions_are_accepted_where_a_value_is_expected_and_checked_at_run_time() -> None:
    assert parameter_errors(Greet, {"times": "{{ json.n }}", "loud": "{{ json.vip }}"}) == []
    assert parameter_errors(SetFields, {"fields": "{{ json.extra }}"}) == []
    assert parameter_errors(If, {"condition": "json.age > 18"}) == [
        ("condition", "a condition must be an expression such as {{ json.age > 18 }}, or true/false")
    ]


def test_static_fields_refuse_expressions() -> None:
    problems = parameter_errors(
        Switch, {"rules": [{"condition": "{{ json.a }}", "output": "{{ json.where }}"}]}
    )
    assert problems == [("rules[0].output", "output names cannot use expressions")]


async def test_parameters_render_per_item_and_are_validated() -> None:
    out = await run_node(
        Greet,
        {"greeting": "Hi", "times": "{{ json.n }}", "loud": "{{ json.vip }}"},
        [{"name": "Ada", "n": 2, "vip": True}, {"name": "Bob", "n": 1}],
    )
    assert [i["text"] for i in out["main"]] == ["HI ADA HI ADA", "Hi Bob"]
    with pytest.raises(ParameterError, match=r"item 1.*times: Input should be less than"):
        await run_node(Greet, {"times": "{{ json.n }}"}, [{"name": "Ada", "n": 1}, {"name": "Bob", "n": 50}])


def test_third_party_nodes_load_from_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "acme_nodes.py").write_text(
        textwrap.dedent("""
        from wirework.engine.nodes import Node

        class Shout(Node):
            type = "acme.shout"
            display_name = "Shout"

            async def run(self, ctx):
                return {"main": [{**i, "shout": True} for i in ctx.items]}

        NODES = [Shout]
    """)
    )
    dist = tmp_path / "acme_nodes-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-nodes\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[wirework.nodes]\nacme = acme_nodes:NODES\nbroken = acme_nodes:NOPE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = NodeRegistry()
    problems = registry.load_entry_points()
    assert registry.get("acme.shout").display_name == "Shout"
    assert len(problems) == 1 and "broken" in problems[0]
