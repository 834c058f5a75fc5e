"""AnthropicClient against the fake Anthropic upstream: the Messages API body it sends, and the OpenAI-shaped
answers, streams, usage and errors it gives back."""

from __future__ import annotations

import orjson
import pytest

from apps.core.netguard import AddressPolicy
from apps.providers.clients.anthropic import AnthropicClient
from apps.providers.clients.base import ProviderError, UnsupportedParameter, Upstream
from apps.providers.clients.netguard import OutboundGuard
from tests.fakes.anthropic_upstream import FakeAnthropicUpstream
from tests.providers.clients.conftest import assert_the_guard_refuses, chunks_before_failure

KEY = "sk-ant-test"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
HI = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say this is a test"}]


@pytest.fixture
def fake():
    with FakeAnthropicUpstream(api_key=KEY) as upstream:
        yield upstream


@pytest.fixture
async def client():
    client = AnthropicClient()
    yield client
    await client.aclose()


def upstream_for(fake: FakeAnthropicUpstream, **options: object) -> Upstream:
    return Upstream(base_url=fake.base_url, api_key=KEY, model="claude-sonnet-4-5", timeout=5, options=options)


async def test_chat_sends_the_messages_api_body_and_headers(fake, client):
    request = {
        "model": "team-alias",
        "messages": HI,
        "max_completion_tokens": 50,
        "temperature": 0.3,
        "stop": "END",
        "user": "u-1",
        "tools": [WEATHER],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
    }

    await client.chat(upstream_for(fake), request)

    received = fake.requests[-1]
    assert (received.method, received.path) == ("POST", "/v1/messages")
    assert received.headers["x-api-key"] == KEY
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in received.headers
    assert received.body == {
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "Say this is a test"}],
        "max_tokens": 50,
        "system": "Be terse.",
        "temperature": 0.3,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
        "tools": [
            {
                "name": "get_weather",
                "description": "The weather in a city.",
                "input_schema": WEATHER["function"]["parameters"],
            }
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    }


async def test_chat_answers_in_openai_format_with_cache_tokens_in_the_prompt(fake, client):
    fake.cache_read, fake.cache_creation = 10, 5

    result = await client.chat(upstream_for(fake), {"model": "a", "messages": HI})

    assert fake.requests[-1].body["max_tokens"] == 4096  # the documented default when the caller sets none
    assert result.body["object"] == "chat.completion"
    assert result.body["choices"][0]["message"] == {"role": "assistant", "content": "This is a test.", "refusal": None}
    assert result.body["choices"][0]["finish_reason"] == "stop"
    # 7 words of input + 5 written to + 10 read from the cache; 4 words out
    assert result.body["usage"] == {
        "prompt_tokens": 22,
        "completion_tokens": 4,
        "total_tokens": 26,
        "prompt_tokens_details": {"cached_tokens": 10},
    }
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.estimated) == (22, 4, False)


@pytest.mark.parametrize(
    ("extra", "finish"), [({"stop": ["test"]}, "stop"), ({"max_tokens": 2}, "length")], ids=["stop", "length"]
)
async def test_stop_reasons_become_finish_reasons(fake, client, extra, finish):
    result = await client.chat(upstream_for(fake), {"model": "a", "messages": HI, **extra})

    assert result.body["choices"][0]["finish_reason"] == finish
    assert result.body["choices"][0]["message"]["content"] in ("This is a ", "This is")


async def test_a_forced_tool_call_and_its_result_go_both_ways(fake, client):
    ask = {"model": "a", "messages": HI, "tools": [WEATHER], "tool_choice": "required"}
    result = await client.chat(upstream_for(fake), ask)

    assert fake.requests[-1].body["tool_choice"] == {"type": "any"}
    choice = result.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    [call] = choice["message"]["tool_calls"]
    assert choice["message"]["content"] is None
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"test"}'}

    history = [*HI, choice["message"], {"role": "tool", "tool_call_id": call["id"], "content": "Sunny"}]
    named = {"type": "function", "function": {"name": "get_weather"}}
    await client.chat(upstream_for(fake), {"model": "a", "messages": history, "tools": [WEATHER], "tool_choice": named})

    sent = fake.requests[-1].body
    assert sent["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": call["id"], "name": "get_weather", "input": {"city": "test"}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call["id"], "content": [{"type": "text", "text": "Sunny"}]}
            ],
        },
    ]


async def test_images_become_base64_or_url_sources(fake, client):
    parts = [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    await client.chat(upstream_for(fake), {"model": "a", "messages": [{"role": "user", "content": parts}]})

    assert fake.requests[-1].body["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}, "response_format"),
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"temperature": 1.5}, "temperature"),
        ({"service_tier": "flex"}, "service_tier"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA=="}}],
                    }
                ]
            },
            "messages[0].content[0].image_url.url",
        ),
    ],
)
async def test_what_anthropic_cannot_take_is_a_400_naming_it_and_nothing_is_sent(fake, client, extra, param):
    with pytest.raises(UnsupportedParameter) as refused:
        await client.chat(upstream_for(fake), {"model": "a", "messages": HI, **extra})

    assert refused.value.param == param
    assert (refused.value.kind, refused.value.retryable) == ("bad_request", False)
    assert fake.requests == []


