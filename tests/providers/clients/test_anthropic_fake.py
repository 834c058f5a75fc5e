"""The fake Anthropic upstream, driven by the official `anthropic` SDK: if the SDK reads its answers, streams
and errors, the fake speaks Anthropic's wire format (the client tests then rely on it)."""

from __future__ import annotations

import anthropic
import pytest

from tests.fakes.anthropic_upstream import VERSIONS, FakeAnthropicUpstream

KEY = "sk-ant-test"
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def fake():
    with FakeAnthropicUpstream(api_key=KEY) as upstream:
        yield upstream


@pytest.fixture
def sdk(fake):
    return anthropic.Anthropic(base_url=fake.base_url, api_key=KEY, max_retries=0)


def test_sdk_reads_a_message_with_usage(sdk, fake):
    fake.cache_read = 7
    message = sdk.messages.create(
        model="claude-sonnet-4-5", max_tokens=100, system="Be terse.", messages=[{"role": "user", "content": "Hi"}]
    )

    assert message.content[0].text == "This is a test."
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (3, 4)
    assert message.usage.cache_read_input_tokens == 7
    received = fake.requests[-1]
    assert received.headers["Authorization"] == f"Bearer {KEY}"  # the 2.x SDKs' way; the gateway sends x-api-key
    assert received.headers["anthropic-version"] in VERSIONS


def test_sdk_streams_text_events_in_order(sdk, fake):
    with sdk.messages.stream(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()

    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert "ping" not in kinds or kinds.index("ping") > kinds.index("content_block_start")
    assert final.content[0].text == "This is a test."
    assert final.usage.output_tokens == 4
    assert final.stop_reason == "end_turn"


def test_sdk_gets_a_forced_tool_call_and_sends_its_result(sdk, fake):
    call = sdk.messages.create(
        model="claude-sonnet-4-5",
        max_tokens=100,
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    [block] = call.content
    assert (block.type, block.name, block.input) == ("tool_use", "get_weather", {"city": "test"})
    assert call.stop_reason == "tool_use"

    follow_up = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [block.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "Sunny"}]},
    ]
    answer = sdk.messages.create(model="claude-sonnet-4-5", max_tokens=100, tools=[WEATHER], messages=follow_up)
    assert answer.content[0].text == "This is a test."


def test_sdk_streams_a_tool_call_as_json_deltas(sdk, fake):
    with sdk.messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=100,
        tools=[WEATHER],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather?"}],
    ) as stream:
        final = stream.get_final_message()

    assert final.content[0].input == {"city": "test"}
    assert final.stop_reason == "tool_use"


def test_sdk_raises_the_typed_errors(sdk, fake):
    fake.script("status:529", "status:400")
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        sdk.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"
    with pytest.raises(anthropic.BadRequestError):
        sdk.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=fake.base_url, api_key="wrong", max_retries=0).messages.create(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "Hi"}]
        )


def test_sdk_reads_an_error_event_mid_stream(sdk, fake):
    fake.script("midstream_error")
    with (
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        sdk.messages.stream(model="m", max_tokens=5, messages=[{"role": "user", "content": "Hi"}]) as stream,
    ):
        list(stream)


def test_sdk_pages_through_the_model_list(sdk, fake):
    ids = [model.id for model in sdk.models.list(limit=1)]

    assert ids == [model["id"] for model in fake.models]
    assert [r.query.get("after_id") for r in fake.requests] == [None, fake.models[0]["id"], fake.models[1]["id"]]
