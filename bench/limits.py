"""What the limit and budget steps cost per call: `python bench/limits.py [--redis URL] [--calls N]`.

The steps called directly (no HTTP, no upstream), one call at a time, on the in-process counters and on Redis
(REDIS_URL or --redis; else a throwaway redis-server when one is installed): with nothing configured for the call,
then requests per minute and per day in 1 scope (the key) and in 4 scopes (tenant, app, key, subscription), and
the same with tokens per minute and daily and monthly budgets on as well, admitted and settled. Limits are set
high enough never to refuse. Median µs per call over `--calls` calls after 200 of warm-up."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cache import redis_url  # noqa: E402
from report import table  # noqa: E402

from apps.gateway.adapters.redis_counters import RedisCounters  # noqa: E402
from apps.gateway.pipeline.policies.admission import CountersStep  # noqa: E402
from apps.gateway.pipeline.policies.base import CallContext, PolicyStep  # noqa: E402
from apps.gateway.pipeline.policies.budgets import BudgetPolicy  # noqa: E402
from apps.gateway.pipeline.policies.counters import Counters, LocalCounters  # noqa: E402
from apps.gateway.pipeline.policies.limits import LimitPolicy  # noqa: E402
from apps.gateway.pipeline.records import CallRecord  # noqa: E402
from apps.gateway.pipeline.snapshot import (  # noqa: E402
    DeploymentEntry,
    KeyEntry,
    Limits,
    RouteEntry,
    Snapshot,
    SubscriptionEntry,
)
from apps.gateway.pipeline.types import GatewayRequest  # noqa: E402
from apps.providers.clients.base import Usage  # noqa: E402

HIGH = 1_000_000_000
# Negative ids: the bench's counters never share a key with a real tenant's, whatever Redis it is given.
TENANT, APP, PLAN = -1, -2, -3
KEY = KeyEntry(-1, "benchkey", "1", "", TENANT, "bench", APP, "bench-app", frozenset({"gateway"}), None)
SUBSCRIPTION = SubscriptionEntry(subscription_id=-4, status="approved", expires_at=None, plan_id=PLAN, plan_slug="b")
DEPLOYMENT = DeploymentEntry(
    deployment_id=1,
    provider_id=1,
    provider_kind="openai",
    provider_slug="bench",
    base_url="http://127.0.0.1:9/v1",
    api_key="sk-bench",
    provider_options={},
    provider_revision="1",
    model_name="bench-model",
    upstream_model="bench-model",
    modalities=frozenset({"text"}),
    weight=1,
    priority=0,
    timeout=10.0,
    input_price_per_mtok=Decimal("0.15"),
    output_price_per_mtok=Decimal("0.60"),
)
ROUTE = RouteEntry(route_id=1, tenant_id=TENANT, alias="smart", deadline=30, retries=0, deployments=(DEPLOYMENT,))
BODY = {"model": "smart", "messages": [{"role": "user", "content": "What is a rate limit?"}], "max_tokens": 200}
REQUESTS = Limits(requests_per_minute=HIGH, requests_per_day=HIGH)
EVERYTHING = Limits(
    requests_per_minute=HIGH,
    requests_per_day=HIGH,
    tokens_per_minute=HIGH,
    budget_per_day=Decimal(HIGH),
    budget_per_month=Decimal(HIGH),
)


def snapshot(limits: Limits | None, scopes: int) -> Snapshot:
    table_ = {}
    if limits is not None:
        for scope, scope_id in [("key", KEY.key_id), ("tenant", TENANT), ("app", APP), ("plan", PLAN)][:scopes]:
            table_[(scope, scope_id)] = limits
    return Snapshot.build(version=1, keys=[KEY], routes=[ROUTE], tenant_slugs={TENANT: "bench"}, limits=table_)


def context(snap: Snapshot) -> CallContext:
    now = time.time()
    return CallContext(
        request=GatewayRequest(request_id="b", api_key=None, body=BODY, received=0.0, received_wall=now),
        record=CallRecord(request_id="b", created=now, endpoint="chat"),
        snapshot=snap,
        tenant_id=TENANT,
        key=KEY,
        route=ROUTE,
        body=BODY,
        subscription=SUBSCRIPTION,
        now=now,
        _prompt_tokens=12,  # counted once per call by the pipeline whatever the steps: not what is measured here
    )


def unreported(tenant: str, mode: str, error: BaseException) -> None:
    raise RuntimeError(f"the limit store failed during the bench: {error}")


async def per_call(steps: list[PolicyStep], snap: Snapshot, calls: int) -> float:
    timings = []
    for index in range(calls + 200):
        ctx = context(snap)
        started = time.perf_counter()
        for step in steps:
            await step.admit(ctx)
        ctx.usage, ctx.cost = Usage(12, 150), Decimal("0.0001")
        for step in reversed(steps):
            await step.after_call(ctx)
        if index >= 200:
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1e6


async def rows_for(name: str, counters: Counters, calls: int) -> list[list[str]]:
    steps: list[PolicyStep] = [CountersStep(counters, [LimitPolicy(), BudgetPolicy()], on_store_error=unreported)]
    cases = [
        ("nothing configured", None, 1),
        ("requests/min + /day, 1 scope", REQUESTS, 1),
        ("requests/min + /day, 4 scopes", REQUESTS, 4),
        ("+ tokens/min, budgets/day + /month, 1 scope", EVERYTHING, 1),
        ("+ tokens/min, budgets/day + /month, 4 scopes", EVERYTHING, 4),
    ]
    return [[name, what, f"{await per_call(steps, snapshot(limits, n), calls):.1f} µs"] for what, limits, n in cases]


async def main(args: argparse.Namespace) -> None:
    rows = await rows_for("in-process", LocalCounters(), args.calls)
    if args.redis:
        counters = RedisCounters(url=args.redis)
        rows += await rows_for("Redis", counters, args.calls)
        await counters.aclose()
    else:
        rows.append(["Redis", "-", "skipped: no REDIS_URL and no redis-server"])
    print("limit and budget steps, admitted and settled; medians, one call at a time\n")
    print(table(["counters", "configured for the call", "per call"], rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", ""), help="Redis URL (default: REDIS_URL)")
    parser.add_argument("--calls", type=int, default=3000, help="timed calls per row")
    arguments = parser.parse_args()
    with redis_url(arguments.redis) as url:
        arguments.redis = url
        uvloop.run(main(arguments))
