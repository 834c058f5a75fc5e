"""The Responses API translators, pure: a documented Responses body → the chat-completions body, the chat answer
→ a response object, chat chunks → the documented stream events, and the stores' retention and tenancy."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from apps.gateway.adapters.responses_store import MemoryResponseStore
from apps.gateway.pipeline.errors import InvalidRequest, UpstreamError
from apps.gateway.surfaces.openai_responses import chat_body, check, input_items, responses_param
from apps.gateway.surfaces.openai_responses_stream import ResponseStream, response_base, response_of

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}


def translate(body):
    body = check(body)
    return chat_body(body, input_items(body["input"]))


def test_a_string_input_with_instructions_is_a_system_and_a_user_message():
    chat = translate({"model": "smart", "input": "Hi", "instructions": "Be terse.", "max_output_tokens": 50})

    assert chat == {
        "model": "smart",
        "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}],
        "max_completion_tokens": 50,
    }


def test_items_with_images_function_calls_and_their_outputs():
    chat = translate(
        {
            "model": "smart",
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is this?"},
                        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
                    ],
                },
                {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
                {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": '{"city":"x"}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
                {
                    "type": "function_call_output",
                    "call_id": "call_2",
                    "output": [{"type": "input_text", "text": "rain"}],
                },
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done."}]},
            ],
            "tools": [WEATHER],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "text": {"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"}, "strict": True}},
            "reasoning": {"effort": "low"},
            "temperature": 0.5,
            "user": "u-1",
            "store": False,
            "metadata": {"team": "a"},
            "stream": True,
        }
    )

    assert chat["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"x"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
        {"role": "assistant", "content": "Done."},
    ]
    function = {key: WEATHER[key] for key in ("name", "description", "parameters", "strict")}
    assert chat["tools"] == [{"type": "function", "function": function}]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
    }
    assert (chat["reasoning_effort"], chat["temperature"], chat["user"]) == ("low", 0.5, "u-1")
    assert chat["stream_options"] == {"include_usage": True}
    assert not {"store", "metadata", "previous_response_id", "text", "reasoning"} & set(chat)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "Hi"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": "Hi", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"model": "m", "input": "Hi", "tools": [WEATHER, {"type": "file_search"}]}, "tools[1].type"),
        ({"model": "m", "input": [{"type": "reasoning", "summary": []}]}, "input[0].type"),
        ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file"}]}]}, "input[0].content[0].type"),
        ({"model": "m", "input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        ({"model": "m", "input": "Hi", "text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        ({"model": "m", "input": "Hi", "reasoning": {"summary": "auto"}}, "reasoning.summary"),
        ({"model": "m", "input": "Hi", "temperature": 3}, "temperature"),
        ({"model": "m", "input": "Hi", "max_output_tokens": "9"}, "max_output_tokens"),
        ({"model": "m", "input": "Hi", "conversation": "conv_1"}, "conversation"),
        ({"model": "m", "input": "Hi", "background": True}, "background"),
        ({"model": "m", "input": "Hi", "frequency": 1}, "frequency"),
        ({"model": "m", "input": "Hi", "tool_choice": {"type": "web_search_preview"}}, "tool_choice.type"),
    ],
)
def test_what_has_no_equivalent_is_a_400_naming_the_parameter(body, param):
    with pytest.raises(InvalidRequest) as refused:
        translate(body)

    assert refused.value.status == 400
    assert refused.value.param == param
    assert param.split("[")[0].split(".")[0] in refused.value.message


@pytest.mark.parametrize(
    ("chat_param", "param"),
    [
        ("response_format", "text.format"),
        ("response_format.json_schema.schema", "text.format.schema"),
        ("max_completion_tokens", "max_output_tokens"),
        ("tools[2].function.parameters", "tools[2].parameters"),
        ("messages[3].content[0].type", "input"),
        ("temperature", "temperature"),
    ],
)
def test_a_providers_refusal_is_named_as_the_caller_wrote_it(chat_param, param):
    assert responses_param(chat_param) == param


BASE = response_base({"model": "smart", "input": "Hi"}, response_id="resp_1", created_at=1_700_000_000, model="smart")
USAGE = {
    "prompt_tokens": 7,
    "completion_tokens": 3,
    "total_tokens": 10,
    "prompt_tokens_details": {"cached_tokens": 2},
    "completion_tokens_details": {"reasoning_tokens": 1},
}


def test_an_answer_with_text_and_a_tool_call_is_a_message_and_a_function_call_item():
    call = {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    answer = {
        "id": "chatcmpl-1",
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Checking.", "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": USAGE,
    }

    response = response_of(BASE, answer)

    assert (response["id"], response["object"], response["status"]) == ("resp_1", "response", "completed")
    message, function_call = response["output"]
    assert (message["type"], message["role"], message["id"][:4]) == ("message", "assistant", "msg_")
    assert message["content"] == [{"type": "output_text", "text": "Checking.", "annotations": [], "logprobs": []}]
    assert (function_call["type"], function_call["id"][:3]) == ("function_call", "fc_")
    assert (function_call["call_id"], function_call["name"], function_call["arguments"]) == (
        "call_9",
        "get_weather",
        '{"city":"Oslo"}',
    )
    assert response["usage"] == {
        "input_tokens": 7,
        "input_tokens_details": {"cached_tokens": 2},
        "output_tokens": 3,
        "output_tokens_details": {"reasoning_tokens": 1},
        "total_tokens": 10,
    }


def test_an_answer_cut_by_the_output_limit_is_incomplete():
    answer = {"choices": [{"message": {"role": "assistant", "content": "Once upon"}, "finish_reason": "length"}]}

    response = response_of(BASE, answer)

    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}


def _events(data: bytes) -> list[dict]:
    events = []
    for block in data.decode().split("\n\n"):
        if block:
            name, payload = block.split("\n")
            event = orjson.loads(payload.removeprefix("data: "))
            assert name == f"event: {event['type']}"
            events.append(event)
    return events


def _chunk(delta, finish_reason=None, usage=None):
    choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    return {"id": "c", "object": "chat.completion.chunk", "model": "m", "choices": choices, "usage": usage}


def test_a_stream_of_text_then_a_tool_call_gives_the_documented_events_in_order():
    stream = ResponseStream(dict(BASE))
    call_start = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    chunks = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Hel"}),
        _chunk({"content": "lo"}),
        _chunk({"tool_calls": [call_start]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        _chunk({}, "tool_calls"),
        _chunk({}, usage=USAGE),
    ]
    data = b"".join(filter(None, (stream.render(chunk) for chunk in chunks))) + b"".join(stream.done())
    events = _events(data)

    assert [event["type"] for event in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert events[6]["text"] == "Hello"
    assert events[12]["arguments"] == '{"a":1}'
    assert events[10]["output_index"] == 1
    completed = events[-1]["response"]
    assert completed["status"] == "completed"
    assert [item["type"] for item in completed["output"]] == ["message", "function_call"]
    assert completed["usage"]["total_tokens"] == 10
    assert stream.response == completed


def test_a_stream_that_fails_midway_ends_with_an_error_event_then_response_failed():
    stream = ResponseStream(dict(BASE))
    first = stream.render(_chunk({"content": "Hi"}))
    events = _events(first + stream.error(UpstreamError("The upstream stream failed.", code="upstream_stream_error")))

    error, failed = events[-2:]
    assert (error["type"], error["code"], error["message"]) == (
        "error",
        "upstream_stream_error",
        "The upstream stream failed.",
    )
    assert failed["type"] == "response.failed"
    assert failed["response"]["status"] == "failed"
    assert failed["sequence_number"] == error["sequence_number"] + 1


def test_the_memory_store_keeps_a_response_for_its_tenant_until_it_expires():
    now = [1000.0]
    store = MemoryResponseStore(retention_seconds=60, clock=lambda: now[0])
    asyncio.run(store.save(tenant_id=1, response={"id": "resp_a"}, items=[{"role": "user", "content": "Hi"}]))

    assert asyncio.run(store.load("resp_a", tenant_id=2)) is None  # another tenant's: as if absent
    assert asyncio.run(store.load("resp_a", tenant_id=1)).items == [{"role": "user", "content": "Hi"}]
    now[0] += 61
    assert asyncio.run(store.load("resp_a", tenant_id=1)) is None


def test_the_memory_store_drops_the_least_recently_used_past_its_size():
    store = MemoryResponseStore(retention_seconds=60, max_responses=2)
    for name in ("a", "b"):
        asyncio.run(store.save(tenant_id=1, response={"id": name}, items=[]))
    asyncio.run(store.load("a", tenant_id=1))  # a was used last: b goes first
    asyncio.run(store.save(tenant_id=1, response={"id": "c"}, items=[]))

    assert [asyncio.run(store.load(name, tenant_id=1)) is not None for name in ("a", "b", "c")] == [True, False, True]


def test_a_stream_that_says_nothing_still_completes_with_an_empty_message():
    stream = ResponseStream(dict(BASE))
    data = stream.render(_chunk({"role": "assistant", "content": ""})) + b"".join(stream.done())
    events = _events(data)

    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == ""
    assert "response.output_text.done" in [event["type"] for event in events]
