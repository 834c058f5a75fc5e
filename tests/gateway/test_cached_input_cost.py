"""Through the live gateway: an upstream reporting prompt tokens read from its cache makes the call log's cost
the cheaper one, for JSON answers and streams."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from apps.analytics.models import CallLog
from apps.gateway import wiring
from apps.providers.services import model_update
from tests.gateway.conftest import refresh_snapshot, run

pytestmark = pytest.mark.django_db(transaction=True)

# 10 words of prompt (the fake counts words), 8 of them from the cache; the reply "This is a test." is 4 words.
CHAT = {"model": "smart", "messages": [{"role": "user", "content": "one two three four five six seven eight nine ten"}]}
# gpt-4o-mini in the fixture: input 0.15, output 0.60; cached input 0.075 here
CACHED_COST = (2 * Decimal("0.15") + 8 * Decimal("0.075") + 4 * Decimal("0.60")) / 1_000_000
FULL_COST = (10 * Decimal("0.15") + 4 * Decimal("0.60")) / 1_000_000


@pytest.fixture
def http(gateway_setup, live_gateway):
    model = gateway_setup.route.deployments.get().model
    model_update(model=model, actor_membership=None, data={"cached_input_price_per_mtok": Decimal("0.075")})
    refresh_snapshot()
    headers = {"Authorization": f"Bearer {gateway_setup.secret}"}
    with httpx.Client(base_url=f"{live_gateway}/v1", headers=headers, timeout=30) as client:
        yield client


def _logged_cost() -> Decimal:
    run(wiring.get_call_sink().flush())
    [log] = CallLog.objects.all()
    assert (log.status, log.prompt_tokens, log.completion_tokens) == (200, 10, 4)
    return log.cost


def test_cached_prompt_tokens_cost_the_cached_price(http, fake_upstream):
    fake_upstream.cached_prompt_tokens = 8
    response = http.post("/chat/completions", json=CHAT)
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 8
    assert _logged_cost() == CACHED_COST < FULL_COST


def test_a_streamed_call_costs_the_cached_price(http, fake_upstream):
    fake_upstream.cached_prompt_tokens = 8
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with http.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert b"[DONE]" in b"".join(response.iter_bytes())
    assert _logged_cost() == CACHED_COST


def test_without_cached_tokens_the_whole_prompt_costs_the_input_price(http, fake_upstream):
    response = http.post("/chat/completions", json=CHAT)
    assert response.status_code == 200, response.text
    assert _logged_cost() == FULL_COST
