"""Daily partitions of the call log on PostgreSQL: made ahead by a task, dropped whole by retention.

Dropping a day's partition is a catalogue change that takes milliseconds and leaves no dead rows behind;
DELETE of a day of logs would rewrite and vacuum millions of rows. Other databases have a plain table:
every function here is a no-op on them and retention deletes rows instead (services/retention.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.db.utils import DatabaseError

from apps.analytics.models import CallLog

_PARENT = CallLog._meta.db_table
_NAME = re.compile(rf"^{_PARENT}_p(\d{{8}})$")
# Days known to have a committed partition, in this process: the writer checks a batch's days against it, not
# the DB. Only committed partitions enter it: a CREATE rolled back with its batch must be made again next time.
_known_days: set[date] = set()


def partitioned() -> bool:
    return connection.vendor == "postgresql"


def partition_name(day: date) -> str:
    return f"{_PARENT}_p{day:%Y%m%d}"


def call_log_partitions() -> list[date]:
    """The days that have a partition, oldest first."""
    if not partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [_PARENT],
        )
        names = [row[0] for row in cursor.fetchall()]
    return sorted(date.fromisoformat(m.group(1)) for n in names if (m := _NAME.match(n)))


def call_log_partitions_ensure(days: Iterable[date]) -> list[date]:
    """Make the partitions of these days that this process has not seen yet; returns the days it made or
    found made by another process."""
    if not partitioned():
        return []
    made = []
    for day in sorted(set(days) - _known_days):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        try:
            # A savepoint: two writers may race to make the same day, and the loser must not poison its
            # surrounding transaction. Names and bounds come from a date, never from input.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {_PARENT} "
                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')"
                )
        except DatabaseError:
            if day not in call_log_partitions():
                raise
            _known_days.add(day)  # another process made it, and it is visible: it is committed
        else:
            made.append(day)
            # Runs at once outside a transaction; inside the writer's, only if the batch commits.
            transaction.on_commit(lambda day=day: _known_days.add(day))
    return made


def call_log_partitions_ahead(*, days: int = 7, today: date | None = None) -> list[date]:
    """The beat task's job: partitions from yesterday to `days` ahead (a late record of yesterday still fits)."""
    today = today or datetime.now(UTC).date()
    return call_log_partitions_ensure(today + timedelta(days=n) for n in range(-1, days + 1))


def call_log_partitions_drop_before(cutoff: date) -> list[date]:
    """Drop the partitions of days before `cutoff`; returns the days dropped."""
    dropped = []
    for day in call_log_partitions():
        if day >= cutoff:
            break
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {partition_name(day)}")
        _known_days.discard(day)
        dropped.append(day)
    return dropped
