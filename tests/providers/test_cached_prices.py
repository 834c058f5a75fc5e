"""Cached prompt tokens: read from every kind's usage, priced at the model's cached-input price, and that price
taken from the shipped table when a provider's models are imported."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from decimal import Decimal
from typing import Any

import pytest

from apps.providers.catalog_prices import known_price
from apps.providers.clients import anthropic_translate, gemini_translate
from apps.providers.clients.base import ChatStream, Usage
from apps.providers.models import ProviderModel
from apps.providers.services import provider_create, provider_sync_models
from tests.conftest import FAKE_KEY
from tests.gateway.pipeline.fakes import deployment


def test_openai_usage_counts_cached_prompt_tokens_as_part_of_the_prompt():
    usage = Usage.from_openai(
        {"prompt_tokens": 2006, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 1920}}
    )
    assert (usage.prompt_tokens, usage.cached_prompt_tokens, usage.completion_tokens) == (2006, 1920, 300)


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": 10, "completion_tokens": 2},
        {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": None},
        {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"audio_tokens": 0}},
    ],
    ids=["absent", "null", "without-cached"],
)
def test_usage_without_cached_tokens_has_none(usage):
    assert Usage.from_openai(usage).cached_prompt_tokens == 0


def test_an_upstream_claiming_more_cached_than_prompt_tokens_is_held_to_the_prompt():
    usage = Usage.from_openai({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 50}})
    assert usage.cached_prompt_tokens == 10


def test_anthropic_cache_reads_are_cached_tokens_and_cache_writes_plain_prompt_tokens():
    anthropic = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 5,
        "cache_read_input_tokens": 100,
        "output_tokens": 7,
    }
    usage = Usage.from_openai(anthropic_translate.usage_to_openai(anthropic))
    assert (usage.prompt_tokens, usage.cached_prompt_tokens, usage.completion_tokens) == (115, 100, 7)


def test_gemini_context_cache_tokens_are_cached_tokens():
    gemini = {"promptTokenCount": 120, "cachedContentTokenCount": 100, "candidatesTokenCount": 5}
    usage = Usage.from_openai(gemini_translate.usage_to_openai(gemini))
    assert (usage.prompt_tokens, usage.cached_prompt_tokens, usage.completion_tokens) == (120, 100, 5)


async def test_a_stream_reads_cached_tokens_from_its_usage_chunk():
    async def chunks() -> AsyncGenerator[dict[str, Any], None]:
        yield {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
        usage = {"prompt_tokens": 40, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 32}}
        yield {"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": usage}

    stream = ChatStream(chunks(), {"messages": [{"role": "user", "content": "hi"}]})
    assert len([chunk async for chunk in stream]) == 2
    assert stream.usage == Usage(40, 1, cached_prompt_tokens=32)


def test_cached_tokens_cost_the_cached_input_price():
    entry = dataclasses.replace(deployment(1), cached_input_price_per_mtok=Decimal("0.25"))  # input 1, output 2
    # 400 uncached at 1 + 600 cached at 0.25 + 100 out at 2, per million
    assert entry.cost(1000, 100, 600) == Decimal("0.00075")
    assert entry.cost(1000, 100) == Decimal("0.0012")


def test_without_a_cached_price_cached_tokens_cost_the_input_price():
    entry = deployment(1)
    assert entry.cached_input_price_per_mtok is None
    assert entry.cost(1000, 100, 600) == entry.cost(1000, 100) == Decimal("0.0012")


def test_cached_tokens_past_the_prompt_are_not_priced():
    entry = dataclasses.replace(deployment(1), cached_input_price_per_mtok=Decimal(0))
    assert entry.cost(10, 0, 50) == Decimal(0)


@pytest.mark.parametrize(
    ("model_id", "cached"),
    [
        ("gpt-4o-mini-2024-07-18", Decimal("0.075")),
        ("gpt-4.1", Decimal("0.50")),
        ("claude-sonnet-4-5-20250929", Decimal("0.30")),
        ("models/gemini-2.5-flash", Decimal("0.03")),
        ("gemini-2.0-flash-lite", None),
        ("text-embedding-3-small", None),
        ("my-own-model", None),
    ],
)
def test_the_price_table_lists_cached_input_prices(model_id, cached):
    assert known_price(model_id).cached_input == cached


def test_every_cached_price_is_below_its_input_price():
    from apps.providers.catalog_prices import KNOWN_PRICES

    for name in KNOWN_PRICES:
        price = known_price(name)
        assert price.cached_input is None or 0 < price.cached_input < price.input, name


@pytest.mark.django_db
def test_importing_models_applies_the_cached_input_price(tenant, fake_upstream):
    provider = provider_create(
        tenant=tenant,
        actor_membership=None,
        slug="openai",
        name="OpenAI",
        kind="openai",
        base_url=fake_upstream.base_url,
        api_key=FAKE_KEY,
    )
    provider_sync_models(provider=provider, actor_membership=None, publish_routes=False)
    prices = {
        m.upstream_id: (m.input_price_per_mtok, m.cached_input_price_per_mtok) for m in ProviderModel.objects.all()
    }
    assert prices == {
        "gpt-4o-mini": (Decimal("0.15"), Decimal("0.075")),
        "text-embedding-3-small": (Decimal("0.02"), None),
    }
