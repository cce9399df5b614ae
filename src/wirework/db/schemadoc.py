"""`docs/schema.md`, generated from the models: tables by category, columns, indexes, keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Enum, Integer, MetaData, String, Table, Text, Uuid
from sqlalchemy.types import TypeDecorator

from wirework.db.types import UTCDateTime

CATEGORY_ORDER = [
    "Accounts and tenancy",
    "Workflows",
    "AI",
    "Bots and conversations",
    "Email",
    "Team tools and data",
]


def column_type(type_: Any) -> str:
    if isinstance(type_, UTCDateTime):
        return "TIMESTAMP WITH TIME ZONE"
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl
    if isinstance(type_, Enum):
        return "ENUM(" + ", ".join(type_.enums) + ")"
    if isinstance(type_, Uuid):
        return "UUID"
    if isinstance(type_, JSON):
        return "JSON"
    if isinstance(type_, Text):
        return "TEXT"
    if isinstance(type_, String):
        return f"VARCHAR({type_.length})" if type_.length else "VARCHAR"
    if isinstance(type_, Boolean):
        return "BOOLEAN"
    if isinstance(type_, Integer):
        return type(type_).__name__.upper()
    return type(type_).__name__.upper()


def _default(column: Any) -> str:
    default = column.default
    if default is None:
        return str(column.server_default.arg) if column.server_default is not None else ""
    arg = default.arg
    if callable(arg):
        name = getattr(arg, "__wrapped__", arg).__name__
        return {"utcnow": "now()", "dict": "{}", "list": "[]"}.get(name, f"{name}()")
    return repr(arg.value if hasattr(arg, "value") else arg)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(table: Table) -> list[str]:
    seeds = table.info.get("seeds", "-")
    origin = "New in Wirework (no seed table)." if seeds == "-" else f"Seed tables: {seeds}."
    lines = [f"### {table.name}", "", _cell(table.comment or ""), "", origin, ""]
    lines += ["| column | type | null | default | description |", "|---|---|---|---|---|"]
    for column in table.columns:
        key = " (PK)" if column.primary_key else ""
        lines.append(
            f"| `{column.name}`{key} | {column_type(column.type)} | {'yes' if column.nullable else 'no'} "
            f"| {_cell(_default(column))} | {_cell(column.comment or '')} |"
        )
    lines.append("")
    indexes = sorted(table.indexes, key=lambda i: str(i.name))
    uniques = sorted(
        (c for c in table.constraints if c.__class__.__name__ == "UniqueConstraint"),
        key=lambda c: str(c.name),
    )
    if indexes or uniques:
        lines.append("Indexes:")
        for index in indexes:
            cols = ", ".join(c.name for c in index.columns)
            lines.append(f"- `{index.name}` ({cols}){' unique' if index.unique else ''}")
        for unique in uniques:
            cols = ", ".join(c.name for c in unique.columns)  # type: ignore[attr-defined]
            lines.append(f"- `{unique.name}` ({cols}) unique")
        lines.append("")
    fks = sorted(table.foreign_keys, key=lambda f: f.parent.name)
    if fks:
        lines.append("Foreign keys:")
        for fk in fks:
            on_delete = f", on delete {fk.ondelete.lower()}" if fk.ondelete else ""
            lines.append(f"- `{fk.parent.name}` → `{fk.column.table.name}.{fk.column.name}`{on_delete}")
        lines.append("")
    return lines


def render_schema(metadata: MetaData, revision: str) -> str:
    by_category: dict[str, list[Table]] = {}
    for table in metadata.sorted_tables:
        by_category.setdefault(table.info.get("category", "Other"), []).append(table)
    order = CATEGORY_ORDER + sorted(set(by_category) - set(CATEGORY_ORDER))
    lines = [
        "# Database schema",
        "",
        "Generated from the models by `wirework db doc`; do not edit by hand. One schema serves",
        "SQLite, PostgreSQL and MySQL/MariaDB. Timestamps are UTC; ids are UUID v7; enumerations",
        "are strings limited by CHECK constraints. Migration history: `alembic_version` plays the",
        "part of the seeds' `schema_migrations` (Flowbot) and `__diesel_schema_migrations`",
        f"(General Bots). Head revision: `{revision}`.",
        "",
    ]
    for category in order:
        tables = sorted(by_category.get(category, []), key=lambda t: t.name)
        if not tables:
            continue
        lines += [f"## {category}", ""]
        lines += [f"- [{t.name}](#{t.name}) — {_cell((t.comment or '').split('.')[0])}." for t in tables]
        lines.append("")
        for table in tables:
            lines += render_table(table)
    return "\n".join(lines).rstrip() + "\n"
