"""Anthropic's Messages API on the gateway (/v1/messages): the official `anthropic` SDK with only base_url and a
portal key, through the live gateway, served by an OpenAI-format upstream (tests/fakes/openai_upstream.py)."""

from __future__ import annotations

import anthropic
import httpx
import orjson
import pytest

from apps.analytics.models import CallLog
from apps.gateway import wiring
from apps.gateway.surfaces.anthropic_messages import request_to_openai
from apps.providers.clients.tokens import count_message_tokens, count_tokens
from tests.gateway.conftest import run

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def claude(gateway_setup, live_gateway):
    return anthropic.Anthropic(base_url=live_gateway, api_key=gateway_setup.secret, max_retries=0)


def test_message(claude, fake_upstream):
    raw = claude.messages.with_raw_response.create(
        model="smart",
        max_tokens=50,
        system="Be terse.",
        stop_sequences=["END"],
        metadata={"user_id": "u-42"},
        messages=[{"role": "user", "content": "Say hi"}],
        extra_headers={"anthropic-version": "2023-06-01"},  # which still has temperature
        extra_body={"temperature": 0.5},
    )
    message = raw.parse()

    assert message.id.startswith("msg_")
    assert (message.type, message.role, message.stop_reason) == ("message", "assistant", "end_turn")
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == fake_upstream.reply
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    assert raw.headers["x-request-id"].startswith("req_")
    [received] = fake_upstream.requests
    assert received.body["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Say hi"},
    ]
    assert (received.body["model"], received.body["max_tokens"]) == ("gpt-4o-mini", 50)
    assert (received.body["stop"], received.body["temperature"], received.body["user"]) == (["END"], 0.5, "u-42")


def test_stream(claude, fake_upstream):
    with claude.messages.stream(
        model="smart", max_tokens=50, messages=[{"role": "user", "content": "Say hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == fake_upstream.reply
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0
    assert final.usage.input_tokens > 0
    assert fake_upstream.requests[-1].body["stream"] is True


def test_stream_events_are_anthropics(gateway_setup, live_gateway, fake_upstream):
    body = {"model": "smart", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    headers = {"x-api-key": gateway_setup.secret, "anthropic-version": "2023-06-01"}
    response = httpx.post(f"{live_gateway}/v1/messages", json=body, headers=headers)

    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block.split("\n") for block in response.text.strip().split("\n\n")]
    names = [lines[0].removeprefix("event: ") for lines in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    for lines in events:  # each event's data names its own type
        assert orjson.loads(lines[1].removeprefix("data: "))["type"] == lines[0].removeprefix("event: ")


def test_tool_use_round_trip_is_translated_for_the_upstream(claude, fake_upstream):
    message = claude.messages.create(
        model="smart",
        max_tokens=100,
        tools=[WEATHER],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18 degrees"},
                    {"type": "text", "text": "Thanks."},
                ],
            },
        ],
    )

    assert message.content[0].text == fake_upstream.reply
    received = fake_upstream.requests[-1].body
    assert received["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18 degrees"},
        {"role": "user", "content": "Thanks."},
    ]
    assert received["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": WEATHER["description"],
                "parameters": WEATHER["input_schema"],
            },
        }
    ]
    assert (received["tool_choice"], received["parallel_tool_calls"]) == ("auto", False)


def test_count_tokens_is_the_gateways_estimate(claude, fake_upstream):
    body = {
        "model": "smart",
        "system": "Be terse.",
        "messages": [{"role": "user", "content": "Count me"}],
        "tools": [WEATHER],
    }
    counted = claude.messages.count_tokens(**body)

    translated = request_to_openai(body, count_only=True)
    expected = count_message_tokens(translated["messages"]) + count_tokens(orjson.dumps(translated["tools"]).decode())
    assert counted.input_tokens == expected > 0
    assert fake_upstream.requests == []  # no upstream call


