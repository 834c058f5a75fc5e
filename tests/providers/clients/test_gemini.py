"""GeminiClient against the fake Gemini upstream: the generateContent body it sends, and the OpenAI-shaped
answers, streams, usage, embeddings, model list and errors it gives back."""

from __future__ import annotations

import base64
import struct

import orjson
import pytest

from apps.core.netguard import AddressPolicy
from apps.providers.clients.base import ProviderError, UnsupportedParameter, Upstream
from apps.providers.clients.gemini import GeminiClient
from apps.providers.clients.gemini_translate import gemini_to_openai
from apps.providers.clients.netguard import OutboundGuard
from tests.fakes.gemini_upstream import FakeGeminiUpstream
from tests.providers.clients.conftest import assert_the_guard_refuses, chunks_before_failure

KEY = "AIza-test"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": ["string", "null"], "enum": ["C", "F"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
HI = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say this is a test"}]


@pytest.fixture
def fake():
    with FakeGeminiUpstream(api_key=KEY) as upstream:
        yield upstream


@pytest.fixture
async def client():
    client = GeminiClient()
    yield client
    await client.aclose()


def upstream_for(fake: FakeGeminiUpstream, **options: object) -> Upstream:
    return Upstream(base_url=fake.base_url, api_key=KEY, model="gemini-2.5-flash", timeout=5, options=options)


async def test_chat_sends_the_generate_content_body_and_key_header(fake, client):
    request = {
        "model": "team-alias",
        "messages": HI,
        "max_completion_tokens": 50,
        "temperature": 0.3,
        "top_p": 0.9,
        "seed": 7,
        "stop": "END",
        "n": 2,
        "tools": [WEATHER],
        "tool_choice": "auto",
    }

    await client.chat(upstream_for(fake), request)

    received = fake.requests[-1]
    assert (received.method, received.path) == ("POST", "/v1beta/models/gemini-2.5-flash:generateContent")
    assert received.headers["x-goog-api-key"] == KEY
    assert received.query == {}  # never the key in the URL
    assert received.body == {
        "contents": [{"role": "user", "parts": [{"text": "Say this is a test"}]}],
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "The weather in a city.",
                        # $schema and additionalProperties stripped, types upper-cased, a null type made nullable
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {
                                "city": {"type": "STRING"},
                                "unit": {"type": "STRING", "nullable": True, "enum": ["C", "F"]},
                            },
                            "required": ["city"],
                        },
                    }
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        "generationConfig": {
            "temperature": 0.3,
            "topP": 0.9,
            "seed": 7,
            "maxOutputTokens": 50,
            "candidateCount": 2,
            "stopSequences": ["END"],
        },
    }


async def test_chat_answers_in_openai_format_with_cached_and_reasoning_tokens(fake, client):
    fake.cached, fake.thoughts = 10, 3

    result = await client.chat(upstream_for(fake), {"model": "a", "messages": HI})

    assert result.body["object"] == "chat.completion"
    assert result.body["model"] == "gemini-2.5-flash"
    assert result.body["choices"][0]["message"] == {"role": "assistant", "content": "This is a test.", "refusal": None}
    assert result.body["choices"][0]["finish_reason"] == "stop"
    # 7 words of prompt + 10 cached (Google counts them in promptTokenCount); 4 words + 3 thought tokens out
    assert result.body["usage"] == {
        "prompt_tokens": 17,
        "completion_tokens": 7,
        "total_tokens": 24,
        "prompt_tokens_details": {"cached_tokens": 10},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.estimated) == (17, 7, False)


async def test_n_gives_as_many_choices(fake, client):
    result = await client.chat(upstream_for(fake), {"model": "a", "messages": HI, "n": 3})
    assert [choice["index"] for choice in result.body["choices"]] == [0, 1, 2]


@pytest.mark.parametrize(
    ("extra", "mode", "finish"),
    [({"stop": ["test"]}, "ok", "stop"), ({"max_tokens": 2}, "ok", "length"), ({}, "safety", "content_filter")],
    ids=["stop", "length", "safety"],
)
async def test_finish_reasons(fake, client, extra, mode, finish):
    fake.script(mode)
    result = await client.chat(upstream_for(fake), {"model": "a", "messages": HI, **extra})
    assert result.body["choices"][0]["finish_reason"] == finish


