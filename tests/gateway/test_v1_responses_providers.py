"""POST /v1/responses served by an Anthropic-format and a Gemini-format deployment: the official OpenAI SDK's
`responses.create` (stream and not) through the live gateway, function calls answered with function_call_output on
previous_response_id (the upstream receives the whole conversation in its own format), structured output, and a
format the provider lacks refused naming the Responses parameter."""

from __future__ import annotations

import openai
import orjson
import pytest

from apps.gateway import wiring
from tests.fakes.anthropic_upstream import FakeAnthropicUpstream
from tests.fakes.gemini_upstream import FakeGeminiUpstream
from tests.gateway.conftest import sdk_for_provider

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": None,
}
PROVIDERS = {
    "anthropic": (FakeAnthropicUpstream, "sk-ant-e2e", "claude-haiku-4-5-20251001"),
    "gemini": (FakeGeminiUpstream, "AIza-e2e", "gemini-2.5-flash"),
}


@pytest.fixture(autouse=True)
def _fresh_response_store():
    """Each test gets its own store (its settings, its memory)."""
    wiring.get_response_store.cache_clear()
    yield
    wiring.get_response_store.cache_clear()


@pytest.fixture(params=sorted(PROVIDERS))
def kind(request):
    return request.param


@pytest.fixture
def fake(settings, kind):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = ["127.0.0.1"]  # the operator allows the local fake
    fake_class, key, _ = PROVIDERS[kind]
    with fake_class(api_key=key) as upstream:
        yield upstream


@pytest.fixture
def sdk(transactional_db, fake, kind, live_gateway):
    _, key, model = PROVIDERS[kind]
    return sdk_for_provider(
        live_gateway, fake, kind=kind, slug=kind, name=kind.title(), api_key=key, routes={"smart": model}
    )


def upstream_turns(kind: str, body: dict) -> list[tuple[str, list[str]]]:
    """The upstream conversation as (role, kinds of its parts), in the provider's own words."""
    if kind == "anthropic":
        return [
            (turn["role"], ["text"] if isinstance(turn["content"], str) else [b["type"] for b in turn["content"]])
            for turn in body["messages"]
        ]
    return [(turn["role"], [next(iter(part)) for part in turn["parts"]]) for turn in body["contents"]]


def test_a_response_is_served_by_the_providers_own_api(sdk, fake, kind):
    response = sdk.responses.create(model="smart", input="Say hi", instructions="Be terse.", max_output_tokens=20)

    assert response.status == "completed"
    assert response.output_text == fake.reply
    assert (response.usage.input_tokens, response.usage.output_tokens) == (4, 4)  # the fakes count words
    [received] = fake.requests
    if kind == "anthropic":
        assert (received.path, received.body["system"], received.body["max_tokens"]) == (
            "/v1/messages",
            "Be terse.",
            20,
        )
    else:
        assert received.path == "/v1beta/models/gemini-2.5-flash:generateContent"
        assert received.body["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
        assert received.body["generationConfig"]["maxOutputTokens"] == 20


def test_a_streamed_response(sdk, fake):
    events = list(sdk.responses.create(model="smart", input="Say hi", stream=True))

    assert [events[0].type, events[1].type, events[-1].type] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == fake.reply
    assert events[-1].response.usage.output_tokens == 4


def test_a_function_call_round_trip_on_previous_response_id(sdk, fake, kind):
    first = sdk.responses.create(model="smart", input="Weather in Oslo?", tools=[WEATHER], tool_choice="required")
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather"
    assert set(orjson.loads(call.arguments)) == {"city"}

    second = sdk.responses.create(
        model="smart",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER],
    )

    assert second.output_text == fake.reply
    model_role = "assistant" if kind == "anthropic" else "model"
    call_part, result_part = (
        ("tool_use", "tool_result") if kind == "anthropic" else ("functionCall", "functionResponse")
    )
    assert upstream_turns(kind, fake.requests[-1].body) == [
        ("user", ["text"]),
        (model_role, [call_part]),
        ("user", [result_part]),
    ]


def test_a_streamed_function_call_then_a_streamed_answer_to_it(sdk, fake, kind):
    events = list(
        sdk.responses.create(model="smart", input="Weather?", tools=[WEATHER], tool_choice="required", stream=True)
    )
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert [orjson.loads(e.arguments) for e in done] == [orjson.loads(deltas)]
    first = events[-1].response
    [call] = first.output

    events = list(
        sdk.responses.create(
            model="smart",
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
            stream=True,
        )
    )

    assert events[-1].response.output_text == fake.reply
    assert len(upstream_turns(kind, fake.requests[-1].body)) == 3


def test_structured_output(sdk, fake, kind):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    text = {"format": {"type": "json_schema", "name": "weather", "schema": schema}}
    if kind == "anthropic":  # Anthropic's Messages API has no response schema: refused, named as the caller wrote it
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.responses.create(model="smart", input="Weather?", text=text)
        assert refused.value.param == "text.format"
        assert "'text.format'" in refused.value.message
        assert fake.requests == []
        return

    response = sdk.responses.create(model="smart", input="Weather?", text=text)

    assert set(orjson.loads(response.output_text)) == {"city"}
    config = fake.requests[-1].body["generationConfig"]
    assert (config["responseMimeType"], config["responseSchema"]["required"]) == ("application/json", ["city"])


def test_a_stream_that_fails_midway_ends_with_an_error_event(sdk, fake, kind):
    fake.script("midstream_fail")

    events = list(sdk.responses.create(model="smart", input="Say hi", stream=True))

    error, failed = events[-2:]
    assert (error.type, error.code) == ("error", "upstream_stream_error")
    assert kind in error.message
    assert fake.base_url not in error.message
    assert (failed.type, failed.response.status) == ("response.failed", "failed")
