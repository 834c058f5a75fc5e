"""/v1/messages runs the pipeline's policy steps: a key's rate limit refuses with Anthropic's 429
(rate_limit_error), keeping the limit step's Retry-After and X-RateLimit-* headers."""

from __future__ import annotations

import anthropic
import pytest

from apps.access.services.limits import limit_set_create
from tests.gateway.conftest import refresh_snapshot
from tests.gateway.policies.conftest import clean_counters, wait_for_room  # noqa: F401 (clean_counters: a fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_counters")]
HI = [{"role": "user", "content": "Hi"}]


def test_a_rate_limit_is_anthropics_429_with_the_limit_headers(gateway_setup, live_gateway):
    limit_set_create(
        tenant=gateway_setup.tenant, actor_membership=None, api_key=gateway_setup.key, requests_per_minute=1
    )
    refresh_snapshot()
    claude = anthropic.Anthropic(base_url=live_gateway, api_key=gateway_setup.secret, max_retries=0)
    wait_for_room("minute", 4)
    served = claude.messages.with_raw_response.create(model="smart", max_tokens=10, messages=HI)
    assert served.headers["x-ratelimit-remaining-requests"] == "0"

    with pytest.raises(anthropic.RateLimitError) as refused:
        claude.messages.create(model="smart", max_tokens=10, messages=HI)

    assert refused.value.status_code == 429
    assert refused.value.body["type"] == "error"
    assert refused.value.body["error"]["type"] == "rate_limit_error"
    assert f"API key '{gateway_setup.key.prefix}'" in refused.value.body["error"]["message"]
    headers = refused.value.response.headers
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-limit-requests"] == "1"
    assert headers["x-ratelimit-remaining-requests"] == "0"