def test_bearer_key_also_works(gateway_setup, live_gateway, fake_upstream):
    bearer = anthropic.Anthropic(base_url=live_gateway, auth_token=gateway_setup.secret, max_retries=0)
    message = bearer.messages.create(model="smart", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert message.content[0].text == fake_upstream.reply


def test_errors_are_anthropics(claude, live_gateway, fake_upstream):
    hi = [{"role": "user", "content": "Hi"}]
    with pytest.raises(anthropic.AuthenticationError) as bad_key:
        anthropic.Anthropic(base_url=live_gateway, api_key="gwk_nope", max_retries=0).messages.create(
            model="smart", max_tokens=10, messages=hi
        )
    assert bad_key.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "Invalid API key."},
    }

    with pytest.raises(anthropic.NotFoundError) as unknown_model:
        claude.messages.create(model="no-such-model", max_tokens=10, messages=hi)
    assert unknown_model.value.body["error"]["type"] == "not_found_error"
    assert "no-such-model" in unknown_model.value.body["error"]["message"]

    with pytest.raises(anthropic.BadRequestError) as no_max_tokens:
        claude.post("/v1/messages", cast_to=object, body={"model": "smart", "messages": hi})
    assert no_max_tokens.value.body["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }

    for version, param in (("2023-06-01", "top_k"), ("2026-10-21", "temperature")):
        with pytest.raises(anthropic.BadRequestError) as refused:
            claude.messages.create(
                model="smart",
                max_tokens=10,
                messages=hi,
                extra_body={param: 0.5},
                extra_headers={"anthropic-version": version},
            )
        assert refused.value.body["error"]["message"].startswith(f"{param}: ")

    with pytest.raises(anthropic.BadRequestError) as version:
        claude.messages.create(
            model="smart", max_tokens=10, messages=hi, extra_headers={"anthropic-version": "2099-01-01"}
        )
    assert version.value.body["error"]["message"].startswith("anthropic-version: '2099-01-01'")
    assert fake_upstream.requests == []


def test_a_bad_key_is_a_401_whatever_the_body(live_gateway):
    response = httpx.post(f"{live_gateway}/v1/messages", content=b"{not json", headers={"x-api-key": "gwk_a_b"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_unknown_paths_and_methods_under_messages_are_anthropic_errors(gateway_setup, live_gateway):
    headers = {"x-api-key": gateway_setup.secret}
    unknown = httpx.post(f"{live_gateway}/v1/messages/batches", json={}, headers=headers)
    assert unknown.status_code == 404
    assert unknown.json() == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "Invalid URL (POST /v1/messages/batches)."},
    }
    wrong_method = httpx.get(f"{live_gateway}/v1/messages", headers=headers)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["type"] == "error"
    assert httpx.get(f"{live_gateway}/v1/nope").json()["error"]["code"] == "unknown_url"  # elsewhere, OpenAI's


def test_upstream_failure_midstream_is_an_error_event(claude, fake_upstream):
    fake_upstream.script("midstream_error")
    stream = claude.messages.create(
        model="smart", max_tokens=50, messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    events = iter(stream)
    assert next(events).type == "message_start"  # the headers and the first events went out before the failure
    with pytest.raises(anthropic.APIStatusError) as failed:  # the SDK raises the `error` event
        list(events)
    assert failed.value.body["error"]["type"] == "api_error"
    assert "fake-openai" in failed.value.body["error"]["message"]
    assert fake_upstream.base_url not in str(failed.value)


def test_an_upstream_error_is_an_anthropic_error(claude, fake_upstream):
    fake_upstream.script("status:500", "status:500")
    with pytest.raises(anthropic.InternalServerError) as failed:
        claude.messages.create(model="smart", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert failed.value.status_code == 502
    assert failed.value.body["error"]["type"] == "api_error"


def test_calls_are_recorded(claude, gateway_setup, fake_upstream):
    claude.messages.create(model="smart", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    with claude.messages.stream(model="smart", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]) as s:
        s.until_done()
    run(wiring.get_call_sink().flush())
    logs = list(CallLog.objects.order_by("created_at"))
    assert [(log.endpoint, log.stream, log.status) for log in logs] == [
        ("messages", False, 200),
        ("messages", True, 200),
    ]
    assert all(log.app_id == gateway_setup.app.pk and log.completion_tokens > 0 for log in logs)


def test_a_missing_key_names_x_api_key(live_gateway):
    response = httpx.post(f"{live_gateway}/v1/messages", json={"model": "smart"})
    assert response.status_code == 401
    assert response.json()["error"] == {
        "type": "authentication_error",
        "message": "Missing API key: send it as 'x-api-key: <key>' (or 'Authorization: Bearer <key>').",
    }


def test_a_body_over_the_limit_is_anthropics_413(settings, gateway_setup, live_gateway):
    settings.GATEWAY_MAX_BODY_BYTES = 1024
    body = {"model": "smart", "max_tokens": 5, "messages": [{"role": "user", "content": "x" * 2048}]}
    response = httpx.post(f"{live_gateway}/v1/messages", json=body, headers={"x-api-key": gateway_setup.secret})
    assert response.status_code == 413
    assert response.json() == {
        "type": "error",
        "error": {"type": "request_too_large", "message": "The request body exceeds 1024 bytes."},
    }
