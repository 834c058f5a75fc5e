"""Limits and budgets through the live gateway (the portal's ASGI app, Redis counters, the fake OpenAI upstream):
the 429s' envelope and headers, tokens per minute settled on the provider's usage, 200 concurrent calls against a
nearly spent budget, the over-budget route."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx
import pytest

from apps.access.services.limits import limit_set_create
from apps.gateway import wiring
from apps.gateway.pipeline.policies.counters import counter_key, window_bounds
from apps.providers.services import deployment_add, model_create, provider_create, route_create
from tests.conftest import FAKE_KEY
from tests.gateway.conftest import refresh_snapshot
from tests.gateway.policies.conftest import wait_for_room

pytestmark = pytest.mark.usefixtures("clean_counters")
HELLO = [{"role": "user", "content": "hello there"}]  # 2 tokens for the fake upstream (it counts words)


def chat(live_gateway: str, secret: str, **body) -> httpx.Response:
    body = {"model": "smart", "messages": HELLO, **body}
    headers = {"Authorization": f"Bearer {secret}"}
    return httpx.post(f"{live_gateway}/v1/chat/completions", json=body, headers=headers, timeout=10)


def counter(scope: str, scope_id: int, metric: str, window: str, *, settles_to: int) -> int:
    """The counter once the gateway's background settlements have landed (within a few seconds), else as it is."""
    deadline = time.monotonic() + 5
    while True:
        now = time.time()
        key = counter_key(scope, scope_id, metric, window_bounds(window, now)[0])
        value = wiring.get_limit_counters().read([key], now)[0]
        if value == settles_to or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def test_a_rate_limit_answers_429_in_openais_envelope_with_its_headers(gateway_setup, live_gateway):
    limit_set_create(
        tenant=gateway_setup.tenant, actor_membership=None, api_key=gateway_setup.key, requests_per_minute=2
    )
    refresh_snapshot()
    wait_for_room("minute", 4)
    served = [chat(live_gateway, gateway_setup.secret) for _ in range(2)]
    assert [r.status_code for r in served] == [200, 200]
    assert served[1].headers["x-ratelimit-limit-requests"] == "2"
    assert served[1].headers["x-ratelimit-remaining-requests"] == "0"

    refused = chat(live_gateway, gateway_setup.secret)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "requests_per_minute_exceeded")
    assert f"API key '{gateway_setup.key.prefix}'" in error["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"].endswith("s")


def test_tokens_per_minute_count_the_providers_tokens_not_the_estimate(gateway_setup, live_gateway, fake_upstream):
    limit_set_create(
        tenant=gateway_setup.tenant, actor_membership=None, app=gateway_setup.app, tokens_per_minute=10_000
    )
    refresh_snapshot()
    fake_upstream.reply = "one two three four five six"
    wait_for_room("minute", 4)
    answers = [chat(live_gateway, gateway_setup.secret) for _ in range(3)]
    usages = [a.json()["usage"] for a in answers]
    assert [(u["prompt_tokens"], u["completion_tokens"]) for u in usages] == [(2, 6)] * 3
    assert counter("app", gateway_setup.app.pk, "tokens_per_minute", "minute", settles_to=24) == 24
    # The headers of the third call: the two settled calls plus the third's estimate (more than its real 8).
    remaining = int(answers[2].headers["x-ratelimit-remaining-tokens"])
    assert 10_000 - 16 - remaining > 8


def _priced_route(tenant, base_url: str, alias: str, upstream: str, input_price: str, output_price: str):
    provider = provider_create(
        tenant=tenant,
        actor_membership=None,
        slug=f"fake-{alias}",
        name=f"Fake {alias}",
        kind="openai",
        base_url=base_url,
        api_key=FAKE_KEY,
    )
    model = model_create(
        provider=provider,
        actor_membership=None,
        name=upstream,
        upstream_id=upstream,
        modalities=["text"],
        input_price_per_mtok=Decimal(input_price),
        output_price_per_mtok=Decimal(output_price),
    )
    route = route_create(tenant=tenant, actor_membership=None, alias=alias, deadline_seconds=10, retries=0)
    deployment_add(route=route, model=model, actor_membership=None, timeout_seconds=5)
    return route


