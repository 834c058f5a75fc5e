"""The Messages API translator (apps/gateway/surfaces/anthropic_messages.py) against Anthropic's documented
examples: requests to chat completions, answers back, errors naming the field; and the round trip through the
provider side's OpenAI → Anthropic translator, which must give the caller's Messages body back."""

from __future__ import annotations

import pytest

from apps.gateway.pipeline.errors import InvalidRequest, UpstreamError
from apps.gateway.surfaces.anthropic_answer import answer_to_anthropic, error_body
from apps.gateway.surfaces.anthropic_messages import check_version, request_to_openai
from apps.providers.clients.anthropic_translate import anthropic_to_openai, request_to_anthropic

# Anthropic's tool use example (docs: "Tool use with Claude", the conversation after a tool_use).
GET_WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather in a given location",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}},
        "required": ["location"],
    },
}
TOOL_USE = {
    "type": "tool_use",
    "id": "toolu_01A09q90qw90lq917835lq9",
    "name": "get_weather",
    "input": {"location": "San Francisco, CA", "unit": "celsius"},
}
THINKING_TEXT = (
    "<thinking>I need to use get_weather, and the user wants SF, which is likely San Francisco, CA.</thinking>"
)
DOCUMENTED_REQUEST = {
    "model": "claude-opus-4-1-20250805",
    "max_tokens": 1024,
    "tools": [GET_WEATHER],
    "messages": [
        {"role": "user", "content": "What's the weather like in San Francisco?"},
        {"role": "assistant", "content": [{"type": "text", "text": THINKING_TEXT}, TOOL_USE]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": "15 degrees"}
            ],
        },
    ],
}


def test_the_documented_tool_use_conversation_becomes_chat_completions():
    assert request_to_openai(DOCUMENTED_REQUEST) == {
        "model": "claude-opus-4-1-20250805",
        "max_tokens": 1024,
        "messages": [
            {"role": "user", "content": "What's the weather like in San Francisco?"},
            {
                "role": "assistant",
                "content": THINKING_TEXT,
                "tool_calls": [
                    {
                        "id": "toolu_01A09q90qw90lq917835lq9",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": '{"location":"San Francisco, CA","unit":"celsius"}',
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "15 degrees"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": GET_WEATHER["description"],
                    "parameters": GET_WEATHER["input_schema"],
                },
            }
        ],
    }


def test_through_both_translators_the_messages_body_comes_back():
    # The provider side sends a tool_result's content as text blocks, which Anthropic reads as the same string.
    result = {"type": "tool_result", "tool_use_id": TOOL_USE["id"], "content": [{"type": "text", "text": "15 degrees"}]}
    body = {
        **DOCUMENTED_REQUEST,
        "messages": [*DOCUMENTED_REQUEST["messages"][:2], {"role": "user", "content": [result]}],
        "system": "Be terse.",
        "stop_sequences": ["END"],
        "temperature": 0.3,
        "metadata": {"user_id": "u-1"},
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
    }
    assert request_to_anthropic(request_to_openai(body), model=body["model"]) == body


def test_the_documented_tool_use_answer_comes_back_as_a_message():
    # Anthropic's answer (docs) as the provider side turns it into a chat.completion, then back.
    documented = {
        "id": "msg_01Aq9w938a90dw8q",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-1-20250805",
        "content": [{"type": "text", "text": THINKING_TEXT}, TOOL_USE],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 472, "output_tokens": 89},
    }
    chat = anthropic_to_openai(documented, created=0)
    # Cache reads are known (zero) once the provider side has counted them.
    usage = {"input_tokens": 472, "output_tokens": 89, "cache_read_input_tokens": 0}
    assert answer_to_anthropic(chat, model="alias") == {**documented, "usage": usage}


def test_an_openai_answer_becomes_a_message():
    chat = {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14},
    }
    assert answer_to_anthropic(chat, model="smart") == {
        "id": "msg_abc123",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4o-mini",
        "content": [{"type": "text", "text": "Hi there"}],
        "stop_reason": "max_tokens",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 2},
    }


def test_tool_arguments_that_are_not_json_are_a_502_not_a_crash():
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"location": "SF'}}
    chat = {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [call]}}]}
    with pytest.raises(UpstreamError) as failed:
        answer_to_anthropic(chat, model="smart")
    assert failed.value.status == 502
    assert "get_weather" in failed.value.message


def test_images_system_blocks_and_cache_hints():
    body = {
        "model": "m",
        "max_tokens": 5,
        "system": [
            {"type": "text", "text": "One."},
            {"type": "text", "text": "Two.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                    {"type": "text", "text": "Compare.", "cache_control": {"type": "ephemeral"}},
                ],
            }
        ],
    }
    assert request_to_openai(body)["messages"] == [
        {"role": "system", "content": "One."},
        {"role": "system", "content": "Two."},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                {"type": "text", "text": "Compare."},
            ],
        },
    ]


def test_tool_choice_and_structured_output():
    tools = {"tools": [GET_WEATHER]}
    base = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    assert request_to_openai({**base, **tools, "tool_choice": {"type": "any"}})["tool_choice"] == "required"
    assert request_to_openai({**base, **tools, "tool_choice": {"type": "none"}})["tool_choice"] == "none"
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    structured = request_to_openai({**base, "output_config": {"format": {"type": "json_schema", "schema": schema}}})
    assert structured["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"top_k": 5}, "top_k"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "thinking"),
        ({"temperature": 1.5}, "temperature"),
        ({"container": "c"}, "container"),
        ({"metadata": {"user_id": "u", "team": "t"}}, "metadata.team"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
            "messages.0.content.0.type",
        ),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0.type"),
        ({"tool_choice": {"type": "any"}}, "tool_choice"),
        ({"output_config": {"effort": "high"}}, "output_config.effort"),
        ({"service_tier": "priority"}, "service_tier"),
    ],
)
def test_what_has_no_equivalent_is_a_400_naming_it(change, param):
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], **change}
    body = {key: value for key, value in body.items() if value is not None}
    with pytest.raises(InvalidRequest) as refused:
        request_to_openai(body)
    assert refused.value.param == param
    assert refused.value.message.startswith(f"{param}: ")


def test_version_2026_10_21_has_no_sampling_parameters():
    body = {"model": "m", "max_tokens": 5, "messages": [], "temperature": 0.5}
    assert request_to_openai(body, version="2023-06-01")["temperature"] == 0.5
    with pytest.raises(InvalidRequest, match="temperature: Extra inputs are not permitted"):
        request_to_openai(body, version=check_version("2026-10-21"))
    with pytest.raises(InvalidRequest) as unknown:
        check_version("2023-01-01")
    assert unknown.value.param == "anthropic-version"
    assert check_version(None) == "2023-06-01"


def test_count_tokens_needs_no_max_tokens():
    assert "max_tokens" not in request_to_openai({"model": "m", "messages": []}, count_only=True)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (405, "invalid_request_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "api_error"),
    ],
)
def test_error_bodies_are_anthropics(status, error_type):
    assert error_body(status, "why") == {"type": "error", "error": {"type": error_type, "message": "why"}}
