"""The official OpenAI Python SDK, with only base_url and a portal key changed, works through the gateway."""

from __future__ import annotations

import openai
import pytest

from apps.analytics.models import CallLog
from apps.gateway import wiring
from tests.conftest import FAKE_KEY
from tests.gateway.conftest import run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk(gateway_setup, live_gateway):
    return openai.OpenAI(base_url=f"{live_gateway}/v1", api_key=gateway_setup.secret, max_retries=0)


def test_chat_completion(sdk, fake_upstream):
    raw = sdk.chat.completions.with_raw_response.create(
        model="smart", messages=[{"role": "user", "content": "Say hi"}], temperature=0.2
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == fake_upstream.reply
    assert completion.usage.total_tokens > 0
    assert raw.headers["x-request-id"].startswith("req_")
    assert float(raw.headers["x-gateway-overhead-ms"]) >= 0
    [received] = fake_upstream.requests
    assert received.body["model"] == "gpt-4o-mini"  # the alias became the deployment's upstream model
    assert received.body["temperature"] == 0.2
    assert received.headers["Authorization"] == f"Bearer {FAKE_KEY}"  # the provider's key, not the portal's


def test_streaming_chat_completion(sdk, fake_upstream):
    stream = sdk.chat.completions.create(
        model="smart",
        messages=[{"role": "user", "content": "Say hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == fake_upstream.reply
    assert chunks[-1].usage.completion_tokens > 0


def test_embeddings(sdk, fake_upstream):
    result = sdk.embeddings.create(model="smart", input=["one", "two"])
    assert len(result.data) == 2
    assert len(result.data[0].embedding) > 0
    assert fake_upstream.requests[-1].body["model"] == "gpt-4o-mini"


def test_model_list_shows_only_what_the_key_may_call(sdk):
    assert [m.id for m in sdk.models.list()] == ["smart"]


def test_errors_surface_as_sdk_exceptions(sdk, live_gateway):
    with pytest.raises(openai.NotFoundError) as excinfo:
        sdk.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert excinfo.value.code == "model_not_found"
    bad_key = openai.OpenAI(base_url=f"{live_gateway}/v1", api_key="gwk_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_key.models.list()


def test_every_call_is_recorded_with_usage_and_cost(sdk, gateway_setup):
    sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": "Say hi"}])
    list(sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": "hi"}], stream=True))
    run(wiring.get_call_sink().flush())
    logs = list(CallLog.objects.order_by("created_at"))
    assert [(log.endpoint, log.stream, log.status) for log in logs] == [("chat", False, 200), ("chat", True, 200)]
    for log in logs:
        assert log.tenant_id == gateway_setup.tenant.pk
        assert log.app_id == gateway_setup.app.pk
        assert log.key_prefix == gateway_setup.key.prefix
        assert log.route == "smart"
        assert log.prompt_tokens > 0
        assert log.completion_tokens > 0
        assert log.cost > 0
        assert log.upstream_ms > 0
    gateway_setup.key.refresh_from_db()
    assert gateway_setup.key.last_used_at is not None
