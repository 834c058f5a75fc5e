"""EchoClient: the offline provider answers in OpenAI's exact format."""

from __future__ import annotations

import base64
import json
import struct
import time

import jsonschema
import pytest

from apps.providers.clients.base import ModelInfo, ProviderError, UnsupportedParameter, Upstream, Usage
from apps.providers.clients.echo import EchoClient
from apps.providers.clients.tokens import count_message_tokens, count_tokens

UPSTREAM = Upstream(base_url="", api_key="", model="echo")
TEXT = "Hello there, world"
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": TEXT},
]


async def chat_content(request: dict) -> str:
    result = await EchoClient().chat(UPSTREAM, {"model": "alias", "messages": MESSAGES, **request})
    return result.body["choices"][0]["message"]["content"]


async def test_it_answers_the_last_user_message_in_openai_format():
    result = await EchoClient().chat(UPSTREAM, {"model": "alias", "messages": MESSAGES})

    body = result.body
    assert body["id"].startswith("chatcmpl-")
    assert (body["object"], body["model"]) == ("chat.completion", "echo")
    assert abs(body["created"] - time.time()) < 5
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": TEXT, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    usage = Usage(count_message_tokens(MESSAGES), count_tokens(TEXT))
    assert result.usage == usage
    assert body["usage"] == usage.to_openai()


async def test_it_answers_the_text_parts_of_a_content_list():
    parts = [
        {"type": "text", "text": "one"},
        {"type": "image_url", "image_url": {"url": "x"}},
        {"type": "text", "text": "two"},
    ]

    result = await EchoClient().chat(UPSTREAM, {"messages": [{"role": "user", "content": parts}]})

    assert result.body["choices"][0]["message"]["content"] == "one\ntwo"


@pytest.mark.parametrize(
    ("text", "expected"),
    [('{"a": [1, 2]}', {"a": [1, 2]}), ("not json", {"echo": "not json"}), ("[1, 2]", {"echo": "[1, 2]"})],
)
async def test_json_object_mode_answers_a_json_object(text, expected):
    request = {"messages": [{"role": "user", "content": text}], "response_format": {"type": "json_object"}}

    result = await EchoClient().chat(UPSTREAM, request)

    assert json.loads(result.body["choices"][0]["message"]["content"]) == expected


async def test_json_schema_mode_answers_a_sample_instance_of_the_schema():
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "count": {"type": "integer"},
            "score": {"type": "number"},
            "done": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "level": {"enum": ["low", "high"]},
            "owner": {"$ref": "#/$defs/Person"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "optional": {"type": "string"},
        },
        "required": ["title", "count", "score", "done", "tags", "level", "owner", "note"],
        "$defs": {
            "Person": {"type": "object", "properties": {"name": {"type": ["string", "null"]}}, "required": ["name"]}
        },
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "card", "schema": schema, "strict": True}}

    content = await chat_content({"response_format": response_format})

    assert json.loads(content) == {
        "title": TEXT,
        "count": 0,
        "score": 0,
        "done": False,
        "tags": [TEXT],
        "level": "low",
        "owner": {"name": TEXT},
        "note": TEXT,
    }


async def test_a_recursive_schema_still_gets_an_answer():
    schema = {"type": "object", "properties": {"child": {"$ref": "#"}}, "required": ["child"]}

    content = await chat_content({"response_format": {"type": "json_schema", "json_schema": {"schema": schema}}})

    assert content.startswith('{"child":{"child":')


