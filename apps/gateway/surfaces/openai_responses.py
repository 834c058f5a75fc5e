"""OpenAI's Responses API ⇄ the data plane's chat-completions format, as pure functions: a `POST /v1/responses`
body becomes a chat-completions body (which any provider kind then serves), and the chat.completion answer
becomes a `response` object. Streams: openai_responses_stream.py; the request skeleton: openai_responses_serve.py.

Request (Responses → chat completions), the rules where the two differ:
- `input`: a string (one user message) or items: messages (`role` user/system/developer/assistant, content a
  string or parts: input_text, input_image (image_url, detail), and in assistant turns output_text, refusal),
  `function_call` items (→ the assistant's `tool_calls`, consecutive ones in one assistant message) and
  `function_call_output` items (→ `tool` messages); `instructions` → a system message first (not carried to the
  next response, as OpenAI does);
- `tools` of type function (name, description, parameters, strict at the top level) → function tools;
  `tool_choice` none/auto/required, `{"type": "function", "name"}`, allowed_tools (functions) as chat has them;
- `text.format` json_schema / json_object → `response_format`; `text.verbosity` → `verbosity`;
  `max_output_tokens` → `max_completion_tokens`; `reasoning.effort` → `reasoning_effort`;
  `temperature`, `top_p`, `parallel_tool_calls`, `user`, `stream` as they are;
- `store`, `metadata`, `previous_response_id` are the gateway's own (stored responses), never sent upstream.
No equivalent, so a 400 naming the parameter: hosted tools (web_search, file_search, computer… any tool `type`
other than function), input items other than messages and function calls (reasoning, item_reference…), file
inputs, `reasoning.summary`, `background`, `conversation`, `prompt`, `include`, `truncation: auto`, and any
parameter this module does not know. A provider that cannot take what was translated (Anthropic and
`response_format` json_schema) refuses it, named as the caller wrote it (`text.format`): `responses_param`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from apps.gateway.pipeline.errors import InvalidRequest

_PASSED = frozenset({"model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text"})
_KNOWN = _PASSED | {
    "max_output_tokens",
    "temperature",
    "top_p",
    "reasoning",
    "store",
    "metadata",
    "user",
    "stream",
    "previous_response_id",
    "truncation",
    "include",
    "stream_options",
    "service_tier",
    "background",
}
_REFUSED = {
    "conversation": "conversations are not available through this gateway: use previous_response_id.",
    "prompt": "stored prompts are not available through this gateway.",
    "max_tool_calls": "the gateway runs no built-in tools, so there is nothing to limit.",
    "top_logprobs": "log probabilities are not available through this gateway.",
}
_IMAGE_DETAILS = ("auto", "low", "high")
# Informational keys of items a client sends back as they came (a previous response's output): not sent upstream.
_ITEM_INFO = frozenset({"id", "status", "annotations", "logprobs"})


def invalid(param: str, message: str, code: str | None = None) -> InvalidRequest:
    return InvalidRequest(message, param=param, code=code)


def unsupported(param: str, reason: str) -> InvalidRequest:
    return invalid(param, f"Unsupported parameter: '{param}': {reason}", "unsupported_parameter")


def _type_error(param: str, expected: str, value: Any) -> InvalidRequest:
    return invalid(param, f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(24).hex()}"


def check(body: Any) -> dict[str, Any]:
    """The body as a dict, its top-level parameters checked: known ones only, refused ones named."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    for param in sorted(body):
        if body[param] is None:
            continue
        if param in _REFUSED:
            raise unsupported(param, _REFUSED[param])
        if param not in _KNOWN:
            raise invalid(param, f"Unknown parameter: '{param}'.", "unknown_parameter")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("model", "Missing required parameter: 'model'.")
    if body.get("input") is None:
        raise invalid("input", "Missing required parameter: 'input'.")
    for param, expected in (("stream", bool), ("store", bool), ("parallel_tool_calls", bool), ("background", bool)):
        if body.get(param) is not None and not isinstance(body[param], expected):
            raise _type_error(param, "a boolean", body[param])
    if body.get("background"):
        raise unsupported("background", "background responses are not available through this gateway.")
    if body.get("previous_response_id") is not None and not isinstance(body["previous_response_id"], str):
        raise _type_error("previous_response_id", "a string", body["previous_response_id"])
    if body.get("truncation") not in (None, "disabled"):
        raise unsupported("truncation", "only 'disabled' is available through this gateway.")
    if body.get("include"):
        raise unsupported("include", "additional output data is not available through this gateway.")
    if body.get("service_tier") not in (None, "auto", "default"):
        raise unsupported("service_tier", "only 'auto' or 'default' is available through this gateway.")
    _metadata(body.get("metadata"))
    return body


