"""The semantic cache through the cache step, on both stores, with prompts embedded by the fake OpenAI upstream
through the pipeline's clients and router: paraphrases hit, far prompts miss, tenants never share."""

from __future__ import annotations

from dataclasses import replace

import pytest

from apps.gateway.adapters.clients import ProcessClientPool
from apps.gateway.pipeline.policies.cache import CacheStep
from apps.gateway.pipeline.policies.semantic import (
    SemanticCache,
    nearest,
    pack,
    prompt_text,
    router_embedder,
    unit_vector,
)
from apps.gateway.pipeline.router import Router
from apps.gateway.pipeline.seam import Seam
from apps.gateway.pipeline.snapshot import CachePolicy, ServiceEntry, Snapshot
from tests.conftest import FAKE_KEY
from tests.entries import service_entry
from tests.gateway.pipeline.fakes import ListSink, deployment, route
from tests.gateway.policies.test_cache import ROUTE, call, completion, context, make_store

WEATHER = "What's the weather in Paris?"
WEATHER_PARAPHRASE = "Tell me the weather in Paris today"
CAPITAL = "What is the capital of France?"


def meaning(text: str) -> list[float]:
    """The fake upstream's embeddings: prompts about the weather point one way (paraphrases differ a little),
    anything else another."""
    if "weather" in text:
        return [1.0, 0.1 if "today" in text else 0.0, 0.0]
    return [0.0, 0.0, 1.0]


def chat(text: str, **params) -> dict:
    return {"model": "smart", "messages": [{"role": "user", "content": text}], **params}


@pytest.fixture(params=["memory", "redis"])
async def store(request, settings):
    async with make_store(request.param, settings.REDIS_URL) as made:
        yield made


@pytest.fixture
async def embedder(fake_upstream):
    fake_upstream.embedding_for = meaning
    sink = ListSink()
    # The pipeline's own request skeleton, as the embedder reaches it: its pooled clients, router and call sink.
    caller = Seam(config=None, keys=None, clients=ProcessClientPool(), sink=sink, router=Router())
    embed = router_embedder(lambda: caller)
    embed.records = sink.records  # the tests read what it recorded
    yield embed
    await caller.aclose()


def semantic_snapshot(fake, *, service: ServiceEntry | None = None, threshold: float = 0.95) -> Snapshot:
    embed_dep = replace(
        deployment(2, kind="openai"), base_url=fake.base_url, api_key=FAKE_KEY, upstream_model="text-embedding-3-small"
    )
    embed_route = replace(route(embed_dep, alias="embed", tenant_id=1, retries=0), route_id=2)
    policy = CachePolicy(ttl_seconds=60, semantic=True, semantic_route="embed", semantic_threshold=threshold)
    return Snapshot.build(
        version=1,
        keys=[],
        routes=[ROUTE, embed_route],
        services=[service] if service is not None else [],
        route_cache={} if service is not None else {ROUTE.route_id: policy},
        service_cache={service.service_id: policy} if service is not None else {},
    )


async def test_a_paraphrase_is_answered_with_the_stored_answer(store, embedder, fake_upstream):
    step, snap = CacheStep(store, semantic=SemanticCache(embedder)), semantic_snapshot(fake_upstream)
    first = context(snap, chat(WEATHER))
    assert await call(step, first, upstream=completion("Sunny")) is None
    assert first.record.policy_outcomes["cache"] == "stored"

    second = context(snap, chat(WEATHER_PARAPHRASE))
    answer = await call(step, second, upstream=completion("never asked"))
    assert answer is not None
    assert answer.body["choices"][0]["message"]["content"] == "Sunny"
    assert second.headers["X-Cache"] == "HIT"
    embedded = [r.body["input"] for r in fake_upstream.requests if r.path == "/v1/embeddings"]
    assert embedded == [f"user: {WEATHER}", f"user: {WEATHER_PARAPHRASE}"]
    # Each embedding is a call of its own in the log, of the tenant whose route embeds, with its tokens and cost.
    records = embedder.records
    assert [(r.request_id, r.endpoint, r.tenant_id, r.route, r.status) for r in records] == [
        (f"{first.record.request_id}.semantic", "semantic_cache", 1, "embed", 200),
        (f"{second.record.request_id}.semantic", "semantic_cache", 1, "embed", 200),
    ]
    assert all(r.prompt_tokens > 0 and r.deployment_id == 2 and r.cost > 0 and r.latency_ms > 0 for r in records)