async def test_tool_arguments_that_are_not_json_are_a_400_naming_them(fake, client):
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{city"}}
    history = [*HI, {"role": "assistant", "content": None, "tool_calls": [call]}]

    with pytest.raises(ProviderError) as refused:
        await client.chat(upstream_for(fake), {"model": "a", "messages": history})

    assert refused.value.param == "messages[2].tool_calls[0].function.arguments"
    assert refused.value.kind == "bad_request"


async def test_stream_translates_events_to_openai_chunks(fake, client):
    stream = client.chat_stream(upstream_for(fake), {"model": "a", "messages": HI, "stream": True})
    chunks = [chunk async for chunk in stream]

    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[0]["id"].startswith("msg_")
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "This is a test."
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 4
    assert (stream.usage.prompt_tokens, stream.usage.estimated) == (7, False)
    assert fake.requests[-1].body["stream"] is True


async def test_stream_of_a_tool_call_gives_index_id_name_then_argument_fragments(fake, client):
    request = {"model": "a", "messages": HI, "tools": [WEATHER], "tool_choice": "required"}
    chunks = [chunk async for chunk in client.chat_stream(upstream_for(fake), request)]

    calls = [call for c in chunks if c["choices"] for call in c["choices"][0]["delta"].get("tool_calls") or ()]
    assert calls[0]["index"] == 0
    assert calls[0]["id"].startswith("toolu_")
    assert calls[0]["function"] == {"name": "get_weather", "arguments": ""}
    assert all(set(call) == {"index", "function"} for call in calls[1:])
    assert orjson.loads("".join(call["function"]["arguments"] for call in calls)) == {"city": "test"}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        ("529", "server_error", True),
        ("429", "rate_limited", True),
        ("500", "server_error", True),
        ("401", "auth", False),
        ("403", "auth", False),
        ("404", "not_found", False),
        ("400", "bad_request", False),
    ],
)
async def test_error_statuses_keep_their_retry_semantics(fake, client, status, kind, retryable):
    fake.script(f"status:{status}:3")

    with pytest.raises(ProviderError) as failed:
        await client.chat(upstream_for(fake), {"model": "a", "messages": HI})

    error = failed.value
    assert (error.kind, error.retryable, error.status) == (kind, retryable, int(status))
    assert error.error_type == {"529": "overloaded_error", "429": "rate_limit_error"}.get(status, error.error_type)
    assert error.retry_after == (3.0 if status in ("429", "529") else None)
    assert "scripted" in error.message


async def test_a_refused_key_is_auth_and_never_quoted(fake, client):
    upstream = Upstream(base_url=fake.base_url, api_key="sk-ant-wrong", model="m", timeout=5)

    with pytest.raises(ProviderError) as failed:
        await client.chat(upstream, {"model": "a", "messages": HI})

    assert (failed.value.kind, failed.value.retryable) == ("auth", False)
    assert "sk-ant-wrong" not in str(failed.value)


async def test_stream_error_before_any_chunk_is_retryable(fake, client):
    fake.script("status:529")
    _, error = await chunks_before_failure(client.chat_stream(upstream_for(fake), {"model": "a", "messages": HI}))
    assert error.retryable


@pytest.mark.parametrize("mode", ["midstream_error", "midstream_fail"])
async def test_stream_failing_after_the_first_chunk_is_not_retryable(fake, client, mode):
    fake.script(mode)

    received, error = await chunks_before_failure(
        client.chat_stream(upstream_for(fake), {"model": "a", "messages": HI})
    )

    assert len(received) == 1  # the role chunk went out
    assert error.retryable is False


async def test_an_answer_that_is_not_a_message_is_a_bad_response(fake, client):
    fake.script("garbage")
    with pytest.raises(ProviderError) as failed:
        await client.chat(upstream_for(fake), {"model": "a", "messages": HI})
    assert (failed.value.kind, failed.value.retryable) == ("bad_response", True)


async def test_model_list_pages_and_leaves_out_retired_models(fake, client):
    fake.models += [{**fake.models[0], "id": f"claude-extra-{n}"} for n in range(1001)]

    models = await client.list_models(upstream_for(fake))

    assert len(models) == 2 + 1001
    assert models[0].id == "claude-sonnet-4-5-20250929"
    assert models[0].context_window == 200000
    assert "claude-3-haiku-20240307" not in {m.id for m in models}
    assert [r.query.get("after_id") for r in fake.requests] == [None, "claude-extra-996"]  # 3 + 997 on the first page


async def test_a_trailing_v1_in_the_base_url_is_accepted(fake, client):
    upstream = Upstream(base_url=fake.base_url + "/v1/", api_key=KEY, model="m", timeout=5)
    await client.chat(upstream, {"model": "a", "messages": HI})
    assert fake.requests[-1].path == "/v1/messages"


async def test_embeddings_are_a_clear_400(client):
    with pytest.raises(ProviderError, match="embeddings") as refused:
        await client.embeddings(Upstream(base_url="https://api.anthropic.com", api_key=KEY, model="m"), {"input": "x"})
    assert (refused.value.kind, refused.value.retryable) == ("bad_request", False)


async def test_the_outbound_guard_applies(fake):
    guarded = AnthropicClient(guard=OutboundGuard(AddressPolicy.from_entries([]), label="claude"))
    await assert_the_guard_refuses(
        guarded, upstream_for(fake), {"model": "a", "messages": HI}, label="claude", fake=fake
    )
