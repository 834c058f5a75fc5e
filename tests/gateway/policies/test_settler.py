"""Settlements on Redis are queued and flushed together: many calls' additions reach the store as ONE script
call, amounts summed per counter, only to counters that exist; a full queue is flushed without waiting; a store
that is down is reported once per settlement, as before. On a redis-server of the test's own: its command
statistics are the whole server's."""

from __future__ import annotations

import asyncio

import redis

from apps.gateway.adapters.redis_counters import RedisCounters
from apps.gateway.pipeline.policies.scopes import Settler
from tests.gateway.policies.conftest import NOW, closed_port, context, snapshot
from tests.gateway.policies.test_cache_outage import OwnRedis
from tests.gateway.policies.test_counters import admit_all


def script_calls(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(int(v["calls"]) for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))


async def test_many_settlements_reach_redis_as_one_addition_summed_per_counter(tmp_path, reports):
    server = OwnRedis(tmp_path)
    counters = RedisCounters(url=server.url)
    try:
        assert (await admit_all(counters, [("gw:lim:a", 1_000_000, 10), ("gw:lim:b", 1_000_000, 10)])).admitted
        await counters.add(["gw:lim:a"], [0], NOW)  # both scripts loaded: each call is one EVALSHA now
        before = script_calls(server.url)
        settler = Settler(counters, reports)
        ctx = context(snapshot({}))
        keys, amounts = ["gw:lim:a", "gw:lim:b", "gw:lim:absent"], [1, -2, 5]
        await asyncio.gather(*(settler.add(ctx, keys, amounts) for _ in range(100)))
        await settler.settled()
        assert script_calls(server.url) == before + 1
        assert counters.read(["gw:lim:a", "gw:lim:b", "gw:lim:absent"], NOW) == [110, -190, 0]
        assert reports == []
    finally:
        await counters.aclose()
        server.stop()


async def test_a_full_queue_is_flushed_without_waiting_for_its_timer(tmp_path, reports):
    server = OwnRedis(tmp_path)
    counters = RedisCounters(url=server.url)
    try:
        await admit_all(counters, [("gw:lim:a", 1_000_000, 0)])
        settler = Settler(counters, reports, delay=3600, batch=10)  # the timer would never fire in this test
        for _ in range(10):
            await settler.add(context(snapshot({})), ["gw:lim:a"], [1])
        flushes = asyncio.all_tasks() - {asyncio.current_task()}
        assert len(flushes) == 1  # one flush under way for the ten, started by the tenth
        await asyncio.gather(*flushes)
        assert counters.read(["gw:lim:a"], NOW) == [10]
    finally:
        await counters.aclose()
        server.stop()


async def test_a_store_that_is_down_is_reported_once_per_settlement(reports):
    counters = RedisCounters(url=f"redis://127.0.0.1:{closed_port()}/0")
    settler = Settler(counters, reports)
    for _ in range(5):
        await settler.add(context(snapshot({}, fail_open=False)), ["gw:lim:a"], [1])
    await settler.settled()  # settling never refuses, even for a tenant that fails closed
    assert reports == [("acme", "closed")] * 5
    await counters.aclose()
