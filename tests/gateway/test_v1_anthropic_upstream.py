"""/v1/chat/completions served by an Anthropic-format deployment: the official OpenAI SDK, through the live
gateway, against the fake Anthropic upstream (translation both ways, streams, tools, refusals)."""

from __future__ import annotations

import openai
import orjson
import pytest

from apps.providers.models import ProviderModel
from tests.fakes.anthropic_upstream import FakeAnthropicUpstream
from tests.gateway.conftest import sdk_for_provider

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-ant-e2e"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def fake(settings):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = ["127.0.0.1"]  # the operator allows the local fake
    with FakeAnthropicUpstream(api_key=KEY) as upstream:
        yield upstream


@pytest.fixture
def sdk(transactional_db, fake, live_gateway):
    # The model list is imported from the fake's /v1/models.
    return sdk_for_provider(
        live_gateway,
        fake,
        kind="anthropic",
        slug="claude",
        name="Claude",
        api_key=KEY,
        routes={"smart": "claude-haiku-4-5-20251001"},
    )


def test_chat_completion_is_served_by_the_messages_api(sdk, fake):
    completion = sdk.chat.completions.create(
        model="smart",
        messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say hi"}],
        max_tokens=20,
    )

    assert completion.choices[0].message.content == fake.reply
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (4, 4)
    [received] = fake.requests
    assert received.path == "/v1/messages"
    assert received.headers["x-api-key"] == KEY  # the provider's key, not the portal's
    assert received.body["model"] == "claude-haiku-4-5-20251001"
    assert received.body["system"] == "Be terse."
    assert received.body["max_tokens"] == 20


def test_streaming_chat_completion_with_usage(sdk, fake):
    stream = sdk.chat.completions.create(
        model="smart",
        messages=[{"role": "user", "content": "Say hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == fake.reply
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens == 4
    assert fake.requests[-1].body["stream"] is True


def test_streamed_tool_call_reassembles(sdk, fake):
    stream = sdk.chat.completions.create(
        model="smart",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        tool_choice="required",
        stream=True,
    )
    calls = [call for c in stream if c.choices for call in c.choices[0].delta.tool_calls or ()]

    assert calls[0].function.name == "get_weather"
    assert orjson.loads("".join(call.function.arguments or "" for call in calls)) == {"city": "test"}
    assert fake.requests[-1].body["tool_choice"] == {"type": "any"}


def test_a_parameter_anthropic_lacks_is_a_400_naming_it(sdk, fake):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(
            model="smart",
            messages=[{"role": "user", "content": "Hi"}],
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        )

    assert refused.value.status_code == 400
    assert refused.value.body["param"] == "response_format"
    assert fake.requests == []


def test_anthropic_overloaded_is_a_502_naming_the_provider_not_its_url(sdk, fake):
    fake.script("status:529:0")
    with pytest.raises(openai.APIStatusError) as failed:
        sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": "Hi"}])

    assert failed.value.status_code == 502
    assert "claude" in failed.value.message
    assert fake.base_url not in failed.value.message


def test_sync_imports_anthropic_models_with_shipped_prices(sdk):
    imported = {m.upstream_id: m for m in ProviderModel.objects.filter(provider__kind="anthropic")}

    assert set(imported) == {"claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"}  # the retired one is not
    haiku = imported["claude-haiku-4-5-20251001"]
    assert (str(haiku.input_price_per_mtok), str(haiku.output_price_per_mtok)) == ("1.000000", "5.000000")
    assert haiku.context_window == 200000