async def test_a_blocked_prompt_is_one_empty_content_filter_choice(fake, client):
    fake.script("blocked")
    result = await client.chat(upstream_for(fake), {"model": "a", "messages": HI})
    assert result.body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None, "refusal": None},
            "logprobs": None,
            "finish_reason": "content_filter",
        }
    ]


async def test_a_forced_call_and_its_result_go_both_ways_with_stable_ids(fake, client):
    named = {"type": "function", "function": {"name": "get_weather"}}
    ask = {"model": "a", "messages": HI, "tools": [WEATHER], "tool_choice": named}
    result = await client.chat(upstream_for(fake), ask)

    assert fake.requests[-1].body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }
    choice = result.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"test"}'}

    history = [
        *HI,
        choice["message"],
        {"role": "tool", "tool_call_id": call["id"], "content": "Sunny"},
        {"role": "user", "content": "And tomorrow?"},
    ]
    await client.chat(upstream_for(fake), {"model": "a", "messages": history, "tools": [WEATHER]})

    assert fake.requests[-1].body["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "test"}}}]},
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"output": "Sunny"}}},
                {"text": "And tomorrow?"},
            ],
        },
    ]


async def test_a_json_tool_result_is_the_response_object(fake, client):
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    history = [
        *HI,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 3}'},
    ]
    await client.chat(upstream_for(fake), {"model": "a", "messages": history})
    assert fake.requests[-1].body["contents"][-1]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"temp": 3}}}
    ]


def test_parallel_tool_calls_false_passes_on_only_the_first_call():
    answer = {
        "responseId": "r1",
        "candidates": [
            {
                "index": 0,
                "finishReason": "STOP",
                "content": {"parts": [{"functionCall": {"name": "a", "args": {}}}, {"functionCall": {"name": "b"}}]},
            }
        ],
    }
    both = gemini_to_openai(answer, model="m")["choices"][0]["message"]["tool_calls"]
    first = gemini_to_openai(answer, model="m", first_call_only=True)["choices"][0]["message"]["tool_calls"]

    assert [c["function"]["name"] for c in both] == ["a", "b"]
    assert [c["function"]["name"] for c in first] == ["a"]
    assert (
        first[0]["id"]
        == both[0]["id"]
        == gemini_to_openai(answer, model="m")["choices"][0]["message"]["tool_calls"][0]["id"]
    )


async def test_structured_output_sends_a_response_schema_and_gets_json(fake, client):
    schema = {
        "type": "object",
        "properties": {"step": {"$ref": "#/$defs/Step"}},
        "required": ["step"],
        "additionalProperties": False,
        "$defs": {"Step": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}},
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "plan", "schema": schema, "strict": True}}
    result = await client.chat(upstream_for(fake), {"model": "a", "messages": HI, "response_format": response_format})

    config = fake.requests[-1].body["generationConfig"]
    assert config == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "OBJECT",
            "properties": {"step": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]}},
            "required": ["step"],
        },
    }
    answer = orjson.loads(result.body["choices"][0]["message"]["content"])
    assert isinstance(answer["step"]["n"], int)

    await client.chat(upstream_for(fake), {"model": "a", "messages": HI, "response_format": {"type": "json_object"}})
    assert fake.requests[-1].body["generationConfig"] == {"responseMimeType": "application/json"}


async def test_images_become_inline_data_or_file_data(fake, client):
    files_uri = "https://generativelanguage.googleapis.com/v1beta/files/abc-123"
    parts = [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": files_uri}},
    ]
    await client.chat(upstream_for(fake), {"model": "a", "messages": [{"role": "user", "content": parts}]})

    assert fake.requests[-1].body["contents"][0]["parts"] == [
        {"text": "Compare"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"fileUri": files_uri}},
    ]


