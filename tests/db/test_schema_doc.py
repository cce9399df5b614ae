"""docs/schema.md is generated from the models and must be current."""

from __future__ import annotations

from pathlib import Path

from wirework.db import migrate
from wirework.db.schemadoc import render_schema
from wirework.models import Base

SCHEMA_MD = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def test_committed_schema_doc_is_current() -> None:
    expected = render_schema(Base.metadata, migrate.head_revision())
    assert SCHEMA_MD.read_text() == expected, "docs/schema.md is stale: run 'wirework db doc'"


def test_schema_doc_lists_every_table_and_column() -> None:
    text = render_schema(Base.metadata, migrate.head_revision())
    for table in Base.metadata.tables.values():
        assert f"### {table.name}\n" in text
        for column in table.columns:
            assert f"| `{column.name}`" in text
    assert "## Accounts and tenancy" in text
    assert "| `email` | VARCHAR(255) | no |  | Unique email, lower-case. |" in text