# $1,000 per million input tokens and $2,000 per million output tokens: the fake's 2 + 5 tokens cost $0.012, and
# a call is reserved at its estimated prompt tokens and 10 output tokens, about $0.03.
PER_CALL = Decimal("0.012")


def test_concurrent_calls_never_overspend_a_nearly_spent_budget(gateway_setup, live_gateway, fake_upstream):
    tenant, app = gateway_setup.tenant, gateway_setup.app
    _priced_route(tenant, fake_upstream.base_url, "dear", "gpt-dear", "1000", "2000")
    limit_set_create(tenant=tenant, actor_membership=None, app=app, budget_per_day=Decimal("0.30"))
    # Fail closed: on a machine so loaded that a check times out, the call is a 503, never served unchecked.
    type(tenant).objects.filter(pk=tenant.pk).update(limits_fail_open=False)
    refresh_snapshot()
    fake_upstream.reply = "one two three four five"
    wait_for_room("day", 60)
    for done in range(1, 21):  # $0.24 of $0.30 spent
        assert chat(live_gateway, gateway_setup.secret, model="dear", max_tokens=10).status_code == 200
        # Each call settles its reservation (~$0.03) to its cost ($0.012) a few ms after its answer: calls sent
        # back to back can find three reservations still standing, and one of them refused. Spend as a client would
        # over time, not as a burst (the burst is below).
        settled = int(done * PER_CALL * 1_000_000)
        assert counter("app", app.pk, "budget_per_day", "day", settles_to=settled) == settled

    async def burst() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {gateway_setup.secret}"}
        body = {"model": "dear", "messages": HELLO, "max_tokens": 10}
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=live_gateway, headers=headers, limits=limits, timeout=30) as client:
            return await asyncio.gather(*(client.post("/v1/chat/completions", json=body) for _ in range(200)))

    answers = asyncio.run(burst())
    served = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert all(a.json()["usage"]["total_tokens"] == 7 for a in served)
    codes = {(a.status_code, a.json()["error"]["code"]) for a in refused}
    assert (429, "budget_exceeded") in codes
    assert codes <= {(429, "budget_exceeded"), (503, "limits_unavailable")}
    assert 1 <= len(served) <= 5
    spent = (20 + len(served)) * PER_CALL
    assert spent <= Decimal("0.30")
    micro = int(spent * 1_000_000)
    assert counter("app", app.pk, "budget_per_day", "day", settles_to=micro) == micro


def test_a_reached_budget_sends_calls_to_the_over_budget_route(gateway_setup, live_gateway, fake_upstream):
    tenant, app = gateway_setup.tenant, gateway_setup.app
    _priced_route(tenant, fake_upstream.base_url, "dear", "gpt-dear", "1000", "2000")
    cheap = _priced_route(tenant, fake_upstream.base_url, "cheap", "gpt-cheap", "1", "1")
    # The tenant's day: less than one call's reservation on `dear`; the app's month: plenty.
    limit_set_create(tenant=tenant, actor_membership=None, budget_per_day=Decimal("0.01"), over_budget_route=cheap)
    limit_set_create(tenant=tenant, actor_membership=None, app=app, budget_per_month=Decimal("5"))
    refresh_snapshot()
    fake_upstream.reply = "one two three four five"
    answer = chat(live_gateway, gateway_setup.secret, model="dear", max_tokens=10)
    assert answer.status_code == 200
    assert answer.json()["model"] == "gpt-cheap"
    assert [r.body["model"] for r in fake_upstream.requests if r.path.endswith("/chat/completions")] == ["gpt-cheap"]
    # 2 + 5 tokens at $1 per million: 7 micro-dollars on the app's month, nothing on the tenant's reached day.
    assert counter("app", app.pk, "budget_per_month", "month", settles_to=7) == 7
    assert counter("tenant", tenant.pk, "budget_per_day", "day", settles_to=0) == 0