def _image_at(url: str) -> dict:
    return {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"logit_bias": {"1": 2}}, "logit_bias"),
        ({"service_tier": "flex"}, "service_tier"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
        (_image_at("https://example.com/cat.png"), "messages[0].content[0].image_url.url"),
        (
            {"tools": [{**WEATHER, "function": {"name": "f", "parameters": {"type": "object", "not": {}}}}]},
            "tools[0].function.parameters.not",
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "n", "schema": {"$ref": "#", "type": "object"}},
                }
            },
            "response_format.json_schema.schema",
        ),
        ({"messages": [*HI, {"role": "tool", "tool_call_id": "nope", "content": "x"}]}, "messages[2].tool_call_id"),
    ],
)
async def test_what_gemini_cannot_take_is_a_400_naming_it_and_nothing_is_sent(fake, client, extra, param):
    with pytest.raises(ProviderError) as refused:
        await client.chat(upstream_for(fake), {"model": "a", "messages": HI, **extra})

    assert refused.value.param == param
    assert (refused.value.kind, refused.value.retryable) == ("bad_request", False)
    assert fake.requests == []


async def test_stream_translates_sse_events_to_openai_chunks(fake, client):
    stream = client.chat_stream(upstream_for(fake), {"model": "a", "messages": HI, "stream": True})
    chunks = [chunk async for chunk in stream]

    assert fake.requests[-1].path.endswith(":streamGenerateContent")
    assert fake.requests[-1].query == {"alt": "sse"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len({chunk["id"] for chunk in chunks}) == 1
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "This is a test."
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == []
    assert (chunks[-1]["usage"]["prompt_tokens"], chunks[-1]["usage"]["completion_tokens"]) == (7, 4)
    assert (stream.usage.prompt_tokens, stream.usage.estimated) == (7, False)


async def test_stream_of_a_tool_call_gives_it_whole_with_its_index_and_id(fake, client):
    request = {"model": "a", "messages": HI, "tools": [WEATHER], "tool_choice": "required"}
    chunks = [chunk async for chunk in client.chat_stream(upstream_for(fake), request)]

    calls = [call for c in chunks if c["choices"] for call in c["choices"][0]["delta"].get("tool_calls") or ()]
    [call] = calls
    assert (call["index"], call["type"]) == (0, "function")
    assert call["id"].startswith("call_")
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"test"}'}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"


@pytest.mark.parametrize(
    ("status", "kind", "retryable", "google_status"),
    [
        ("429", "rate_limited", True, "RESOURCE_EXHAUSTED"),
        ("500", "server_error", True, "INTERNAL"),
        ("503", "server_error", True, "UNAVAILABLE"),
        ("403", "auth", False, "PERMISSION_DENIED"),
        ("401", "auth", False, "UNAUTHENTICATED"),
        ("404", "not_found", False, "NOT_FOUND"),
        ("400", "bad_request", False, "INVALID_ARGUMENT"),
    ],
)
async def test_error_statuses_keep_their_retry_semantics(fake, client, status, kind, retryable, google_status):
    fake.script(f"status:{status}")

    with pytest.raises(ProviderError) as failed:
        await client.chat(upstream_for(fake), {"model": "a", "messages": HI})

    error = failed.value
    assert (error.kind, error.retryable, error.status, error.error_type) == (
        kind,
        retryable,
        int(status),
        google_status,
    )
    assert "scripted" in error.message


async def test_a_wrong_key_is_auth_not_the_callers_400_and_never_quoted(fake, client):
    upstream = Upstream(base_url=fake.base_url, api_key="AIza-wrong", model="m", timeout=5)

    with pytest.raises(ProviderError) as failed:
        await client.chat(upstream, {"model": "a", "messages": HI})

    assert (failed.value.kind, failed.value.retryable, failed.value.status) == ("auth", False, 400)
    assert "AIza-wrong" not in str(failed.value)


async def test_stream_error_before_any_chunk_is_retryable(fake, client):
    fake.script("status:429")
    _, error = await chunks_before_failure(client.chat_stream(upstream_for(fake), {"model": "a", "messages": HI}))
    assert (error.kind, error.retryable) == ("rate_limited", True)