def _metadata(metadata: Any) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise _type_error("metadata", "an object", metadata)
    if len(metadata) > 16:
        raise invalid("metadata", "Invalid 'metadata': too many properties. Expected at most 16.")
    for key, value in metadata.items():
        if len(key) > 64 or not isinstance(value, str) or len(value) > 512:
            raise invalid(
                f"metadata.{key}",
                f"Invalid 'metadata.{key}': keys are up to 64 characters, values strings of up to 512.",
            )


def input_items(value: Any) -> list[dict[str, Any]]:
    """`input` as items: a string is one user message."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise _type_error("input", "a string or an array", value)
    return value


def chat_body(body: Mapping[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """The chat-completions body for a checked Responses body whose conversation is `items` (the previous
    response's items, if any, then this request's)."""
    messages: list[dict[str, Any]] = []
    if instructions := body.get("instructions"):
        if not isinstance(instructions, str):
            raise _type_error("instructions", "a string", instructions)
        messages.append({"role": "system", "content": instructions})
    messages += _messages(items, offset=len(items) - len(input_items(body["input"])))
    if not messages:
        raise invalid("input", "Invalid 'input': empty array. Expected at least one input item.", "empty_array")
    chat: dict[str, Any] = {"model": body["model"], "messages": messages}
    if body.get("tools"):
        if not isinstance(body["tools"], list):
            raise _type_error("tools", "an array", body["tools"])
        chat["tools"] = [_tool(tool, index) for index, tool in enumerate(body["tools"])]
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    for param in ("parallel_tool_calls", "user", "stream"):
        if body.get(param) is not None:
            chat[param] = body[param]
    _sampling(body, chat)
    _text(body.get("text"), chat)
    _reasoning(body.get("reasoning"), chat)
    if chat.get("stream"):
        chat["stream_options"] = {"include_usage": True}
    return chat


def _sampling(body: Mapping[str, Any], chat: dict[str, Any]) -> None:
    for param, high in (("temperature", 2), ("top_p", 1)):
        value = body.get(param)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(param, "a decimal", value)
        if not 0 <= value <= high:
            raise invalid(param, f"Invalid '{param}': expected a value from 0 to {high}, but got {value} instead.")
        chat[param] = value
    limit = body.get("max_output_tokens")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise _type_error("max_output_tokens", "an integer", limit)
        if limit < 1:
            raise invalid("max_output_tokens", f"Invalid 'max_output_tokens': expected a value >= 1, got {limit}.")
        chat["max_completion_tokens"] = limit


def _text(text: Any, chat: dict[str, Any]) -> None:
    if text is None:
        return
    if not isinstance(text, dict):
        raise _type_error("text", "an object", text)
    if text.get("verbosity") is not None:
        chat["verbosity"] = text["verbosity"]
    form = text.get("format")
    if form is None:
        return
    if not isinstance(form, dict):
        raise _type_error("text.format", "an object", form)
    kind = form.get("type")
    if kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        schema, name = form.get("schema"), form.get("name")
        if not isinstance(name, str) or not name:
            raise invalid("text.format.name", "Missing required parameter: 'text.format.name'.")
        if not isinstance(schema, dict):
            raise invalid("text.format.schema", "Missing required parameter: 'text.format.schema'.")
        spec = {"name": name, "schema": schema}
        spec |= {key: form[key] for key in ("description", "strict") if form.get(key) is not None}
        chat["response_format"] = {"type": "json_schema", "json_schema": spec}
    elif kind != "text":
        raise invalid(
            "text.format.type",
            f"Invalid value for 'text.format.type': {kind!r}. Supported values are: "
            "'text', 'json_object' and 'json_schema'.",
        )


def _reasoning(reasoning: Any, chat: dict[str, Any]) -> None:
    if reasoning is None:
        return
    if not isinstance(reasoning, dict):
        raise _type_error("reasoning", "an object", reasoning)
    if reasoning.get("summary") is not None or reasoning.get("generate_summary") is not None:
        raise unsupported("reasoning.summary", "reasoning summaries are not available through this gateway.")
    if reasoning.get("effort") is not None:
        chat["reasoning_effort"] = reasoning["effort"]


def _messages(items: list[Any], *, offset: int) -> list[dict[str, Any]]:
    """Items → chat messages. `offset`: where this request's items start (earlier ones are a stored response's),
    so that an error names this request's `input[i]`."""
    messages: list[dict[str, Any]] = []
    for position, item in enumerate(items):
        where = f"input[{position - offset}]" if position >= offset else "previous_response_id"
        if not isinstance(item, dict):
            raise _type_error(where, "an object", item)
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call":
            call = _function_call(item, where)
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            elif last is not None and last["role"] == "assistant":
                last["tool_calls"] = [call]
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append(_function_output(item, where))
        else:
            raise invalid(
                f"{where}.type",
                f"Invalid value for '{where}.type': {kind!r}. Items of this type are not "
                "available through this gateway (messages, function_call, function_call_output).",
            )
    return messages


