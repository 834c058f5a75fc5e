"""The response cache through the live app (uvicorn, the portal's ASGI application) with the official OpenAI SDK and
the fake OpenAI upstream: the second identical call is a hit that never reaches the upstream, costs nothing and is
logged as a hit; a streamed request is served from the cache as a stream; invoke of a prompt service hits too."""

from __future__ import annotations

from decimal import Decimal

import openai
import pytest

from apps.analytics.models import CallLog
from apps.gateway import wiring
from apps.providers.services import deployment_add, route_create
from tests.gateway import test_invoke
from tests.gateway.conftest import refresh_snapshot, run
from tests.gateway.policies.test_cache_semantic import meaning
from tests.gateway.test_invoke import invoke

prompt_service = test_invoke.service  # prompt API `summarize` of tenant acme on route `smart`

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = [{"role": "user", "content": "What is a cache?"}]


def chat_calls(fake) -> int:
    return sum(1 for request in fake.requests if request.path == "/v1/chat/completions")


@pytest.fixture
def cached_route(gateway_setup):
    gateway_setup.route.cache_ttl_seconds = 60
    gateway_setup.route.save()
    refresh_snapshot()
    return gateway_setup


@pytest.fixture
def sdk(live_gateway, cached_route, fake_upstream):
    fake_upstream.requests.clear()
    return openai.OpenAI(base_url=f"{live_gateway}/v1", api_key=cached_route.secret, max_retries=0)


def logs() -> list[CallLog]:
    run(wiring.get_call_sink().flush())
    return list(CallLog.objects.order_by("created_at"))


def test_the_second_identical_call_is_a_hit_that_costs_nothing(sdk, fake_upstream):
    first = sdk.chat.completions.with_raw_response.create(model="smart", messages=MESSAGES, temperature=0)
    second = sdk.chat.completions.with_raw_response.create(model="smart", messages=MESSAGES, temperature=0)
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content == fake_upstream.reply
    assert chat_calls(fake_upstream) == 1

    miss, hit = logs()
    assert (miss.cache_hit, hit.cache_hit) == (False, True)
    assert miss.cost > 0
    assert hit.cost == Decimal(0)
    assert hit.policy_outcomes["cache"] == "hit"
    assert miss.policy_outcomes["cache"] == "stored"


