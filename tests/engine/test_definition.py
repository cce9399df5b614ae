"""The definition format: parsing, defaults, uniqueness and errors that point at nodes."""

from __future__ import annotations

from typing import Any

import pytest

from wirework.engine.definition import RetryPolicy, WorkflowDefinition, parse_definition
from wirework.engine.errors import DefinitionInvalid
from wirework.errors import ValidationFailed

EXAMPLE: dict[str, Any] = {
    "nodes": [
        {
            "id": "n1",
            "name": "Webhook",
            "type": "core.webhook",
            "version": 1,
            "parameters": {},
            "credentials": {},
            "position": [0, 0],
            "retry": {"max_attempts": 1, "backoff_s": 1},
            "on_error": "stop",
            "disabled": False,
        },
        {"id": "n2", "name": "Set", "type": "core.set"},
    ],
    "edges": [{"from": "n1", "output": "main", "to": "n2", "input": "main"}],
    "settings": {"timezone": "UTC", "timeout_s": 3600, "error_workflow_id": None},
}


def test_the_documented_example_parses_and_round_trips() -> None:
    definition = parse_definition(EXAMPLE)
    assert definition.nodes[1].retry == RetryPolicy(max_attempts=1, backoff_s=1)
    assert definition.nodes[1].on_error == "stop"
    assert definition.edges[0].source == "n1"
    dumped = definition.dump()
    assert dumped["edges"] == EXAMPLE["edges"]
    assert WorkflowDefinition.model_validate(dumped) == definition


def test_backoff_doubles() -> None:
    policy = RetryPolicy(max_attempts=4, backoff_s=0.5)
    assert [policy.delay_before(n) for n in (2, 3, 4)] == [0.5, 1.0, 2.0]


def test_duplicate_names_and_ids_point_at_the_later_node() -> None:
    raw = {
        "nodes": [
            {"id": "a", "name": "Fetch", "type": "core.noop"},
            {"id": "b", "name": "Fetch", "type": "core.noop"},
            {"id": "a", "name": "Other", "type": "core.noop"},
        ]
    }
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(raw)
    errors = caught.value.definition_errors
    assert [(e.node_id, e.field, e.code) for e in errors] == [
        ("b", "name", "duplicate_name"),
        ("a", "id", "duplicate_id"),
    ]
    assert "'Fetch'" in errors[0].message


def test_shape_errors_point_at_the_node_and_field() -> None:
    raw = {
        "nodes": [
            {"id": "n1", "name": "A", "type": "core.noop", "on_error": "explode"},
            {"id": "n2", "name": "B", "type": "core.noop", "retry": {"max_attempts": 0}},
        ],
        "settings": {"timezone": "Mars/Olympus"},
    }
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(raw)
    found = {(e.node_id, e.field) for e in caught.value.definition_errors}
    assert found == {("n1", "on_error"), ("n2", "retry.max_attempts"), (None, "settings.timezone")}


def test_definition_invalid_is_a_422_domain_error() -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition({"nodes": [{"id": "x", "type": "core.noop"}]})
    error = caught.value
    assert isinstance(error, ValidationFailed)
    assert error.status == 422
    assert error.errors == [
        {
            "loc": ["nodes", "x", "name"],
            "msg": "Field required",
            "type": "invalid",
            "node_id": "x",
            "field": "name",
        }
    ]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition({"nodes": [{"id": "x", "name": "X", "type": "core.noop", "colour": 1}]})
    assert caught.value.definition_errors[0].field == "colour"


def test_at_most_once_is_a_node_setting_that_cannot_be_combined_with_retries() -> None:
    node = {"id": "pay", "name": "Pay", "type": "core.http_request", "at_most_once": True}
    assert parse_definition({"nodes": [node]}).nodes[0].at_most_once is True
    assert parse_definition({"nodes": [{**node, "at_most_once": False}]}).nodes[0].at_most_once is False
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition({"nodes": [{**node, "retry": {"max_attempts": 3}}]})
    [error] = caught.value.definition_errors
    assert error.node_id == "pay" and "at_most_once node is never run twice" in error.message
    with pytest.raises(DefinitionInvalid):
        parse_definition({"nodes": [{**node, "at_most_once": "sometimes"}]})
