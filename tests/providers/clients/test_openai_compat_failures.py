"""How OpenAICompatibleClient reports each way an upstream fails: kind, retryable, status, details."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from apps.providers.clients.base import ProviderError, Upstream, Usage
from tests.conftest import FAKE_KEY
from tests.fakes import openai_wire

MESSAGES = [{"role": "user", "content": "Say this is a test"}]
REQUEST = {"model": "a", "messages": MESSAGES}


def upstream_for(fake, *, timeout: float = 5, api_key: str = FAKE_KEY) -> Upstream:
    return Upstream(base_url=fake.base_url, api_key=api_key, model="gpt-4o-mini", timeout=timeout)


async def call(client, upstream: Upstream, how: str):
    if how == "chat":
        return await client.chat(upstream, REQUEST)
    return [chunk async for chunk in client.chat_stream(upstream, REQUEST)]


async def collect(stream, *, into: list) -> None:
    async for chunk in stream:
        into.append(chunk)


@pytest.mark.parametrize("how", ["chat", "stream"])
@pytest.mark.parametrize(
    ("mode", "kind", "retryable", "status"),
    [
        ("status:429", "rate_limited", True, 429),
        ("status:500", "server_error", True, 500),
        ("status:503", "server_error", True, 503),
        ("status:401", "auth", False, 401),
        ("status:403", "auth", False, 403),
        ("status:404", "not_found", False, 404),
        ("status:400", "bad_request", False, 400),
        ("status:422", "bad_request", False, 422),
        ("garbage", "bad_response", True, None),
        ("reset", "connect", True, None),
    ],
)
async def test_each_failure_maps_to_its_kind(fake_upstream, openai_client, how, mode, kind, retryable, status):
    fake_upstream.script(mode)

    with pytest.raises(ProviderError) as error:
        await call(openai_client, upstream_for(fake_upstream), how)

    assert (error.value.kind, error.value.retryable, error.value.status) == (kind, retryable, status)


@pytest.mark.parametrize("how", ["chat", "stream"])
async def test_a_bad_request_carries_the_provider_message_param_and_code(fake_upstream, openai_client, how):
    fake_upstream.script("status:400")

    with pytest.raises(ProviderError) as error:
        await call(openai_client, upstream_for(fake_upstream), how)

    assert error.value.message == openai_wire.ERRORS[400][0]
    assert (error.value.param, error.value.code, error.value.error_type) == (
        "messages",
        "empty_array",
        "invalid_request_error",
    )


async def test_an_error_event_in_a_stream_carries_the_providers_type_and_code(fake_upstream, openai_client):
    fake_upstream.errors[500] = ("The model is overloaded.", "server_error", None, "overloaded")
    fake_upstream.script("midstream_error")

    with pytest.raises(ProviderError) as error:
        await collect(openai_client.chat_stream(upstream_for(fake_upstream), REQUEST), into=[])

    assert (error.value.message, error.value.code, error.value.error_type) == (
        "The model is overloaded.",
        "overloaded",
        "server_error",
    )


async def test_a_wrong_key_is_an_auth_error(fake_upstream, openai_client):
    with pytest.raises(ProviderError) as error:
        await openai_client.chat(upstream_for(fake_upstream, api_key="sk-wrong"), REQUEST)

    assert (error.value.kind, error.value.retryable, error.value.code) == ("auth", False, "invalid_api_key")


async def test_rate_limits_carry_retry_after_in_seconds(fake_upstream, openai_client):
    fake_upstream.script("status:429:7")

    with pytest.raises(ProviderError) as error:
        await openai_client.chat(upstream_for(fake_upstream), REQUEST)

    assert error.value.retry_after == 7.0


async def test_retry_after_may_be_an_http_date(fake_upstream, openai_client):
    fake_upstream.script(f"status:429:{format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)}")

    with pytest.raises(ProviderError) as error:
        await openai_client.chat(upstream_for(fake_upstream), REQUEST)

    assert 28 <= error.value.retry_after <= 30


@pytest.mark.parametrize("how", ["chat", "stream"])
@pytest.mark.parametrize("mode", ["hang", "slow:3"])
async def test_no_answer_within_the_timeout_is_a_retryable_timeout(fake_upstream, openai_client, how, mode):
    fake_upstream.script(mode)
    started = time.monotonic()

    with pytest.raises(ProviderError) as error:
        await call(openai_client, upstream_for(fake_upstream, timeout=0.5), how)

    assert time.monotonic() - started < 0.5 + 1
    assert (error.value.kind, error.value.retryable) == ("timeout", True)


async def test_a_slow_answer_within_the_timeout_succeeds(fake_upstream, openai_client):
    fake_upstream.script("slow:0.3")

    result = await openai_client.chat(upstream_for(fake_upstream, timeout=2), REQUEST)

    assert result.usage == Usage(5, 4)


async def test_a_body_cut_short_is_a_retryable_connection_error(fake_upstream, openai_client):
    fake_upstream.script("midstream_fail")

    with pytest.raises(ProviderError) as error:
        await openai_client.chat(upstream_for(fake_upstream), REQUEST)

    assert (error.value.kind, error.value.retryable) == ("connect", True)


@pytest.mark.parametrize(
    ("mode", "kind"),
    [("midstream_fail", "connect"), ("midstream_garbage", "bad_response"), ("midstream_error", "server_error")],
)
async def test_a_stream_failing_after_chunks_raises_and_must_not_be_retried(fake_upstream, openai_client, mode, kind):
    fake_upstream.script(mode)
    received = []

    with pytest.raises(ProviderError) as error:
        await collect(openai_client.chat_stream(upstream_for(fake_upstream), REQUEST), into=received)

    assert len(received) == 2
    assert received[0]["choices"][0]["delta"]["role"] == "assistant"
    assert (error.value.kind, error.value.retryable) == (kind, False)


async def test_failing_the_next_requests_then_answering(fake_upstream, openai_client):
    fake_upstream.fail_next(2)
    upstream = upstream_for(fake_upstream)

    kinds = []
    for _ in range(2):
        with pytest.raises(ProviderError) as error:
            await openai_client.chat(upstream, REQUEST)
        kinds.append(error.value.kind)
    result = await openai_client.chat(upstream, REQUEST)

    assert kinds == ["server_error", "server_error"]
    assert result.body["choices"][0]["message"]["content"] == "This is a test."


async def test_an_unreachable_upstream_is_a_retryable_connection_error(openai_client, unused_tcp_port):
    upstream = Upstream(f"http://127.0.0.1:{unused_tcp_port}/v1", "", "m", timeout=2)

    with pytest.raises(ProviderError) as error:
        await openai_client.chat(upstream, REQUEST)

    assert (error.value.kind, error.value.retryable) == ("connect", True)
