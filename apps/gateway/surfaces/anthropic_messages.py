"""Anthropic's Messages API ⇄ the data plane's OpenAI chat-completions format, as pure functions: the request a
caller of `POST /v1/messages` sends becomes a chat-completions body (which any provider kind then serves), and the
chat.completion answer becomes an Anthropic `message`. Streams: anthropic_stream.py.

Versions (`anthropic-version`): 2023-06-01, and 2026-10-21 (what the 2.x SDKs send), which removed temperature,
top_p and top_k (each then a 400 naming it, as Anthropic answers); no header means 2023-06-01. Another value,
2023-01-01 included (its stream events differ), is a 400 naming the header. `anthropic-beta` is not read.

Request (Anthropic → OpenAI), the rules where the two differ:
- `max_tokens` is required (a 400 naming it when missing) → `max_tokens`; `system` (a string or text blocks) →
  one `system` message per block, first; `stop_sequences` → `stop`; `metadata.user_id` → `user`;
  `temperature`, `top_p`, `stream` as they are; `output_config.format` (json_schema) → `response_format`;
- content blocks: `text`; `image` with a base64 source → a data URL, a url source → its URL; assistant
  `tool_use` → `tool_calls` (the input as JSON arguments); user `tool_result` → a `tool` message (before the
  rest of that turn), its text blocks joined, prefixed with "Error: " when `is_error`;
- `tools` (custom tools: name, description, input_schema) → function tools; `tool_choice` auto/any/tool/none →
  auto/required/named/none; `disable_parallel_tool_use` → `parallel_tool_calls: false`;
- `cache_control` (top level, on blocks and on tools) and `service_tier` are accepted and left out: hints that
  change no answer.
No equivalent, so a 400 naming the parameter: `top_k`, `thinking`, `output_config.effort`, Anthropic's server
and built-in tools (a `type` other than "custom"), document, thinking and other block types, images inside a
tool_result, `metadata` keys other than user_id, and any other top-level parameter (container, mcp_servers…).
The answer and the error bodies: anthropic_answer.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from apps.gateway.pipeline.errors import InvalidRequest

DEFAULT_VERSION = "2023-06-01"
API_VERSIONS = frozenset({DEFAULT_VERSION, "2026-10-21"})
_SAMPLING = ("temperature", "top_p")
_KNOWN = frozenset(
    {"model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", *_SAMPLING}
    | {"tools", "tool_choice", "service_tier", "cache_control", "output_config"}
)
_REFUSED = {
    "top_k": "the chat-completions format the gateway serves through has no top_k; leave it out.",
    "thinking": "extended thinking is not available through this gateway; leave it out.",
}
_IGNORED_BLOCK_KEYS = frozenset({"cache_control", "citations"})


def invalid(param: str, message: str) -> InvalidRequest:
    """Anthropic's wording: the field's path, then what is wrong with it."""
    return InvalidRequest(f"{param}: {message}", param=param)


def check_version(version: str | None) -> str:
    """`anthropic-version`: the header is optional here (absent means 2023-06-01); another value is a 400."""
    if version is None or version == "":
        return DEFAULT_VERSION
    if version not in API_VERSIONS:
        accepted = ", ".join(sorted(API_VERSIONS))
        raise invalid("anthropic-version", f"{version!r} is not a supported version (supported: {accepted}).")
    return version


def request_to_openai(body: Any, *, version: str = DEFAULT_VERSION, count_only: bool = False) -> dict[str, Any]:
    """The chat-completions body for a Messages API body; `count_only` (count_tokens) needs no max_tokens."""
    if not isinstance(body, Mapping):
        raise InvalidRequest("The request body must be a JSON object.")
    known = _KNOWN if version == DEFAULT_VERSION else _KNOWN - set(_SAMPLING)
    refused = _REFUSED if version == DEFAULT_VERSION else {"thinking": _REFUSED["thinking"]}
    for param in sorted(body):
        if param in refused and body[param] is not None:
            raise invalid(param, refused[param])
        if param not in known:
            raise invalid(param, "Extra inputs are not permitted")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("model", "Field required" if model is None else "Input should be a non-empty string")
    chat: dict[str, Any] = {"model": model, "messages": _system(body.get("system")) + _messages(body.get("messages"))}
    if not count_only:
        chat["max_tokens"] = _max_tokens(body.get("max_tokens"))
    _sampling(body, chat)
    if (stop := body.get("stop_sequences")) is not None:
        if not isinstance(stop, list) or not all(isinstance(item, str) for item in stop):
            raise invalid("stop_sequences", "Input should be a list of strings")
        if stop:
            chat["stop"] = stop
    if (metadata := body.get("metadata")) is not None:
        chat.update(_metadata(metadata))
    if body.get("service_tier") not in (None, "auto", "standard_only"):
        raise invalid("service_tier", "Input should be 'auto' or 'standard_only'")
    if body.get("output_config") is not None:
        chat.update(_output_config(body["output_config"]))
    if body.get("tools"):
        chat["tools"] = [_tool(tool, index) for index, tool in enumerate(_list(body["tools"], "tools"))]
    if body.get("tool_choice") is not None:
        chat.update(_tool_choice(body["tool_choice"], has_tools=bool(body.get("tools"))))
    if body.get("stream") is not None:
        if not isinstance(body["stream"], bool):
            raise invalid("stream", "Input should be a valid boolean")
        chat["stream"] = body["stream"]
    return chat


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise invalid(where, "Input should be a valid list")
    return value


def _max_tokens(value: Any) -> int:
    if value is None:
        raise invalid("max_tokens", "Field required")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid("max_tokens", "Input should be an integer greater than or equal to 1")
    return value


def _sampling(body: Mapping[str, Any], chat: dict[str, Any]) -> None:
    for param in _SAMPLING:
        value = body.get(param)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise invalid(param, "Input should be a number from 0 to 1")
        chat[param] = value


def _metadata(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, Mapping):
        raise invalid("metadata", "Input should be a valid dictionary")
    for key in sorted(metadata):
        if key != "user_id":
            raise invalid(f"metadata.{key}", "Extra inputs are not permitted")
    user = metadata.get("user_id")
    if user is not None and not isinstance(user, str):
        raise invalid("metadata.user_id", "Input should be a valid string")
    return {"user": user} if user else {}


def _output_config(config: Any) -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise invalid("output_config", "Input should be a valid dictionary")
    for key in sorted(config):
        if key == "effort" and config[key] is not None:
            raise invalid("output_config.effort", "effort is not available through this gateway; leave it out.")
        if key not in ("effort", "format"):
            raise invalid(f"output_config.{key}", "Extra inputs are not permitted")
    output_format = config.get("format")
    if output_format is None:
        return {}
    if not isinstance(output_format, Mapping) or output_format.get("type") != "json_schema":
        raise invalid("output_config.format.type", "Input should be 'json_schema'")
    if not isinstance(output_format.get("schema"), Mapping):
        raise invalid("output_config.format.schema", "Field required")
    json_schema = {"name": "output", "schema": dict(output_format["schema"]), "strict": True}
    return {"response_format": {"type": "json_schema", "json_schema": json_schema}}


def _system(system: Any) -> list[dict[str, Any]]:
    if system is None or system == "":
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}]
    return [
        {"role": "system", "content": _text_of(block, f"system.{index}")}
        for index, block in enumerate(_list(system, "system"))
    ]


def _text_of(block: Any, where: str) -> str:
    if not isinstance(block, Mapping) or block.get("type") != "text":
        raise invalid(f"{where}.type", "only text blocks are allowed here")
    _no_extra(block, where, {"type", "text"})
    text = block.get("text")
    if not isinstance(text, str):
        raise invalid(f"{where}.text", "Field required" if text is None else "Input should be a valid string")
    return text


def _no_extra(block: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    for key in sorted(block):
        if key not in allowed and key not in _IGNORED_BLOCK_KEYS:
            raise invalid(f"{where}.{key}", "Extra inputs are not permitted")


def _messages(messages: Any) -> list[dict[str, Any]]:
    if messages is None:
        raise invalid("messages", "Field required")
    converted: list[dict[str, Any]] = []
    for index, message in enumerate(_list(messages, "messages")):
        where = f"messages.{index}"
        if not isinstance(message, Mapping):
            raise invalid(where, "Input should be a valid dictionary")
        role, content = message.get("role"), message.get("content")
        if role not in ("user", "assistant"):
            raise invalid(f"{where}.role", "Input should be 'user' or 'assistant'")
        if isinstance(content, str):
            converted.append({"role": role, "content": content})
        elif role == "user":
            converted.extend(_user_turn(_list(content, f"{where}.content"), f"{where}.content"))
        else:
            converted.append(_assistant_turn(_list(content, f"{where}.content"), f"{where}.content"))
    return converted


def _user_turn(blocks: list[Any], where: str) -> list[dict[str, Any]]:
    """A user turn: its tool results first (OpenAI wants them right after the assistant's calls), then the rest."""
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        at = f"{where}.{index}"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            parts.append({"type": "text", "text": _text_of(block, at)})
        elif kind == "image":
            parts.append(_image(block, at))
        elif kind == "tool_result":
            results.append(_tool_result(block, at))
        else:
            raise invalid(f"{at}.type", f"{kind!r} blocks are not available through this gateway in a user turn")
    if parts:
        only_text = len(parts) == 1 and parts[0]["type"] == "text"
        results.append({"role": "user", "content": parts[0]["text"] if only_text else parts})
    return results


def _image(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    _no_extra(block, where, {"type", "source"})
    source = block.get("source")
    if not isinstance(source, Mapping):
        raise invalid(f"{where}.source", "Field required")
    if source.get("type") == "base64":
        media_type, data = source.get("media_type"), source.get("data")
        if not isinstance(media_type, str) or not isinstance(data, str):
            raise invalid(f"{where}.source", "a base64 source needs media_type and data strings")
        url = f"data:{media_type};base64,{data}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise invalid(f"{where}.source.type", "Input should be 'base64' or 'url' (with its url)")
    return {"type": "image_url", "image_url": {"url": url}}


def _tool_result(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    _no_extra(block, where, {"type", "tool_use_id", "content", "is_error"})
    tool_use_id = block.get("tool_use_id")
    if not isinstance(tool_use_id, str) or not tool_use_id:
        raise invalid(f"{where}.tool_use_id", "Field required")
    content = block.get("content")
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        blocks = _list(content, f"{where}.content")
        text = "\n".join(_text_of(part, f"{where}.content.{index}") for index, part in enumerate(blocks))
    if block.get("is_error"):
        text = f"Error: {text}"  # chat completions has no error flag on a tool result: the model reads it
    return {"role": "tool", "tool_call_id": tool_use_id, "content": text}


def _assistant_turn(blocks: list[Any], where: str) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for index, block in enumerate(blocks):
        at = f"{where}.{index}"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            texts.append(_text_of(block, at))
        elif kind == "tool_use":
            _no_extra(block, at, {"type", "id", "name", "input"})
            if not isinstance(block.get("input"), Mapping):
                raise invalid(f"{at}.input", "Input should be a valid dictionary")
            for field in ("id", "name"):
                if not isinstance(block.get(field), str) or not block[field]:
                    raise invalid(f"{at}.{field}", "Field required")
            arguments = orjson.dumps(block["input"]).decode()
            calls.append(
                {"id": block["id"], "type": "function", "function": {"name": block["name"], "arguments": arguments}}
            )
        else:
            raise invalid(f"{at}.type", f"{kind!r} blocks are not available through this gateway in an assistant turn")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool(tool: Any, index: int) -> dict[str, Any]:
    where = f"tools.{index}"
    if not isinstance(tool, Mapping):
        raise invalid(where, "Input should be a valid dictionary")
    if tool.get("type", "custom") not in ("custom", None):
        raise invalid(
            f"{where}.type", f"Anthropic's built-in tool {tool.get('type')!r} is not available through this gateway"
        )
    _no_extra(tool, where, {"type", "name", "description", "input_schema"})
    if not isinstance(tool.get("name"), str) or not tool["name"]:
        raise invalid(f"{where}.name", "Field required")
    schema = tool.get("input_schema")
    if not isinstance(schema, Mapping):
        raise invalid(f"{where}.input_schema", "Field required")
    function: dict[str, Any] = {"name": tool["name"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    function["parameters"] = dict(schema)
    return {"type": "function", "function": function}


def _tool_choice(choice: Any, *, has_tools: bool) -> dict[str, Any]:
    if not isinstance(choice, Mapping):
        raise invalid("tool_choice", "Input should be a valid dictionary")
    kind = choice.get("type")
    converted: dict[str, Any]
    if kind == "auto":
        converted = {"tool_choice": "auto"}
    elif kind == "any":
        converted = {"tool_choice": "required"}
    elif kind == "none":
        converted = {"tool_choice": "none"}
    elif kind == "tool":
        if not isinstance(choice.get("name"), str) or not choice["name"]:
            raise invalid("tool_choice.name", "Field required")
        converted = {"tool_choice": {"type": "function", "function": {"name": choice["name"]}}}
    else:
        raise invalid("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'")
    if kind != "none" and not has_tools:
        if kind in ("any", "tool"):
            raise invalid("tool_choice", f"tool_choice {kind!r} needs tools")
        return {}  # auto without tools says nothing
    if choice.get("disable_parallel_tool_use") and kind != "none":
        converted["parallel_tool_calls"] = False
    return converted
