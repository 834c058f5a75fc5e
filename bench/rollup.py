"""How long rolling up a day of 1,000,000 call logs takes on PostgreSQL: `python bench/rollup.py`.

Writes --calls call logs (default 1,000,000) spread over one day for 10 tenants, 10 services, 20 apps and
5 models into the partitioned call log with COPY, then times each step the workers run: minute rollups of
the whole day from the raw logs, hours from minutes, the day from hours, the two ordinary beat refreshes
(minutes of the last 10 minutes and their hour, every minute; the day, every 10 minutes), and retention's
DROP of the day's partition next to the DELETE it replaces. Prints a markdown table.

PostgreSQL only: DATABASE_URL, or --database-url, or, with neither, a throwaway server (bench/pg.py)."""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pg import setup_django, throwaway_postgres
from report import table

TENANTS, SERVICES_PER_TENANT, APPS, MODELS = 10, 10, 20, ("gpt-4o-mini", "gpt-4o", "claude", "gemini", "llama")
DAY = datetime(2026, 1, 15, tzinfo=UTC)


def seed(calls: int) -> float:
    from django.db import connection

    from apps.analytics.models import CallLog
    from apps.analytics.services.partitions import call_log_partitions_ensure

    call_log_partitions_ensure([DAY.date()])
    columns = [f.column for f in CallLog._meta.concrete_fields if not f.primary_key]
    rng = random.Random(42)
    started = time.perf_counter()
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY analytics_calllog ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for i in range(calls):
            tenant = rng.randrange(TENANTS) + 1
            status = 200 if rng.random() < 0.97 else rng.choice((429, 500, 502))
            values = {
                "request_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "created_at": DAY + timedelta(seconds=86_400 * i / calls),
                "endpoint": "chat",
                "stream": rng.random() < 0.3,
                "tenant_id": tenant,
                "app_id": tenant * 100 + rng.randrange(APPS),
                "key_prefix": "",
                "service_id": tenant * 1000 + rng.randrange(SERVICES_PER_TENANT),
                "route": "smart",
                "provider_id": 1,
                "deployment_id": 1,
                "model": rng.choice(MODELS),
                "status": status,
                "error_type": "" if status == 200 else f"e{status}",
                "attempts": 1,
                "latency_ms": rng.lognormvariate(6, 0.8),
                "upstream_ms": 0.0,
                "overhead_ms": rng.random() * 3,
                "ttft_ms": None,
                "prompt_tokens": rng.randint(10, 3000),
                "completion_tokens": rng.randint(0, 800),
                "usage_estimated": False,
                "cost": Decimal(rng.randint(0, 10**5)) / Decimal(10**8),
                "cache_hit": rng.random() < 0.05,
                "masked_items": 0,
                "policy_outcomes": "{}",
                "breaker_opened_id": None,
            }
            copy.write_row([values[c] for c in columns])
    connection.cursor().execute("ANALYZE analytics_calllog")
    return time.perf_counter() - started


def timed(step) -> tuple[float, object]:
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with throwaway_postgres(args.database_url) as url:
        setup_django(url, ANALYTICS_LOG_RETENTION_DAYS="36500")
        from django.core.management import call_command
        from django.db import connection

        from apps.analytics.models import CallLog, CallRollup
        from apps.analytics.services.partitions import partition_name
        from apps.analytics.services.rollups import rollups_compute, rollups_refresh

        call_command("migrate", verbosity=0)
        CallLog.objects.filter(created_at__gte=DAY, created_at__lt=DAY + timedelta(days=1)).delete()
        CallRollup.objects.all().delete()
        seconds = seed(args.calls)
        rows = [["COPY the call logs (setup)", f"{args.calls:,} calls", f"{seconds:.1f} s"]]
        end = DAY + timedelta(days=1)
        for granularity, source in (("minute", "call logs"), ("hour", "minute rollups"), ("day", "hour rollups")):
            seconds, made = timed(lambda g=granularity: rollups_compute(granularity=g, start=DAY, end=end, now=end))
            rows.append([f"{granularity} rollups of the day from {source}", f"{made:,} rollups", f"{seconds:.2f} s"])
        refresh_at = DAY + timedelta(hours=12)
        seconds, made = timed(lambda: rollups_refresh(now=refresh_at))
        rows.append(
            ["every minute: the last 10 min and their hour", f"{sum(made.values()):,} rollups", f"{seconds:.2f} s"]
        )
        seconds, made = timed(lambda: rollups_refresh(granularities=("day",), now=refresh_at))
        rows.append(["every 10 minutes: the day", f"{sum(made.values()):,} rollups", f"{seconds:.2f} s"])
        minutes = CallRollup.objects.filter(granularity="minute")
        assert sum(minutes.values_list("calls", flat=True)) == args.calls
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE bench_calllog_copy AS TABLE {partition_name(DAY.date())}")
            started = time.perf_counter()
            cursor.execute("DELETE FROM bench_calllog_copy")
            deleted = time.perf_counter() - started
            cursor.execute("DROP TABLE bench_calllog_copy")
            started = time.perf_counter()
            cursor.execute(f"DROP TABLE {partition_name(DAY.date())}")
            dropped = time.perf_counter() - started
        rows.append(
            ["retention: DELETE the day's rows (what partitions avoid)", f"{args.calls:,} rows", f"{deleted:.2f} s"]
        )
        rows.append(["retention: DROP the day's partition", f"{args.calls:,} rows", f"{dropped * 1000:.1f} ms"])
    print(table(["step", "size", "time"], rows))


if __name__ == "__main__":
    main()
