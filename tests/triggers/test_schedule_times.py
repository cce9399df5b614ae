"""When schedules fire: cron in a time zone across DST changes, seconds, intervals, bad input."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from wirework.triggers.schedules import ScheduleError, check_cron, next_fire, next_fires

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold)  # type: ignore[misc]


def test_daily_cron_keeps_its_wall_time_across_spring_forward() -> None:
    # 2026-03-29 02:00 CET → 03:00 CEST in Berlin.
    fires = next_fires(after=berlin(2026, 3, 27, 12, 0), count=4, cron="0 9 * * *", timezone="Europe/Berlin")
    assert [f.astimezone(BERLIN).hour for f in fires] == [9, 9, 9, 9]
    # 28 March in CET (UTC+1), from 29 March in CEST (UTC+2): the UTC hour moves, the wall hour not.
    assert [f.astimezone(UTC).hour for f in fires] == [8, 7, 7, 7]


def test_a_time_skipped_in_spring_fires_once_at_the_change() -> None:
    fires = next_fires(after=berlin(2026, 3, 28, 12, 0), count=3, cron="30 2 * * *", timezone="Europe/Berlin")
    assert fires[0] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, the instant 02:30 never came
    assert fires[0].astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"
    assert fires[1].astimezone(BERLIN).strftime("%d %H:%M") == "30 02:30"
    assert len(set(fires)) == 3


def test_a_time_repeated_in_autumn_fires_once() -> None:
    # 2026-10-25 03:00 CEST → 02:00 CET: 02:30 happens twice.
    fires = next_fires(
        after=berlin(2026, 10, 24, 12, 0), count=2, cron="30 2 * * *", timezone="Europe/Berlin"
    )
    assert fires[0] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 02:30 (CEST)
    assert fires[1].astimezone(BERLIN).strftime("%d %H:%M %Z") == "26 02:30 CET"
    # Asked from inside the repeated hour (after the first 02:30), it does not fire again that day.
    second_pass = berlin(2026, 10, 25, 2, 15, fold=1)
    assert next_fire(after=second_pass, cron="30 2 * * *", timezone="Europe/Berlin").day == 26


def test_hourly_cron_never_runs_backwards_or_twice_across_autumn() -> None:
    fires = next_fires(after=berlin(2026, 10, 25, 0, 30), count=5, cron="0 * * * *", timezone="Europe/Berlin")
    assert fires == sorted(set(fires))
    assert all(b > a for a, b in itertools.pairwise(fires))


def test_six_fields_put_seconds_first() -> None:
    start = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert next_fires(after=start, count=3, cron="*/10 * * * * *") == [
        datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC) for s in (10, 20, 30)
    ]
    assert next_fire(after=start, cron="*/1 * * * * *") == datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_interval_ignores_time_zones() -> None:
    start = berlin(2026, 3, 29, 1, 30)
    assert next_fire(after=start, interval_s=3600, timezone="Europe/Berlin") == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )


@pytest.mark.parametrize("expression", ["", "* * *", "61 * * * *", "every day", "* * * * * * * *"])
def test_bad_cron_is_a_clear_error(expression: str) -> None:
    with pytest.raises(ScheduleError, match="not a cron expression"):
        check_cron(expression)


def test_unknown_time_zone_is_a_clear_error() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone"):
        next_fire(after=datetime.now(UTC), cron="* * * * *", timezone="Mars/Olympus")