def _message(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    role, content = item.get("role"), item.get("content")
    if role not in ("user", "system", "developer", "assistant"):
        raise invalid(
            f"{where}.role",
            f"Invalid value for '{where}.role': {role!r}. Supported values are: 'user', "
            "'system', 'developer' and 'assistant'.",
        )
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise _type_error(f"{where}.content", "a string or an array", content)
    parts = [_part(part, f"{where}.content[{index}]", role) for index, part in enumerate(content)]
    if role != "user" or all(part["type"] == "text" for part in parts):
        return {"role": role, "content": "".join(part["text"] for part in parts)}
    return {"role": role, "content": parts}


def _part(part: Any, where: str, role: str) -> dict[str, Any]:
    if not isinstance(part, dict):
        raise _type_error(where, "an object", part)
    kind = part.get("type")
    text_kinds = ("output_text", "refusal") if role == "assistant" else ("input_text",)
    if kind in text_kinds:
        text = part.get("refusal" if kind == "refusal" else "text")
        if not isinstance(text, str):
            raise _type_error(f"{where}.text", "a string", text)
        return {"type": "text", "text": text}
    if kind == "input_image" and role == "user":
        url, detail = part.get("image_url"), part.get("detail", "auto")
        if part.get("file_id") is not None:
            raise unsupported(f"{where}.file_id", "files are not available through this gateway: send image_url.")
        if not isinstance(url, str) or not url:
            raise invalid(f"{where}.image_url", f"Missing required parameter: '{where}.image_url'.")
        if detail not in _IMAGE_DETAILS:
            raise invalid(f"{where}.detail", f"Invalid value for '{where}.detail': {detail!r}.")
        return {"type": "image_url", "image_url": {"url": url, "detail": detail}}
    allowed = ", ".join(text_kinds + (("input_image",) if role == "user" else ()))
    raise invalid(
        f"{where}.type",
        f"Invalid value for '{where}.type': {kind!r}. In a {role} message, the gateway takes: {allowed}.",
    )


def _function_call(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    for field in ("call_id", "name", "arguments"):
        if not isinstance(item.get(field), str) or (field != "arguments" and not item[field]):
            raise invalid(f"{where}.{field}", f"Missing required parameter: '{where}.{field}'.")
    return {
        "id": item["call_id"],
        "type": "function",
        "function": {"name": item["name"], "arguments": item["arguments"]},
    }


def _function_output(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    call_id, output = item.get("call_id"), item.get("output")
    if not isinstance(call_id, str) or not call_id:
        raise invalid(f"{where}.call_id", f"Missing required parameter: '{where}.call_id'.")
    if isinstance(output, list):  # parts: their texts (the chat format's tool message takes text only)
        output = "".join(_part(part, f"{where}.output[{i}]", "user")["text"] for i, part in enumerate(output))
    if not isinstance(output, str):
        raise _type_error(f"{where}.output", "a string or an array", output)
    return {"role": "tool", "tool_call_id": call_id, "content": output}


def _tool(tool: Any, index: int) -> dict[str, Any]:
    where = f"tools[{index}]"
    if not isinstance(tool, dict):
        raise _type_error(where, "an object", tool)
    if tool.get("type") != "function":
        raise invalid(
            f"{where}.type",
            f"Invalid value for '{where}.type': {tool.get('type')!r}. Only function "
            "tools are available through this gateway; hosted tools are not.",
            "unsupported_tool",
        )
    if not isinstance(tool.get("name"), str) or not tool["name"]:
        raise invalid(f"{where}.name", f"Missing required parameter: '{where}.name'.")
    function = {"name": tool["name"]}
    function |= {key: tool[key] for key in ("description", "parameters", "strict") if tool.get(key) is not None}
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> Any:
    if choice in ("none", "auto", "required"):
        return choice
    if not isinstance(choice, dict):
        raise invalid(
            "tool_choice", "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or an object."
        )
    kind = choice.get("type")
    if kind == "function":
        if not isinstance(choice.get("name"), str) or not choice["name"]:
            raise invalid("tool_choice.name", "Missing required parameter: 'tool_choice.name'.")
        return {"type": "function", "function": {"name": choice["name"]}}
    if kind == "allowed_tools" and isinstance(choice.get("tools"), list):
        tools = []
        for index, tool in enumerate(choice["tools"]):
            if not isinstance(tool, dict) or tool.get("type") != "function" or not tool.get("name"):
                raise invalid(
                    f"tool_choice.tools[{index}]", f"Invalid 'tool_choice.tools[{index}]': only function tools."
                )
            tools.append({"type": "function", "function": {"name": tool["name"]}})
        return {"type": "allowed_tools", "allowed_tools": {"mode": choice.get("mode", "auto"), "tools": tools}}
    raise invalid(
        "tool_choice.type",
        f"Invalid value for 'tool_choice.type': {kind!r}. Only function tools are available through this gateway.",
    )


# A provider's refusal names the chat-completions parameter it could not take; the caller wrote another one.
_PARAMS = (
    (re.compile(r"^response_format(?:\.json_schema)?"), "text.format"),
    (re.compile(r"^max_(?:completion_)?tokens"), "max_output_tokens"),
    (re.compile(r"^tools\[(\d+)\]\.function"), r"tools[\1]"),
    (re.compile(r"^reasoning_effort"), "reasoning.effort"),
    (re.compile(r"^verbosity"), "text.verbosity"),
    (re.compile(r"^messages\b.*"), "input"),
)


def responses_param(param: str | None) -> str | None:
    """The Responses API's name for a chat-completions parameter a provider refused."""
    if not param:
        return param
    for pattern, name in _PARAMS:
        if pattern.match(param):
            return pattern.sub(name, param, count=1)
    return param
