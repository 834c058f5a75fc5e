"""The time window an analytics page looks at, and the rollup granularity that draws it.

Pure functions of dates and "now" (UTC), shared by the dashboard, the log explorer and the read API, so a
period means the same thing everywhere. Rollup buckets start at UTC minute, hour and midnight boundaries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

PRESETS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
DEFAULT_PRESET = "24h"
MAX_RANGE_DAYS = 400

STEPS: dict[str, timedelta] = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


class PeriodError(ValueError):
    """Dates that make no period; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, cut into buckets of `granularity`; start and end lie on bucket boundaries."""

    start: datetime
    end: datetime
    granularity: str
    label: str

    @property
    def step(self) -> timedelta:
        return STEPS[self.granularity]

    def buckets(self) -> Iterator[datetime]:
        bucket = self.start
        while bucket < self.end:
            yield bucket
            bucket += self.step


def granularity_for(span: timedelta) -> str:
    """Minutes up to 6 hours, hours up to 7 days, days beyond: 60 to 400 points on a chart, never thousands."""
    if span <= timedelta(hours=6):
        return "minute"
    if span <= timedelta(days=7):
        return "hour"
    return "day"


def floor_to(moment: datetime, granularity: str) -> datetime:
    moment = moment.astimezone(UTC)
    if granularity == "minute":
        return moment.replace(second=0, microsecond=0)
    if granularity == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def period_last(preset: str, *, now: datetime) -> Period:
    """The last `preset` (a key of PRESETS) up to now; the bucket now falls in is the last one."""
    span = PRESETS[preset]
    granularity = granularity_for(span)
    end = floor_to(now, granularity) + STEPS[granularity]
    return Period(start=end - span, end=end, granularity=granularity, label=f"last {preset}")


def period_between(
    date_from: date, date_to: date, *, now: datetime, retention_days: Mapping[str, int] | None = None
) -> Period:
    """Whole UTC days from `date_from` to `date_to`, both included; the last bucket is the one now falls in.

    A range that starts before its granularity's rollups are kept (`retention_days`, e.g. hours older than 90
    days are deleted) is drawn with the next coarser granularity that still has them."""
    today = now.astimezone(UTC).date()
    if date_from > today:
        raise PeriodError("The start date is in the future.", field="date_from")
    if date_to > today:
        raise PeriodError("The end date is in the future.", field="date_to")
    if date_from > date_to:
        raise PeriodError("The start date is after the end date.", field="date_from")
    days = (date_to - date_from).days + 1
    if days > MAX_RANGE_DAYS:
        raise PeriodError(f"The range spans {days} days; at most {MAX_RANGE_DAYS} fit on one page.", field="date_to")
    granularity = granularity_for(timedelta(days=days))
    start = datetime.combine(date_from, time(), tzinfo=UTC)
    kept = retention_days or {}
    while granularity != "day" and granularity in kept and start < now - timedelta(days=kept[granularity]):
        granularity = "hour" if granularity == "minute" else "day"
    last_bucket_end = floor_to(now, granularity) + STEPS[granularity]
    end = min(datetime.combine(date_to, time(), tzinfo=UTC) + timedelta(days=1), last_bucket_end)
    return Period(start=start, end=end, granularity=granularity, label=f"{date_from:%Y-%m-%d} to {date_to:%Y-%m-%d}")
