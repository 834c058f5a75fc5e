"""/v1/messages served by an Anthropic-format deployment: the official `anthropic` SDK through the live gateway,
its request translated to chat completions and from there to the fake Anthropic upstream's Messages API, and the
answer back the same way (text, streams, tool use round trip, cache tokens, errors)."""

from __future__ import annotations

import anthropic
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropicUpstream
from tests.gateway.conftest import sdk_for_provider

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-ant-e2e"
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def fake(settings):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = ["127.0.0.1"]
    with FakeAnthropicUpstream(api_key=KEY) as upstream:
        yield upstream


@pytest.fixture
def claude(transactional_db, fake, live_gateway):
    openai_sdk = sdk_for_provider(
        live_gateway,
        fake,
        kind="anthropic",
        slug="claude",
        name="Claude",
        api_key=KEY,
        routes={"smart": "claude-haiku-4-5-20251001"},
    )
    return anthropic.Anthropic(base_url=live_gateway, api_key=openai_sdk.api_key, max_retries=0)


def test_message(claude, fake):
    fake.cache_read = 3
    message = claude.messages.create(
        model="smart", max_tokens=20, system="Be terse.", messages=[{"role": "user", "content": "Say hi"}]
    )

    assert message.content[0].text == fake.reply
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (4, 4)
    assert message.usage.cache_read_input_tokens == 3
    [received] = fake.requests
    assert received.body["system"] == "Be terse."
    assert received.body["messages"] == [{"role": "user", "content": "Say hi"}]
    assert (received.body["model"], received.body["max_tokens"]) == ("claude-haiku-4-5-20251001", 20)


def test_max_tokens_stop_reason(claude, fake):
    message = claude.messages.create(model="smart", max_tokens=2, messages=[{"role": "user", "content": "Hi"}])
    assert message.stop_reason == "max_tokens"
    assert message.content[0].text == " ".join(fake.reply.split(" ")[:2])


def test_stream(claude, fake):
    with claude.messages.stream(model="smart", max_tokens=20, messages=[{"role": "user", "content": "Hi"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()

    assert text == fake.reply
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4
    assert fake.requests[-1].body["stream"] is True


def test_tool_use_round_trip(claude, fake):
    question = {"role": "user", "content": "Weather in Paris?"}
    first = claude.messages.create(
        model="smart", max_tokens=50, tools=[WEATHER], tool_choice={"type": "any"}, messages=[question]
    )

    assert first.stop_reason == "tool_use"
    [call] = first.content
    assert (call.type, call.name, call.input) == ("tool_use", "get_weather", {"city": "test"})
    assert fake.requests[-1].body["tool_choice"] == {"type": "any"}
    assert fake.requests[-1].body["tools"] == [WEATHER]

    result = {"type": "tool_result", "tool_use_id": call.id, "content": [{"type": "text", "text": "18 degrees"}]}
    second = claude.messages.create(
        model="smart",
        max_tokens=50,
        tools=[WEATHER],
        messages=[question, {"role": "assistant", "content": first.content}, {"role": "user", "content": [result]}],
    )

    assert second.stop_reason == "end_turn"
    assert second.content[0].text == fake.reply
    sent = fake.requests[-1].body["messages"]  # the fake checks that every tool_use is answered by its result
    assert sent[1] == {"role": "assistant", "content": [call.model_dump(exclude_none=True)]}
    assert sent[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": call.id, "content": [{"type": "text", "text": "18 degrees"}]}
        ],
    }


def test_streamed_tool_use(claude, fake):
    with claude.messages.stream(
        model="smart",
        max_tokens=50,
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    ) as stream:
        final = stream.get_final_message()

    assert final.stop_reason == "tool_use"
    [call] = final.content
    assert (call.type, call.name, call.input) == ("tool_use", "get_weather", {"city": "test"})


def test_image_and_stop_sequences_reach_anthropic(claude, fake):
    image = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    claude.messages.create(
        model="smart",
        max_tokens=20,
        stop_sequences=["a"],
        messages=[{"role": "user", "content": [{"type": "image", "source": image}, {"type": "text", "text": "What?"}]}],
    )

    body = fake.requests[-1].body
    assert body["messages"][0]["content"] == [{"type": "image", "source": image}, {"type": "text", "text": "What?"}]
    assert body["stop_sequences"] == ["a"]


def test_overloaded_upstream_is_an_anthropic_error_naming_the_provider(claude, fake):
    fake.script("status:529:0")
    with pytest.raises(anthropic.InternalServerError) as failed:
        claude.messages.create(model="smart", max_tokens=20, messages=[{"role": "user", "content": "Hi"}])

    assert failed.value.status_code == 502
    assert failed.value.body["type"] == "error"
    assert "claude" in failed.value.body["error"]["message"]
    assert fake.base_url not in failed.value.body["error"]["message"]
