"""How fast the analytics dashboard answers with a month of data: `python bench/dashboard.py`.

Seeds one tenant with 100 services, each called by 3 apps with 2 models (600 series), and a month of hourly
and daily rollups of them (432,000 + 18,000 rows, written with COPY), then times GET /analytics/ for the
periods 30d (daily rows), 7d and 24h (hourly rows) through Django's test client, logged in as the owner:
warm-up runs first, then the median and p95 of --runs runs, and the queries one page load makes.

PostgreSQL only (the dashboard's target): --database-url, or DATABASE_URL, or, with neither, a throwaway
server (bench/pg.py). A given database is migrated and gets a tenant "bench-analytics" whose rollups are
replaced on each run."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pg import setup_django, throwaway_postgres
from report import table

SERVICES, APPS, MODELS, DAYS = 100, 3, 2, 30
PERIODS = ("30d", "7d", "24h")
TENANT = "bench-analytics"


def setup(database_url: str) -> None:
    setup_django(database_url)
    from django.conf import settings

    # Templates resolve {% static %} without a collectstatic manifest, as the test suite does.
    staticfiles = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = {**settings.STORAGES, "staticfiles": staticfiles}
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]


def histogram_pool(rng: random.Random, size: int = 64) -> list[tuple[int, list[int], float]]:
    """(calls, histogram, latency sum) of plausible hours: log-normal latencies around 300 ms."""
    from apps.analytics import histogram

    pool = []
    for _ in range(size):
        calls = rng.randint(20, 400)
        latencies = [rng.lognormvariate(5.7, 0.6) for _ in range(calls)]
        counts = histogram.empty()
        for latency in latencies:
            counts[histogram.bucket_index(latency)] += 1
        pool.append((calls, counts, sum(latencies)))
    return pool


def seed(rng: random.Random) -> tuple[object, int]:
    """The tenant, its owner, services and apps, and the rollups; returns (owner, rollup rows written)."""
    import orjson
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from apps.access.models import App
    from apps.analytics import histogram
    from apps.analytics.models import CallRollup
    from apps.analytics.models.rollups import LATENCY_COLUMNS
    from apps.catalog.models import Lifecycle, Service, ServiceKind
    from apps.providers.models import Route
    from apps.tenants.models import Membership, Role, Tenant

    with transaction.atomic():
        tenant, _ = Tenant.objects.get_or_create(slug=TENANT, defaults={"name": "Bench analytics"})
        owner, _ = get_user_model().objects.get_or_create(username="bench-analytics-owner")
        Membership.objects.get_or_create(user=owner, tenant=tenant, defaults={"role": Role.OWNER})
        route, _ = Route.objects.get_or_create(tenant=tenant, alias="bench")
        services = [
            Service.objects.get_or_create(
                slug=f"bench-svc-{n:03d}",
                defaults={
                    "tenant": tenant,
                    "name": f"Service {n:03d}",
                    "kind": ServiceKind.MODEL,
                    "route": route,
                    "lifecycle": Lifecycle.PUBLISHED,
                },
            )[0]
            for n in range(SERVICES)
        ]
        apps = [
            App.objects.get_or_create(tenant=tenant, slug=f"bench-app-{n}", defaults={"name": f"App {n}"})[0]
            for n in range(APPS)
        ]
        CallRollup.objects.filter(tenant_id=tenant.pk).delete()

    pool = histogram_pool(rng)
    now = datetime.now(UTC)
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    columns = [
        "granularity", "bucket", "tenant_id", "app_id", "service_id", "model", "calls", "errors", "server_errors",
        "error_types", "cache_hits", "streams", "prompt_tokens", "completion_tokens", "cost", "latency_sum_ms",
        "overhead_sum_ms", *LATENCY_COLUMNS, "p50_ms", "p95_ms", "p99_ms",
    ]  # fmt: skip

    def row(granularity: str, bucket: datetime, service: Service, app: App, model: str, scale: int) -> tuple:
        calls, counts, latency_sum = rng.choice(pool)
        errors = rng.randint(0, calls // 20)
        error_types = {"upstream_error": errors // 2, "rate_limited": errors - errors // 2} if errors else {}
        counts = [count * scale for count in counts]
        scaled_types = orjson.dumps({name: count * scale for name, count in error_types.items()}).decode()
        figures = [calls * scale, errors * scale, errors // 2 * scale, scaled_types, calls * scale // 10,
                   calls * scale // 3, calls * 800 * scale, calls * 200 * scale,
                   Decimal(calls * scale) * Decimal("0.0004"), latency_sum * scale, calls * 4.2 * scale]  # fmt: skip
        percentiles = [histogram.percentile(counts, q) for q in (0.5, 0.95, 0.99)]
        return (
            granularity,
            bucket,
            tenant.pk,
            app.pk,
            service.pk,
            model,
            *figures,
            *counts,
            *percentiles,
        )

    def rows() -> Iterator[tuple]:
        for service in services:
            for app in apps:
                for model in (f"model-{m}" for m in range(MODELS)):
                    for hours_ago in range(DAYS * 24):
                        yield row("hour", this_hour - timedelta(hours=hours_ago), service, app, model, 1)
                    for days_ago in range(DAYS):
                        yield row("day", today - timedelta(days=days_ago), service, app, model, 24)

    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        table = CallRollup._meta.db_table
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for values in rows():
                copy.write_row(values)
                written += 1
        cursor.execute(f"ANALYZE {table}")
    return owner, written


def time_dashboard(owner, *, runs: int, warmup: int) -> list[list[str]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from apps.analytics.models import CallRollup
    from apps.analytics.periods import period_last

    client = Client()
    client.force_login(owner)
    lines = []
    for preset in PERIODS:
        url = f"/analytics/?period={preset}"
        period = period_last(preset, now=datetime.now(UTC))
        rows = CallRollup.objects.filter(
            tenant_id=owner.memberships.get().tenant_id, granularity=period.granularity,
            bucket__gte=period.start, bucket__lt=period.end,
        ).count()  # fmt: skip
        for _ in range(warmup):
            assert client.get(url).status_code == 200
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url)
            seconds.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        ordered = sorted(seconds)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
        lines.append([preset, period.granularity, f"{rows:,}", f"{statistics.median(seconds) * 1000:.0f} ms",
                      f"{p95 * 1000:.0f} ms", str(len(queries))])  # fmt: skip
    return lines


def run(database_url: str, args: argparse.Namespace) -> None:
    setup(database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    owner, written = seed(random.Random(args.seed))
    print(f"seeded {written:,} rollup rows ({SERVICES} services x {APPS} apps x {MODELS} models, {DAYS} days "
          f"hourly and daily) in {time.perf_counter() - started:.1f} s")  # fmt: skip
    print(f"GET /analytics/ logged in, {args.warmup} warm-up then {args.runs} timed runs each:\n")
    headers = ["period", "granularity", "rollup rows read", "median", "p95", "queries"]
    print(table(headers, time_dashboard(owner, runs=args.runs, warmup=args.warmup)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL (default: DATABASE_URL)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with throwaway_postgres(args.database_url) as url:
        if not url.startswith(("postgres://", "postgresql://")):
            sys.exit("bench/dashboard.py measures PostgreSQL: give a postgres:// URL.")
        run(url, args)


if __name__ == "__main__":
    main()