async def test_a_prompt_far_from_every_stored_one_misses(store, embedder, fake_upstream):
    step, snap = CacheStep(store, semantic=SemanticCache(embedder)), semantic_snapshot(fake_upstream)
    await call(step, context(snap, chat(WEATHER)), upstream=completion("Sunny"))
    far = context(snap, chat(CAPITAL))
    assert await call(step, far, upstream=completion("Paris")) is None
    assert far.headers["X-Cache"] == "MISS"


async def test_the_threshold_decides(store, embedder, fake_upstream):
    # The paraphrase's similarity is 1/sqrt(1.01) ≈ 0.995: below a threshold of 0.999 it misses.
    step = CacheStep(store, semantic=SemanticCache(embedder))
    snap = semantic_snapshot(fake_upstream, threshold=0.999)
    await call(step, context(snap, chat(WEATHER)), upstream=completion("Sunny"))
    assert await call(step, context(snap, chat(WEATHER_PARAPHRASE))) is None


async def test_other_parameters_never_share_an_answer(store, embedder, fake_upstream):
    step, snap = CacheStep(store, semantic=SemanticCache(embedder)), semantic_snapshot(fake_upstream)
    await call(step, context(snap, chat(WEATHER)), upstream=completion("Sunny"))
    assert await call(step, context(snap, chat(WEATHER_PARAPHRASE, temperature=1.5))) is None


async def test_another_tenants_stored_answer_is_never_returned(store, embedder, fake_upstream):
    service = service_entry(service_id=9, slug="weather", kind="model", visibility="public")
    step = CacheStep(store, semantic=SemanticCache(embedder))
    snap = semantic_snapshot(fake_upstream, service=service)
    await call(step, context(snap, chat(WEATHER), tenant_id=2, service=service), upstream=completion("for 2"))
    other = context(snap, chat(WEATHER), tenant_id=3, service=service)
    assert await call(step, other, upstream=completion("for 3")) is None  # same words, another caller tenant
    answer = await call(step, context(snap, chat(WEATHER_PARAPHRASE), tenant_id=3, service=service))
    assert answer is not None
    assert answer.body["choices"][0]["message"]["content"] == "for 3"


async def test_a_failed_embedding_is_a_miss_and_the_call_goes_on(store, embedder, fake_upstream):
    step, snap = CacheStep(store, semantic=SemanticCache(embedder)), semantic_snapshot(fake_upstream)
    fake_upstream.script("status:500")
    ctx = context(snap, chat(WEATHER))
    assert await call(step, ctx, upstream=completion("Sunny")) is None
    assert ctx.headers["X-Cache"] == "MISS"
    assert ctx.record.policy_outcomes["cache"] == "stored"  # the exact entry, without a vector to find it by
    assert await call(step, context(snap, chat(WEATHER_PARAPHRASE))) is None


async def test_a_long_list_is_searched_off_the_event_loop_with_the_same_result(store, embedder, fake_upstream):
    step = CacheStep(store, semantic=SemanticCache(embedder, off_loop_after=0))
    snap = semantic_snapshot(fake_upstream)
    await call(step, context(snap, chat(WEATHER)), upstream=completion("Sunny"))
    assert await call(step, context(snap, chat(WEATHER_PARAPHRASE))) is not None


def test_the_nearest_vector_wins_and_the_most_recent_among_equals():
    query = unit_vector([1.0, 0.0])
    close, closer, other_model = (unit_vector(v) for v in ([1.0, 0.3], [1.0, 0.1], [1.0, 0.0, 0.0]))
    items = [pack("aa" * 32, close), pack("bb" * 32, closer), pack("cc" * 32, closer), pack("dd" * 32, other_model)]
    assert nearest(items, query, 0.9) == "bb" * 32
    assert nearest(items, query, 0.999) is None
    assert unit_vector([0.0, 0.0]) is None


def test_the_prompt_text_is_the_messages_text():
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "image_url", "image_url": {}}]},
        {"role": "assistant", "content": None, "tool_calls": []},
    ]
    assert prompt_text(messages) == "system: Be brief.\nuser: Look:"
