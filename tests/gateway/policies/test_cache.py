"""The cache step through its moments, with a CallContext built by hand, on both stores (in-process and real Redis):
keys, hits and misses, Cache-Control, TTLs, the entry cap."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid

import pytest
import redis.asyncio as aioredis

from apps.gateway.adapters.redis_cache import RedisCacheStore
from apps.gateway.pipeline.policies.base import Answer, CallContext
from apps.gateway.pipeline.policies.cache import (
    CacheStep,
    MemoryCacheStore,
    cache_directives,
    cache_key,
    encode_entry,
)
from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.snapshot import CachePolicy, ServiceEntry, Snapshot
from apps.gateway.pipeline.types import GatewayRequest
from apps.providers.clients.base import Usage
from tests.entries import service_entry
from tests.gateway.pipeline.fakes import deployment, route

ROUTE = route(deployment(1), alias="smart", tenant_id=1)
BODY = {"model": "smart", "messages": [{"role": "user", "content": "Hello"}], "temperature": 0}


def completion(text: str = "Hi there") -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "upstream-1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }


def snapshot(*, route_ttl: int | None = 60, service: ServiceEntry | None = None, service_ttl: int | None = None):
    return Snapshot.build(
        version=1,
        keys=[],
        routes=[ROUTE],
        services=[service] if service is not None else [],
        route_cache={ROUTE.route_id: CachePolicy(ttl_seconds=route_ttl)} if route_ttl else {},
        service_cache={service.service_id: CachePolicy(ttl_seconds=service_ttl)} if service and service_ttl else {},
    )


def context(snap: Snapshot, body: dict | None = None, *, tenant_id: int = 1, cache_control: str = "", **extra):
    body = dict(body or BODY)
    req = GatewayRequest(
        request_id="req_1", api_key=None, body=body, received=0.0, received_wall=0.0, cache_control=cache_control
    )
    record = CallRecord(request_id="req_1", created=0.0, endpoint=extra.pop("endpoint", "chat"))
    return CallContext(
        request=req, record=record, snapshot=snap, tenant_id=tenant_id, key=None, route=ROUTE, body=body, **extra
    )


async def call(step: CacheStep, ctx: CallContext, upstream: dict | None = None) -> Answer | None:
    """What the skeleton does around the upstream call: admit, before_call, the call unless answered, after_call."""
    await step.admit(ctx)
    answer = await step.before_call(ctx)
    if answer is None:
        ctx.answer, ctx.usage = upstream or completion(), Usage(3, 5)
    else:
        ctx.answer, ctx.usage = answer.body, Usage()
    ctx.record.status = 200
    await step.after_call(ctx)
    return answer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@contextlib.asynccontextmanager
async def make_store(kind: str, redis_url: str, *, clock: Clock | None = None, prefix: str = ""):
    """An empty store of each kind: in-process, or on the suite's Redis under a prefix of its own."""
    if kind == "memory":
        yield MemoryCacheStore(clock=clock or Clock())
        return
    redis_store = RedisCacheStore(url=redis_url, prefix=prefix or f"test:cache:{uuid.uuid4().hex}:")
    try:
        yield redis_store
    finally:
        await redis_store.aclose()


@pytest.fixture
def redis_prefix():
    return f"test:cache:{uuid.uuid4().hex}:"


@pytest.fixture(params=["memory", "redis"])
async def store(request, settings, clock, redis_prefix):
    async with make_store(request.param, settings.REDIS_URL, clock=clock, prefix=redis_prefix) as made:
        yield made


def test_the_key_ignores_the_order_of_keys_and_the_fields_that_do_not_change_the_answer():
    base = {"model": "smart", "messages": [{"role": "user", "content": "Hello"}], "temperature": 0.2, "n": 1}
    reordered = {"temperature": 0.2, "n": 1, "messages": [{"content": "Hello", "role": "user"}], "model": "smart"}
    transport = {**base, "stream": True, "stream_options": {"include_usage": True}, "user": "u-1", "metadata": {}}
    same = {"tenant_id": 1, "route_alias": "smart", "service_id": None, "kind": "chat"}
    assert cache_key(**same, body=base) == cache_key(**same, body=reordered) == cache_key(**same, body=transport)


@pytest.mark.parametrize(
    "change",
    [
        {"body": {**BODY, "messages": [{"role": "user", "content": "Hello!"}]}},
        {"body": {**BODY, "temperature": 0.7}},
        {"body": {**BODY, "max_tokens": 10}},
        {"tenant_id": 2},
        {"route_alias": "fast"},
        {"service_id": 5},
        {"kind": "embeddings"},
    ],
)
def test_the_key_changes_with_messages_parameters_tenant_route_service_and_kind(change):
    same = {"tenant_id": 1, "route_alias": "smart", "service_id": None, "kind": "chat", "body": BODY}
    assert cache_key(**same) != cache_key(**{**same, **change})


