"""A caller on an event loop of its own (a synchronous view's try-it or playground call, a Celery task) ends it with
`end_of_loop`: the settlements and cache writes under way arrive before the loop ends, and no Redis connection
outlives its loop (one was left open per call before)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import redis

from apps.gateway.adapters.redis_cache import RedisCacheStore
from apps.gateway.adapters.redis_counters import RedisCounters
from apps.gateway.pipeline.pipeline import GatewayPipeline
from apps.gateway.pipeline.policies.admission import CountersStep
from apps.gateway.pipeline.policies.budgets import BudgetPolicy, micro_dollars
from apps.gateway.pipeline.policies.cache import CacheStep
from apps.gateway.pipeline.policies.counters import counter_key, window_bounds
from apps.gateway.pipeline.policies.limits import LimitPolicy
from apps.gateway.pipeline.snapshot import CachePolicy, Limits, Snapshot
from tests.gateway.pipeline.fakes import HmacVerifier, ListSink, StaticConfig, deployment, key, route
from tests.gateway.pipeline.seam_steps import KEY, CountingEcho, Pool, chat_body, request
from tests.gateway.policies.conftest import Reports
from tests.gateway.policies.test_resp import Server

APP = 7  # the app of tests.gateway.pipeline.fakes.key


def test_a_loop_of_its_own_loses_no_settlement_and_leaves_no_connection(tmp_path):
    server = Server(tmp_path)
    admin = redis.Redis(port=server.port)
    try:
        reports = Reports()
        steps = [
            CacheStep(RedisCacheStore(url=server.url)),
            CountersStep(RedisCounters(url=server.url), [LimitPolicy(), BudgetPolicy()], on_store_error=reports),
        ]
        snapshot = Snapshot.build(
            version=1,
            keys=[key(KEY)],
            routes=[route(deployment(1))],
            limits={("app", APP): Limits(tokens_per_minute=1_000_000, budget_per_day=Decimal(1))},
            route_cache={1: CachePolicy(ttl_seconds=60)},
        )
        sink = ListSink()
        pipeline = GatewayPipeline(
            config=StaticConfig(snapshot), keys=HmacVerifier(), clients=Pool(CountingEcho()), sink=sink, steps=steps
        )

        async def one_call(number: int) -> None:
            try:
                response = await pipeline.chat(request(chat_body(user=f"u{number}", max_tokens=50 + number)))
                assert response.status == 200
            finally:
                await pipeline.end_of_loop()

        for number in range(3):
            asyncio.run(one_call(number))  # as a synchronous view runs each try-it call

        assert admin.info("clients")["connected_clients"] == 1  # this test's own
        now = sink.records[-1].created
        spent = admin.get(counter_key("app", APP, "budget_per_day", window_bounds("day", now)[0]))
        # The real costs, not the reservations (at up to 52 output tokens each): every settlement arrived.
        assert int(spent) == sum(micro_dollars(record.cost) for record in sink.records)
        tokens = admin.get(counter_key("app", APP, "tokens_per_minute", window_bounds("minute", now)[0]))
        assert int(tokens) == sum(r.prompt_tokens + r.completion_tokens for r in sink.records)
        assert len(admin.keys("gw:cache:*")) == 3  # and every answer's cache write
        assert reports == []
    finally:
        admin.close()
        server.stop()