def test_a_streamed_identical_request_is_served_from_the_cache_as_a_stream(sdk, fake_upstream):
    sdk.chat.completions.create(model="smart", messages=MESSAGES)
    with sdk.chat.completions.with_streaming_response.create(
        model="smart", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as response:
        assert response.headers["X-Cache"] == "HIT"
        chunks = list(response.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == fake_upstream.reply
    assert chunks[-1].usage is not None  # the usage chunk the caller asked for
    assert chat_calls(fake_upstream) == 1
    assert [log.cache_hit for log in logs()] == [False, True]


def test_a_streamed_miss_is_stored_and_answers_the_next_call(sdk, fake_upstream):
    stream = sdk.chat.completions.create(model="smart", messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == fake_upstream.reply
    again = sdk.chat.completions.with_raw_response.create(model="smart", messages=MESSAGES)
    assert again.headers["X-Cache"] == "HIT"
    assert again.parse().choices[0].message.content == fake_upstream.reply
    assert chat_calls(fake_upstream) == 1


def test_cache_control_no_cache_asks_the_upstream_and_no_store_keeps_nothing(sdk, fake_upstream):
    sdk.chat.completions.create(model="smart", messages=MESSAGES, extra_headers={"Cache-Control": "no-store"})
    fresh = sdk.chat.completions.with_raw_response.create(model="smart", messages=MESSAGES)
    assert fresh.headers["X-Cache"] == "MISS"  # the no-store answer was not kept
    bypass = sdk.chat.completions.with_raw_response.create(
        model="smart", messages=MESSAGES, extra_headers={"Cache-Control": "no-cache"}
    )
    assert bypass.headers["X-Cache"] == "BYPASS"
    assert chat_calls(fake_upstream) == 3


def test_a_route_without_a_cache_policy_says_nothing_of_a_cache(live_gateway, gateway_setup, fake_upstream):
    client = openai.OpenAI(base_url=f"{live_gateway}/v1", api_key=gateway_setup.secret, max_retries=0)
    for _ in range(2):
        response = client.chat.completions.with_raw_response.create(model="smart", messages=MESSAGES)
        assert "X-Cache" not in response.headers
    assert chat_calls(fake_upstream) == 2


def test_embeddings_are_cached_too(sdk, fake_upstream):
    first = sdk.embeddings.with_raw_response.create(model="smart", input="cache me")
    second = sdk.embeddings.with_raw_response.create(model="smart", input="cache me")
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.parse().data[0].embedding == first.parse().data[0].embedding
    assert sum(1 for request in fake_upstream.requests if request.path == "/v1/embeddings") == 1


def test_invoke_of_a_prompt_service_with_a_cache_policy_hits(
    live_gateway, gateway_setup, prompt_service, fake_upstream
):
    prompt_service.cache_ttl_seconds = 60
    prompt_service.save()
    refresh_snapshot()
    fake_upstream.requests.clear()
    first = invoke(live_gateway, gateway_setup.secret, {"text": "hello world"})
    second = invoke(live_gateway, gateway_setup.secret, {"text": "hello world"})
    assert first.status_code == second.status_code == 200
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.json()["output"] == first.json()["output"] == fake_upstream.reply
    assert chat_calls(fake_upstream) == 1
    other = invoke(live_gateway, gateway_setup.secret, {"text": "another text"})
    assert other.headers["X-Cache"] == "MISS"
    assert chat_calls(fake_upstream) == 2
    assert [log.cache_hit for log in logs()] == [False, True, False]


def test_invoke_with_a_semantic_cache_answers_a_paraphrase_from_the_cache(
    live_gateway, gateway_setup, prompt_service, fake_upstream
):
    route = route_create(tenant=gateway_setup.tenant, actor_membership=None, alias="embed", retries=0)
    deployment_add(
        route=route, model=gateway_setup.route.deployments.get().model, actor_membership=None, timeout_seconds=5
    )
    prompt_service.cache_ttl_seconds = 60
    prompt_service.semantic_cache, prompt_service.semantic_cache_route = True, "embed"
    prompt_service.save()
    refresh_snapshot()
    fake_upstream.embedding_for = meaning
    fake_upstream.requests.clear()

    first = invoke(live_gateway, gateway_setup.secret, {"text": "What's the weather in Paris?"})
    paraphrase = invoke(live_gateway, gateway_setup.secret, {"text": "Tell me the weather in Paris today"})
    far = invoke(live_gateway, gateway_setup.secret, {"text": "What is the capital of France?"})
    assert [r.headers["X-Cache"] for r in (first, paraphrase, far)] == ["MISS", "HIT", "MISS"]
    assert chat_calls(fake_upstream) == 2
    assert sum(1 for request in fake_upstream.requests if request.path == "/v1/embeddings") == 3
    calls = [log for log in logs() if log.endpoint == "invoke"]
    assert [(log.cache_hit, log.cost == 0) for log in calls] == [(False, False), (True, True), (False, False)]
    # Each embedding is in the call log too: a call of the service's tenant on its embedding route, with its cost.
    embeddings = [log for log in logs() if log.endpoint == "semantic_cache"]
    assert sorted(log.request_id for log in embeddings) == sorted(f"{log.request_id}.semantic" for log in calls)
    assert {(log.tenant_id, log.route, log.status) for log in embeddings} == {(prompt_service.tenant_id, "embed", 200)}
    assert all(log.prompt_tokens > 0 and log.cost > 0 for log in embeddings)