def test_cache_control_directives_are_read_case_insensitively_without_arguments():
    assert cache_directives("No-Cache, max-age=0 , NO-STORE") == {"no-cache", "max-age", "no-store"}
    assert cache_directives("") == frozenset()


async def test_a_miss_is_stored_and_the_same_request_then_hits(store):
    step, snap = CacheStep(store), snapshot()
    first = context(snap)
    assert await call(step, first) is None
    assert first.headers["X-Cache"] == "MISS"
    assert first.record.policy_outcomes["cache"] == "stored"

    reordered = {"temperature": 0, "messages": BODY["messages"], "model": "smart", "stream": True}
    second = context(snap, reordered, stream=True)
    answer = await call(step, second, upstream=completion("never asked"))
    assert answer is not None
    assert answer.source == "cache"
    assert answer.body == completion()
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (3, 5)
    assert second.headers["X-Cache"] == "HIT"
    assert second.record.policy_outcomes["cache"] == "hit"  # a hit is not stored again


async def test_another_tenant_or_other_messages_miss(store):
    step, snap = CacheStep(store), snapshot()
    await call(step, context(snap))
    assert await call(step, context(snap, tenant_id=2)) is None
    other = {**BODY, "messages": [{"role": "user", "content": "Bye"}]}
    assert await call(step, context(snap, other)) is None


async def test_without_a_cache_policy_the_step_does_nothing(store):
    step, snap = CacheStep(store), snapshot(route_ttl=None)
    ctx = context(snap)
    await call(step, ctx)
    assert await call(step, context(snap)) is None
    assert "X-Cache" not in ctx.headers
    assert "cache" not in ctx.record.policy_outcomes


async def test_no_cache_bypasses_the_lookup_but_stores_the_fresh_answer(store):
    step, snap = CacheStep(store), snapshot()
    await call(step, context(snap), upstream=completion("old"))
    fresh = context(snap, cache_control="no-cache")
    assert await call(step, fresh, upstream=completion("new")) is None
    assert fresh.headers["X-Cache"] == "BYPASS"
    assert fresh.record.policy_outcomes["cache"] == "stored"
    answer = await call(step, context(snap))
    assert answer is not None
    assert answer.body["choices"][0]["message"]["content"] == "new"


async def test_no_store_is_never_stored_but_may_be_answered_from_the_cache(store):
    step, snap = CacheStep(store), snapshot()
    private = context(snap, cache_control="no-store")
    assert await call(step, private) is None
    assert private.headers["X-Cache"] == "MISS"
    assert private.record.policy_outcomes["cache"] == "miss"
    assert await call(step, context(snap)) is None  # nothing was stored: the plain call misses, and stores

    hit = context(snap, cache_control="no-store")
    assert await call(step, hit) is not None
    assert await call(step, context(snap, cache_control="no-cache, no-store"), upstream=completion("x")) is None
    answer = await call(step, context(snap))
    assert answer is not None
    assert answer.body == completion()


async def test_a_failed_call_is_not_stored(store):
    step, snap = CacheStep(store), snapshot()
    ctx = context(snap)
    assert await step.before_call(ctx) is None
    await step.on_failure(ctx, RuntimeError("upstream down"))
    ctx.answer, ctx.record.status = completion(), 502  # a status other than 200 with a body: not stored either
    await step.after_call(ctx)
    assert await call(step, context(snap)) is None


async def test_an_answer_over_the_entry_cap_is_not_stored(store):
    snap = snapshot()
    step = CacheStep(store, max_entry_bytes=len(encode_entry(completion("short"), Usage(3, 5))))
    assert await call(step, context(snap), upstream=completion("x" * 1000)) is None
    assert await call(step, context(snap), upstream=completion("short")) is None  # the large one was not kept
    assert await call(step, context(snap)) is not None


async def test_a_streamed_answer_with_several_choices_is_not_stored(store):
    step, snap = CacheStep(store), snapshot()
    body = {**BODY, "n": 2, "stream": True}
    assert await call(step, context(snap, body, stream=True)) is None
    assert await call(step, context(snap, {**BODY, "n": 2})) is None  # the assembled stream held one choice
    assert await call(step, context(snap, {**BODY, "n": 2})) is not None  # a whole non-streamed answer is kept


async def test_the_service_policy_wins_over_the_route_policy(store, clock, settings, redis_prefix):
    service = service_entry(service_id=9, slug="helper")
    step, snap = CacheStep(store), snapshot(route_ttl=60, service=service, service_ttl=5)
    await call(step, context(snap, service=service))
    key = cache_key(tenant_id=1, route_alias="smart", service_id=9, kind="chat", body=BODY)
    await assert_expires_after(store, key, 5, clock, settings.REDIS_URL, redis_prefix)


async def assert_expires_after(store, key: str, ttl: int, clock: Clock, redis_url: str, prefix: str) -> None:
    assert await store.get(key) is not None
    if isinstance(store, MemoryCacheStore):
        clock.now += ttl - 0.5
        assert await store.get(key) is not None
        clock.now += 0.5
        assert await store.get(key) is None
    else:
        client = aioredis.Redis.from_url(redis_url)
        try:
            assert 0 < await client.ttl(prefix + key) <= ttl
        finally:
            await client.aclose()


