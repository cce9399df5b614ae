"""The date & time node: now, format, parse, add/subtract, difference and time-zone conversion."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from wirework.engine.errors import NodeError
from wirework.engine.items import Item, Items, NodeOutputs, assign_path
from wirework.engine.nodes import Node, NodeContext, NodeParameters

Operation = Literal["now", "format", "parse", "add", "subtract", "diff", "to_timezone"]
Unit = Literal["seconds", "minutes", "hours", "days", "weeks"]
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
_MILLISECONDS_FROM = 100_000_000_000  # epoch numbers above this are milliseconds (year 5138+ in s)


class Duration(NodeParameters):
    years: int = 0
    months: int = 0
    weeks: float = 0
    days: float = 0
    hours: float = 0
    minutes: float = 0
    seconds: float = 0


class DateTimeParameters(NodeParameters):
    operation: Operation = Field(
        description=(
            "now: the current time; format: to text with `format` (strftime); parse: text "
            "(ISO 8601, or `format` for strptime) to ISO 8601; add/subtract: a `duration`; "
            "diff: `other` minus `value` in `unit`; to_timezone: convert to `timezone`."
        )
    )
    value: Any = Field(
        None,
        description=("The date: ISO 8601 text or a Unix timestamp (seconds; milliseconds if very large)."),
    )
    field: str = Field("date", min_length=1, description="Where the result goes (dotted path).")
    format: str | None = Field(None, description="strftime/strptime pattern, e.g. %d/%m/%Y.")
    timezone: str | None = Field(
        None,
        description=(
            "IANA zone for dates without an offset and for the result; default: the "
            "workflow's time zone. For to_timezone: the target zone."
        ),
    )
    duration: Duration = Field(default_factory=Duration)
    other: Any = Field(None, description="diff: the later date.")
    unit: Unit = "seconds"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _needs(self) -> DateTimeParameters:
        if self.operation == "format" and not self.format:
            raise ValueError("operation format needs a `format`, e.g. %Y-%m-%d")
        if self.operation == "to_timezone" and not self.timezone:
            raise ValueError("operation to_timezone needs a `timezone`")
        if self.operation not in ("now",) and self.value is None:
            raise ValueError(f"operation {self.operation} needs a `value`")
        if self.operation == "diff" and self.other is None:
            raise ValueError("operation diff needs `other`")
        return self


class DateTime(Node):
    type = "core.datetime"
    display_name = "Date & time"
    description = "Formats, parses, shifts and compares dates, and converts time zones."
    category = "Data"
    icon = "calendar-clock"
    Parameters = DateTimeParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        default_zone = ZoneInfo(ctx.workflow.get("timezone") or "UTC")
        out: Items = []
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                params = ctx.params(DateTimeParameters, index)
                new: Item = dict(item)
                assign_path(new, params.field, compute(params, ctx.now, default_zone))
                out.append(new)
        return {"main": out}


def compute(params: DateTimeParameters, now: datetime, default_zone: ZoneInfo) -> Any:
    """The result of one date operation (ISO 8601 text, formatted text or a number)."""
    zone = ZoneInfo(params.timezone) if params.timezone else default_zone
    if params.operation == "now":
        return now.astimezone(zone).isoformat()
    value = to_datetime(params.value, zone, params.format if params.operation == "parse" else None)
    if params.operation == "format":
        assert params.format is not None
        return value.strftime(params.format)
    if params.operation == "parse":
        return value.isoformat()
    if params.operation in ("add", "subtract"):
        sign = 1 if params.operation == "add" else -1
        return shift(value, params.duration, sign).isoformat()
    if params.operation == "diff":
        other = to_datetime(params.other, zone, None)
        seconds = (other - value).total_seconds() / _UNIT_SECONDS[params.unit]
        return int(seconds) if seconds.is_integer() else seconds
    return value.astimezone(zone).isoformat()  # to_timezone


def to_datetime(value: Any, zone: ZoneInfo, pattern: str | None) -> datetime:
    """Read a date from text (ISO 8601 or `pattern`) or a Unix timestamp; naive → `zone`."""
    if isinstance(value, bool):
        raise NodeError(f"{value!r} is not a date")
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) >= _MILLISECONDS_FROM else value
        try:
            return datetime.fromtimestamp(seconds, UTC).astimezone(zone)
        except (OverflowError, OSError, ValueError):
            raise NodeError(f"{value!r} is not a valid timestamp") from None
    if not isinstance(value, str):
        raise NodeError(f"expected a date as text or a timestamp, got {type(value).__name__}")
    try:
        parsed = (
            datetime.strptime(value.strip(), pattern) if pattern else datetime.fromisoformat(value.strip())
        )
    except ValueError:
        expected = f"the format {pattern!r}" if pattern else "ISO 8601 (2024-05-17T09:30:00Z)"
        raise NodeError(f"cannot read {value!r} as a date; expected {expected}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def shift(value: datetime, duration: Duration, sign: int) -> datetime:
    """Move a date by a duration: calendar months and years first (the day is clamped to
    the month's end), then weeks..seconds as wall-clock time in the date's zone."""
    months = value.month - 1 + sign * (duration.years * 12 + duration.months)
    year, month = value.year + months // 12, months % 12 + 1
    if not 1 <= year <= 9999:
        raise NodeError("the resulting date is out of range")
    day = min(value.day, calendar.monthrange(year, month)[1])
    moved = value.replace(year=year, month=month, day=day)
    delta = timedelta(
        weeks=duration.weeks,
        days=duration.days,
        hours=duration.hours,
        minutes=duration.minutes,
        seconds=duration.seconds,
    )
    try:
        return moved + sign * delta
    except OverflowError:
        raise NodeError("the resulting date is out of range") from None
