"""The policy seam through the live /v1 application and the official OpenAI SDK: steps come from
wiring.policy_steps(), an answer from a step is replayed as a stream the SDK reads, and a refusal reaches the
SDK as its rate-limit error with the steps' headers."""

from __future__ import annotations

import openai
import pytest

from apps.analytics.models import CallLog
from apps.gateway import wiring
from tests.gateway.conftest import run
from tests.gateway.pipeline.seam_steps import LIMIT_HEADERS, RecordingStep, cached_answer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def log():
    return []


@pytest.fixture
def sdk(gateway_setup, live_gateway):
    return openai.OpenAI(base_url=f"{live_gateway}/v1", api_key=gateway_setup.secret, max_retries=0)


def with_steps(monkeypatch, *steps):
    # Before the first request builds the pipeline (the gateway conftest gives each test a fresh one).
    monkeypatch.setattr(wiring, "policy_steps", lambda: list(steps))


def test_an_answer_of_a_step_is_streamed_to_the_sdk_without_calling_upstream(monkeypatch, log, sdk, fake_upstream):
    with_steps(monkeypatch, RecordingStep("s1", log), RecordingStep("s2", log, answer=cached_answer()))
    stream = sdk.chat.completions.create(
        model="smart",
        messages=[{"role": "user", "content": "Say hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "from the cache"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage.total_tokens == 6
    assert fake_upstream.requests == []
    assert log[-2:] == [("s2", "after_call"), ("s1", "after_call")]
    run(wiring.get_call_sink().flush())
    call = CallLog.objects.get()
    assert (call.status, call.stream, call.cache_hit, call.cost) == (200, True, True, 0)


def test_a_refusal_of_a_step_is_the_sdks_rate_limit_error_with_its_headers(monkeypatch, log, sdk, fake_upstream):
    with_steps(monkeypatch, RecordingStep("s1", log), RecordingStep("s2", log, refuse=True))
    with pytest.raises(openai.RateLimitError) as excinfo:
        sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": "Say hi"}])
    assert excinfo.value.code == "requests_per_minute"
    headers = excinfo.value.response.headers
    assert {name: headers[name] for name in LIMIT_HEADERS} == LIMIT_HEADERS
    assert headers["x-step-s1"] == "admitted"
    assert fake_upstream.requests == []
    assert log == [("s1", "admit"), ("s2", "admit"), ("s1", "on_failure")]