@pytest.mark.parametrize(
    ("tool_choice", "called"),
    [({"type": "function", "function": {"name": "get_time"}}, "get_time"), ("required", "get_weather")],
)
async def test_a_forced_tool_choice_answers_a_call_to_that_tool(tool_choice, called):
    tools = [
        {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
        for name in ("get_weather", "get_time")
    ]

    result = await EchoClient().chat(UPSTREAM, {"messages": MESSAGES, "tools": tools, "tool_choice": tool_choice})

    choice = result.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_")
    assert (call["type"], call["function"]) == ("function", {"name": called, "arguments": "{}"})


async def test_a_tool_calls_arguments_are_a_sample_of_its_parameters_schema():
    parameters = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
            "when": {"type": "string", "format": "date-time"},
            "stops": {"type": "array", "items": {"$ref": "#/$defs/Stop"}, "minItems": 1},
            "verbose": {"type": "boolean"},
        },
        "required": ["city", "unit", "days", "when", "stops"],
        "$defs": {"Stop": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
    }
    tools = [{"type": "function", "function": {"name": "forecast", "parameters": parameters}}]

    result = await EchoClient().chat(UPSTREAM, {"messages": MESSAGES, "tools": tools, "tool_choice": "required"})

    arguments = json.loads(result.body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])
    jsonschema.validate(arguments, parameters, format_checker=jsonschema.FormatChecker())
    assert arguments == {
        "city": TEXT,
        "unit": "celsius",
        "days": 1,
        "when": "2024-01-01T00:00:00Z",
        "stops": [{"name": TEXT}],
    }


CUSTOM = {"type": "custom", "custom": {"name": "run_sql", "format": {"type": "text"}}}
FUNCTION = {"type": "function", "function": {"name": "now"}}


@pytest.mark.parametrize(
    ("tools", "tool_choice"),
    [
        ([FUNCTION, CUSTOM], {"type": "custom", "custom": {"name": "run_sql"}}),
        ([CUSTOM, FUNCTION], "required"),
        (
            [FUNCTION, CUSTOM],
            {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [CUSTOM]}},
        ),
    ],
    ids=["named", "required", "allowed_tools"],
)
async def test_a_forced_custom_tool_is_called_with_the_text_as_input(tools, tool_choice):
    request = {"messages": MESSAGES, "tools": tools, "tool_choice": tool_choice}

    result = await EchoClient().chat(UPSTREAM, request)

    [call] = result.body["choices"][0]["message"]["tool_calls"]
    assert (call["type"], call["custom"]) == ("custom", {"name": "run_sql", "input": TEXT})
    assert result.usage.completion_tokens == count_tokens("run_sql" + TEXT)


async def test_allowed_tools_in_auto_mode_get_text():
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [FUNCTION]}}

    assert await chat_content({"tools": [FUNCTION], "tool_choice": choice}) == TEXT


async def test_a_tool_choice_naming_no_tool_is_refused():
    request = {
        "messages": MESSAGES,
        "tools": [FUNCTION],
        "tool_choice": {"type": "function", "function": {"name": "x"}},
    }

    with pytest.raises(ProviderError) as excinfo:
        await EchoClient().chat(UPSTREAM, request)

    assert (excinfo.value.kind, excinfo.value.param, excinfo.value.retryable) == ("bad_request", "tool_choice", False)


async def test_a_streamed_custom_tool_call_arrives_in_pieces():
    request = {"messages": MESSAGES, "tools": [CUSTOM], "tool_choice": "required"}

    chunks = [chunk async for chunk in EchoClient().chat_stream(UPSTREAM, request)]

    opening, piece = (chunk["choices"][0]["delta"]["tool_calls"][0] for chunk in chunks[:2])
    assert (opening["type"], opening["custom"]) == ("custom", {"name": "run_sql", "input": ""})
    assert piece == {"index": 0, "custom": {"input": TEXT}}
    assert chunks[2]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("parameters", "param"), [({"n": 3}, "n"), ({"logprobs": True}, "logprobs"), ({"top_logprobs": 2}, "top_logprobs")]
)
async def test_what_echo_cannot_do_is_refused_naming_the_parameter(parameters, param):
    request = {"messages": MESSAGES, **parameters}

    with pytest.raises(UnsupportedParameter) as answered:
        await EchoClient().chat(UPSTREAM, request)
    with pytest.raises(UnsupportedParameter) as streamed:
        await anext(EchoClient().chat_stream(UPSTREAM, request))

    for excinfo in (answered, streamed):
        assert (excinfo.value.param, excinfo.value.kind, excinfo.value.retryable) == (param, "bad_request", False)