@pytest.mark.parametrize("mode", ["midstream_error", "midstream_fail"])
async def test_stream_failing_after_the_first_chunk_is_not_retryable(fake, client, mode):
    fake.script(mode)

    received, error = await chunks_before_failure(
        client.chat_stream(upstream_for(fake), {"model": "a", "messages": HI})
    )

    assert received[0]["choices"][0]["delta"]["role"] == "assistant"
    assert error.retryable is False


async def test_an_answer_that_is_not_json_is_a_bad_response(fake, client):
    fake.script("garbage")
    with pytest.raises(ProviderError) as failed:
        await client.chat(upstream_for(fake), {"model": "a", "messages": HI})
    assert (failed.value.kind, failed.value.retryable) == ("bad_response", True)


async def test_embeddings_go_through_batch_embed_contents(fake, client):
    upstream = Upstream(base_url=fake.base_url, api_key=KEY, model="gemini-embedding-001", timeout=5)

    result = await client.embeddings(upstream, {"model": "e", "input": ["one", "two words"], "dimensions": 3})

    received = fake.requests[-1]
    assert received.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert received.body == {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "one"}]},
                "outputDimensionality": 3,
            },
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "two words"}]},
                "outputDimensionality": 3,
            },
        ]
    }
    assert result.body["object"] == "list"
    assert [(item["object"], item["index"], len(item["embedding"])) for item in result.body["data"]] == [
        ("embedding", 0, 3),
        ("embedding", 1, 3),
    ]
    assert (result.usage.prompt_tokens, result.usage.estimated) == (3, True)
    assert result.body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


async def test_base64_embeddings_are_little_endian_float32(fake, client):
    upstream = Upstream(base_url=fake.base_url, api_key=KEY, model="gemini-embedding-001", timeout=5)
    plain = await client.embeddings(upstream, {"model": "e", "input": "hello"})
    packed = await client.embeddings(upstream, {"model": "e", "input": "hello", "encoding_format": "base64"})

    raw = base64.b64decode(packed.body["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == pytest.approx(plain.body["data"][0]["embedding"])


async def test_token_id_inputs_are_a_400_naming_input(fake, client):
    with pytest.raises(UnsupportedParameter) as refused:
        await client.embeddings(upstream_for(fake), {"model": "e", "input": [1, 2, 3]})
    assert refused.value.param == "input"
    assert fake.requests == []


async def test_model_list_pages_and_keeps_models_that_chat_or_embed(fake, client):
    extra = [
        {"name": f"models/gemini-extra-{n}", "supportedGenerationMethods": ["generateContent"]} for n in range(999)
    ]
    fake.models += extra

    models = await client.list_models(upstream_for(fake))

    assert [m.id for m in models[:3]] == ["gemini-2.5-flash", "gemini-2.0-flash-001", "gemini-embedding-001"]
    assert len(models) == 3 + 999  # imagen only predicts
    assert models[0].context_window == 1048576
    assert [r.query.get("pageToken") for r in fake.requests] == [None, "1000"]
    assert fake.requests[0].query["pageSize"] == "1000"


async def test_a_trailing_version_in_the_base_url_is_accepted(fake, client):
    upstream = Upstream(base_url=fake.base_url + "/v1beta/", api_key=KEY, model="models/gemini-2.5-flash", timeout=5)
    await client.chat(upstream, {"model": "a", "messages": HI})
    assert fake.requests[-1].path == "/v1beta/models/gemini-2.5-flash:generateContent"


async def test_the_api_version_option_applies(fake, client):
    await client.chat(upstream_for(fake, api_version="v1"), {"model": "a", "messages": HI})
    assert fake.requests[-1].path == "/v1/models/gemini-2.5-flash:generateContent"


async def test_the_outbound_guard_applies(fake):
    guarded = GeminiClient(guard=OutboundGuard(AddressPolicy.from_entries([]), label="gemini"))
    await assert_the_guard_refuses(
        guarded, upstream_for(fake), {"model": "a", "messages": HI}, label="gemini", fake=fake
    )


async def test_a_function_without_parameters_is_declared_without_a_schema(fake, client):
    ping = {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}
    await client.chat(upstream_for(fake), {"model": "a", "messages": HI, "tools": [ping]})
    assert fake.requests[-1].body["tools"] == [{"functionDeclarations": [{"name": "ping"}]}]
