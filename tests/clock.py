"""Fixed instants for tests, anchored to today rather than to a calendar day.

A test that pins a date passes until time moves past a retention window or a partition horizon, then fails
for everyone. These instants keep a chosen time of day (so bucket and hour arithmetic stays deterministic)
on a day a given number of days back from the day the suite runs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta


def days_ago_at(days: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """`hour:minute:second` UTC, `days` days before today (UTC)."""
    day = datetime.now(UTC).date() - timedelta(days=days)
    return datetime.combine(day, time(hour, minute, second), tzinfo=UTC)