async def test_one_choice_without_logprobs_is_answered():
    assert await chat_content({"n": 1, "logprobs": False, "top_logprobs": 0}) == TEXT


async def test_the_system_fingerprint_is_a_string_everywhere():
    result = await EchoClient().chat(UPSTREAM, {"messages": MESSAGES})
    chunks = [chunk async for chunk in EchoClient().chat_stream(UPSTREAM, {"messages": MESSAGES})]

    assert isinstance(result.body["system_fingerprint"], str)
    assert {chunk["system_fingerprint"] for chunk in chunks} == {result.body["system_fingerprint"]}


async def test_tools_without_a_forced_choice_get_text():
    tools = [{"type": "function", "function": {"name": "get_time"}}]

    assert await chat_content({"tools": tools, "tool_choice": "auto"}) == TEXT


async def test_it_streams_word_by_word_then_finish_then_usage():
    stream = EchoClient().chat_stream(UPSTREAM, {"messages": MESSAGES, "stream": True})
    chunks = [chunk async for chunk in stream]

    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert [chunk["choices"][0]["delta"] for chunk in chunks[:-1]] == [
        {"role": "assistant", "content": ""},
        {"content": "Hello"},
        {"content": " there,"},
        {"content": " world"},
        {},
    ]
    assert [chunk["choices"][0]["finish_reason"] for chunk in chunks[:-1]] == [None] * 4 + ["stop"]
    usage = Usage(count_message_tokens(MESSAGES), count_tokens(TEXT))
    assert (chunks[-1]["choices"], chunks[-1]["usage"]) == ([], usage.to_openai())
    assert stream.usage == usage


async def test_a_streamed_tool_call_arrives_in_openai_pieces():
    request = {
        "messages": MESSAGES,
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "required",
    }

    chunks = [chunk async for chunk in EchoClient().chat_stream(UPSTREAM, request)]

    opening, arguments, finish = (chunk["choices"][0] for chunk in chunks[:3])
    assert opening["delta"]["tool_calls"][0]["function"] == {"name": "f", "arguments": ""}
    assert arguments["delta"] == {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}
    assert finish["finish_reason"] == "tool_calls"
    assert chunks[3]["choices"] == []


async def test_delay_ms_spaces_the_words():
    slow = Upstream(base_url="", api_key="", model="echo", options={"delay_ms": 50})
    started = time.monotonic()

    chunks = [chunk async for chunk in EchoClient().chat_stream(slow, {"messages": MESSAGES})]

    assert time.monotonic() - started >= 3 * 0.05
    assert len(chunks) == 6


async def test_embeddings_are_deterministic_unit_vectors():
    client = EchoClient()

    first = await client.embeddings(UPSTREAM, {"model": "e", "input": ["alpha", "beta"]})
    again = await client.embeddings(UPSTREAM, {"model": "e", "input": "alpha"})

    data = first.body["data"]
    assert [item["object"] for item in data] == ["embedding", "embedding"]
    assert [item["index"] for item in data] == [0, 1]
    assert len(data[0]["embedding"]) == 16
    assert data[0]["embedding"] == again.body["data"][0]["embedding"]
    assert data[0]["embedding"] != data[1]["embedding"]
    assert sum(value * value for value in data[0]["embedding"]) == pytest.approx(1.0)
    assert first.body["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    assert first.usage == Usage(prompt_tokens=2)


async def test_embeddings_honour_dimensions_and_base64():
    request = {"model": "e", "input": "alpha", "dimensions": 4}
    floats = await EchoClient().embeddings(UPSTREAM, request)
    packed = await EchoClient().embeddings(UPSTREAM, {**request, "encoding_format": "base64"})

    decoded = struct.unpack("<4f", base64.b64decode(packed.body["data"][0]["embedding"]))
    assert decoded == pytest.approx(floats.body["data"][0]["embedding"], rel=1e-6)


async def test_it_lists_the_echo_model():
    assert await EchoClient().list_models(UPSTREAM) == [ModelInfo("echo")]
