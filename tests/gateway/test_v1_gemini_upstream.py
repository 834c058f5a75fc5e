"""/v1/chat/completions and /v1/embeddings served by a Gemini-format deployment: the official OpenAI SDK, through
the live gateway, against the fake Gemini upstream (translation both ways, streams, tools, embeddings, refusals)."""

from __future__ import annotations

import openai
import orjson
import pytest
from pydantic import BaseModel

from apps.providers.models import ProviderModel
from tests.fakes.gemini_upstream import FakeGeminiUpstream
from tests.gateway.conftest import sdk_for_provider

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "AIza-e2e"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


@pytest.fixture
def fake(settings):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = ["127.0.0.1"]  # the operator allows the local fake
    with FakeGeminiUpstream(api_key=KEY) as upstream:
        yield upstream


@pytest.fixture
def sdk(transactional_db, fake, live_gateway):
    # The model list is imported from the fake's /v1beta/models.
    return sdk_for_provider(
        live_gateway,
        fake,
        kind="gemini",
        slug="gemini",
        name="Gemini",
        api_key=KEY,
        routes={"smart": "gemini-2.5-flash", "vectors": "gemini-embedding-001"},
    )


def test_chat_completion_is_served_by_generate_content(sdk, fake):
    completion = sdk.chat.completions.create(
        model="smart",
        messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say hi"}],
        max_tokens=20,
    )

    assert completion.choices[0].message.content == fake.reply
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (4, 4)
    [received] = fake.requests
    assert received.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert received.headers["x-goog-api-key"] == KEY  # the provider's key, not the portal's
    assert received.body["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
    assert received.body["generationConfig"] == {"maxOutputTokens": 20}


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
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (2, 4)
    assert fake.requests[-1].query == {"alt": "sse"}


def test_streamed_tool_call_and_its_result_round_trip(sdk, fake):
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    stream = sdk.chat.completions.create(
        model="smart", messages=ask, tools=[WEATHER], tool_choice="required", stream=True
    )
    calls = [call for c in stream if c.choices for call in c.choices[0].delta.tool_calls or ()]

    [call] = calls
    assert call.function.name == "get_weather"
    assert orjson.loads(call.function.arguments) == {"city": "test"}
    assert fake.requests[-1].body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert "additionalProperties" not in fake.requests[-1].body["tools"][0]["functionDeclarations"][0]["parameters"]

    history = [
        *ask,
        {
            "role": "assistant",
            "tool_calls": [{"id": call.id, "type": "function", "function": call.function.model_dump()}],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny"},
    ]
    answer = sdk.chat.completions.create(model="smart", messages=history, tools=[WEATHER])
    assert answer.choices[0].message.content == fake.reply
    assert fake.requests[-1].body["contents"][-1]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"output": "Sunny"}}}
    ]


def test_structured_output_through_the_sdks_parse(sdk, fake):
    class Weather(BaseModel):
        city: str
        degrees: int

    completion = sdk.chat.completions.parse(
        model="smart", messages=[{"role": "user", "content": "Weather?"}], response_format=Weather
    )

    assert isinstance(completion.choices[0].message.parsed, Weather)
    config = fake.requests[-1].body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"]["required"] == ["city", "degrees"]


def test_embeddings_through_the_sdk(sdk, fake):
    result = sdk.embeddings.create(model="vectors", input=["one", "two words"], dimensions=3)

    assert [len(item.embedding) for item in result.data] == [3, 3]
    assert isinstance(result.data[0].embedding[0], float)
    assert result.usage.prompt_tokens == 3  # estimated: batchEmbedContents reports none
    assert fake.requests[-1].path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"


def test_an_image_url_gemini_cannot_fetch_is_a_400_naming_the_part(sdk, fake):
    content = [
        {"type": "text", "text": "What is it?"},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
    ]
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": content}])

    assert refused.value.body["param"] == "messages[0].content[1].image_url.url"
    assert fake.requests == []


def test_geminis_invalid_argument_is_passed_on_as_a_400(sdk, fake):
    fake.script("status:400")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": "Hi"}])
    assert "scripted INVALID_ARGUMENT" in refused.value.message


def test_gemini_unavailable_is_a_502_naming_the_provider_not_its_url(sdk, fake):
    fake.script("status:503")
    with pytest.raises(openai.APIStatusError) as failed:
        sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": "Hi"}])

    assert failed.value.status_code == 502
    assert "gemini" in failed.value.message
    assert fake.base_url not in failed.value.message


def test_sync_imports_gemini_models_with_shipped_prices(sdk):
    imported = {m.upstream_id: m for m in ProviderModel.objects.filter(provider__kind="gemini")}

    # imagen only predicts: not a chat or embedding model
    assert set(imported) == {"gemini-2.5-flash", "gemini-2.0-flash-001", "gemini-embedding-001"}
    flash = imported["gemini-2.0-flash-001"]
    assert (str(flash.input_price_per_mtok), str(flash.output_price_per_mtok)) == ("0.100000", "0.400000")
    assert flash.context_window == 1048576
    assert imported["gemini-embedding-001"].modalities == ["embedding"]