async def test_an_entry_lives_for_the_policy_ttl(store, clock, settings, redis_prefix):
    step, snap = CacheStep(store), snapshot(route_ttl=30)
    await call(step, context(snap))
    key = cache_key(tenant_id=1, route_alias="smart", service_id=None, kind="chat", body=BODY)
    await assert_expires_after(store, key, 30, clock, settings.REDIS_URL, redis_prefix)


async def test_redis_expires_an_entry_after_its_ttl(settings, redis_prefix):
    store = RedisCacheStore(url=settings.REDIS_URL, prefix=redis_prefix)
    try:
        store.put("k", b"value", 1)
        assert await store.get("k") == b"value"
        await asyncio.sleep(1.1)
        assert await store.get("k") is None
    finally:
        await store.aclose()


async def test_the_in_process_store_is_bounded_by_entries_and_bytes(clock):
    by_entries = MemoryCacheStore(max_entries=2, clock=clock)
    for key in ("a", "b", "c"):
        by_entries.put(key, b"x", 60)
    assert await by_entries.get("a") is None
    assert await by_entries.get("c") == b"x"

    by_bytes = MemoryCacheStore(max_bytes=10, clock=clock)
    by_bytes.put("a", b"12345", 60)
    by_bytes.put("b", b"12345", 60)
    assert await by_bytes.get("a") == b"12345"  # now the most recently used
    by_bytes.put("c", b"12345", 60)
    assert await by_bytes.get("b") is None
    assert await by_bytes.get("a") == b"12345"
    assert by_bytes.size == (2, 10)
    by_bytes.put("huge", b"x" * 11, 60)  # larger than the whole store: not kept, nothing evicted for it
    assert await by_bytes.get("huge") is None
    assert by_bytes.size == (2, 10)


async def test_a_corrupt_entry_is_a_miss(store):
    step, snap = CacheStep(store), snapshot()
    key = cache_key(tenant_id=1, route_alias="smart", service_id=None, kind="chat", body=BODY)
    store.put(key, b"not an entry", 60)
    assert await call(step, context(snap)) is None


async def test_with_redis_the_lookup_goes_out_at_admission(settings, redis_prefix):
    store = RedisCacheStore(url=settings.REDIS_URL, prefix=redis_prefix)
    direct = aioredis.from_url(settings.REDIS_URL)
    try:
        step, snap = CacheStep(store), snapshot()
        await call(step, context(snap))  # stored
        ctx = context(snap)
        await step.admit(ctx)
        await asyncio.sleep(0.05)  # the lookup's reply is in
        assert await direct.delete(redis_prefix + ctx.state["cache"].key) == 1
        answer = await step.before_call(ctx)
        assert answer is not None  # looked up before the entry went: at admission, with the counters' admission
        assert ctx.headers["X-Cache"] == "HIT"
    finally:
        await direct.aclose()
        await store.aclose()


async def test_a_call_sent_to_another_route_after_admission_is_looked_up_under_that_routes_key(store):
    cheap = dataclasses.replace(route(deployment(2), alias="cheap", tenant_id=1), route_id=2)
    snap = Snapshot.build(
        version=1, keys=[], routes=[ROUTE, cheap], route_cache={ROUTE.route_id: CachePolicy(60), 2: CachePolicy(60)}
    )
    key = cache_key(tenant_id=1, route_alias="cheap", service_id=None, kind="chat", body=BODY)
    store.put(key, encode_entry(completion("from the cheap route"), Usage(3, 5)), 60)
    step, ctx = CacheStep(store), context(snap)
    await step.admit(ctx)
    ctx.route = cheap  # what a reached budget does at admission
    answer = await step.before_call(ctx)
    assert answer is not None
    assert answer.body["choices"][0]["message"]["content"] == "from the cheap route"


async def test_redis_stores_short_values_as_they_are_and_long_ones_compressed(settings, redis_prefix):
    store = RedisCacheStore(url=settings.REDIS_URL, prefix=redis_prefix)
    direct = aioredis.from_url(settings.REDIS_URL)
    long = b'{"content": "' + b"words " * 1000 + b'"}'
    try:
        store.put("short", b'{"a": 1}', 60)
        store.put("long", long, 60)
        assert (await store.get("short"), await store.get("long")) == (b'{"a": 1}', long)
        short_raw, long_raw = await direct.get(redis_prefix + "short"), await direct.get(redis_prefix + "long")
        assert short_raw == b'={"a": 1}'
        assert long_raw[:1] == b"z"
        assert len(long_raw) < len(long) / 10
        await direct.set(redis_prefix + "foreign", b'{"not": "ours"}')
        assert await store.get("foreign") is None  # not of this format: a miss
    finally:
        await direct.aclose()
        await store.aclose()
