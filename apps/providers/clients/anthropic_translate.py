"""OpenAI chat-completions (the gateway's canonical format) ⇄ Anthropic Messages API, as pure functions (no I/O),
for the `anthropic` client.

Request (OpenAI → Anthropic), the rules where the two differ:
- `system`/`developer` messages become the top-level `system` (in order, wherever they were);
- `max_tokens` is required by Anthropic: `max_completion_tokens`, else `max_tokens`, else the deployment's
  default (`options["max_tokens"]`, else DEFAULT_MAX_TOKENS);
- `stop` → `stop_sequences`; `user` → `metadata.user_id`; `temperature` must be 0 to 1 (OpenAI allows up to 2);
- function tools → `{name, description, input_schema}`; `tool_choice` auto/none/required/named →
  auto/none/any/tool; `parallel_tool_calls: false` → `disable_parallel_tool_use`;
- assistant `tool_calls` → `tool_use` blocks (arguments must be a JSON object); `tool` messages →
  `tool_result` blocks in a user turn; consecutive turns of one role are merged into one;
- `image_url` parts: a data URL → a base64 source, an http(s) URL → a url source.
No equivalent, so a 400 naming the parameter: `n` > 1, `logprobs`, `top_logprobs`, `response_format` other
than text, `presence_penalty`/`frequency_penalty` other than 0, `logit_bias`, `seed`, custom tools, audio and
file parts, and any parameter this module does not know.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from apps.providers.clients.base import ProviderError, UnsupportedParameter
from apps.providers.clients.openai_side import (
    DATA_URL,
    assistant_texts,
    chunk_envelope,
    function_calls,
    function_of,
    invalid,
    output_limit,
    refuse_unknown,
    stop_sequences,
    texts,
    without_tools,
)

DEFAULT_MAX_TOKENS = 4096
# Anthropic's documented image types; another one is refused here rather than by a 400 that names no part.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def request_to_anthropic(
    request: Mapping[str, Any], *, model: str, default_max_tokens: int = DEFAULT_MAX_TOKENS
) -> dict[str, Any]:
    """The Messages API body for an OpenAI chat-completions request (without `stream`)."""
    _refuse_unsupported(request)
    system, messages = _messages(request.get("messages") or [])
    body: dict[str, Any] = {"model": model, "messages": messages}
    body["max_tokens"] = output_limit(request) or default_max_tokens
    if system:
        body["system"] = system[0]["text"] if len(system) == 1 else system
    if (temperature := request.get("temperature")) is not None:
        if temperature > 1:
            raise UnsupportedParameter("temperature", "Anthropic models take a temperature from 0 to 1.")
        body["temperature"] = temperature
    if request.get("top_p") is not None:
        body["top_p"] = request["top_p"]
    if stop := request.get("stop"):
        body["stop_sequences"] = stop_sequences(stop)
    if request.get("user"):
        body["metadata"] = {"user_id": request["user"]}
    if request.get("tools"):
        body["tools"] = [_tool(tool, index) for index, tool in enumerate(request["tools"])]
    if choice := _tool_choice(request):
        body["tool_choice"] = choice
    return body


def _refuse_unsupported(request: Mapping[str, Any]) -> None:
    if (request.get("n") or 1) != 1:
        raise UnsupportedParameter("n", "Anthropic models answer one choice; send n=1 or leave it out.")
    for param in ("logprobs", "top_logprobs", "logit_bias", "seed"):
        if request.get(param) not in (None, False, {}):
            raise UnsupportedParameter(param, "Anthropic's Messages API has no equivalent.")
    for param in ("presence_penalty", "frequency_penalty"):
        if request.get(param):
            raise UnsupportedParameter(param, "Anthropic's Messages API has no equivalent; send 0 or leave it out.")
    response_format = request.get("response_format") or {}
    if response_format.get("type", "text") != "text":
        raise UnsupportedParameter(
            "response_format", f"Anthropic's Messages API has no {response_format.get('type')} response format."
        )
    refuse_unknown(request, "not translated to Anthropic's Messages API.")


def _messages(messages: list[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system text blocks, turns): turns alternate roles, as Anthropic's conversation model has them."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_blocks(message.get("content"), f"messages[{index}]"))
            continue
        if role == "user":
            turn_role, blocks = "user", _user_blocks(message.get("content"), index)
        elif role == "assistant":
            turn_role, blocks = "assistant", _assistant_blocks(message, index)
        elif role == "tool":
            content = _text_blocks(message.get("content"), f"messages[{index}]")
            result = {"type": "tool_result", "tool_use_id": message.get("tool_call_id") or "", "content": content}
            turn_role, blocks = "user", [result]
        else:
            raise UnsupportedParameter(f"messages[{index}].role", f"Anthropic has no {role!r} role.")
        if turns and turns[-1]["role"] == turn_role:
            turns[-1]["content"] = _as_blocks(turns[-1]["content"]) + _as_blocks(blocks)
        else:
            turns.append({"role": turn_role, "content": blocks})
    return system, turns


def _as_blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _text_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text} for text in texts(content, where)]


def _user_blocks(content: Any, index: int) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    blocks: list[dict[str, Any]] = []
    for number, part in enumerate(content or ()):
        where = f"messages[{index}].content[{number}]"
        if part.get("type") == "text":
            blocks.append({"type": "text", "text": part.get("text") or ""})
        elif part.get("type") == "image_url":
            blocks.append(_image(part.get("image_url") or {}, f"{where}.image_url"))
        else:
            raise UnsupportedParameter(f"{where}.type", f"Anthropic models take no {part.get('type')!r} parts.")
    return blocks


def _image(image: Mapping[str, Any], where: str) -> dict[str, Any]:
    url = str(image.get("url") or "")
    if match := DATA_URL.match(url):
        if match["type"] not in IMAGE_TYPES:
            kinds = ", ".join(sorted(IMAGE_TYPES))
            raise UnsupportedParameter(f"{where}.url", f"Anthropic takes images of type {kinds}, not {match['type']}.")
        return {"type": "image", "source": {"type": "base64", "media_type": match["type"], "data": match["data"]}}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise invalid(f"{where}.url", "An image must be an http(s) URL or a base64 data URL.")


def _assistant_blocks(message: Mapping[str, Any], index: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text} for text in assistant_texts(message)]
    for call in function_calls(message, index, provider="Anthropic"):
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
    return blocks


def _tool(tool: Mapping[str, Any], index: int) -> dict[str, Any]:
    function = function_of(tool, index, provider="Anthropic")
    converted: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        converted["description"] = function["description"]
    converted["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
    return converted


def _tool_choice(request: Mapping[str, Any]) -> dict[str, Any] | None:
    choice = request.get("tool_choice")
    if without_tools(request):
        return None
    if choice is None or choice == "auto":
        converted: dict[str, Any] = {"type": "auto"}
    elif choice == "none":
        converted = {"type": "none"}
    elif choice == "required":
        converted = {"type": "any"}
    elif isinstance(choice, Mapping) and choice.get("type") == "function":
        converted = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    else:
        raise UnsupportedParameter("tool_choice", "Anthropic takes auto, none, required or a named function.")
    if request.get("parallel_tool_calls") is False and converted["type"] != "none":
        converted["disable_parallel_tool_use"] = True
    elif choice is None and request.get("parallel_tool_calls") is not False:
        return None  # Anthropic's default is auto: send nothing the caller did not
    return converted


def usage_to_openai(usage: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic counts cache writes and reads apart from `input_tokens`; OpenAI's prompt_tokens include them,
    and `prompt_tokens_details.cached_tokens` says how many were read from the cache."""
    cached = int(usage.get("cache_read_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + int(usage.get("cache_creation_input_tokens") or 0) + cached
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def anthropic_to_openai(message: Mapping[str, Any], *, created: int | None = None) -> dict[str, Any]:
    """A `chat.completion` body for an Anthropic `message` (thinking blocks have no place in it and are left out)."""
    text: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        if block.get("type") == "text":
            text.append(block.get("text") or "")
        elif block.get("type") == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(
                {"id": block["id"], "type": "function", "function": {"name": block["name"], "arguments": arguments}}
            )
    reply: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(text) if text or not calls else None,
        "refusal": None,
    }
    if calls:
        reply["tool_calls"] = calls
    finish = FINISH_REASONS.get(str(message.get("stop_reason")), "stop")
    return {
        "id": message.get("id") or "",
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": message.get("model") or "",
        "choices": [{"index": 0, "message": reply, "logprobs": None, "finish_reason": finish}],
        "usage": usage_to_openai(message.get("usage") or {}),
    }


class StreamTranslator:
    """Anthropic's stream events (parsed `data` objects) → OpenAI `chat.completion.chunk` dicts.

    message_start gives the role chunk; text deltas become `content` deltas; a tool_use block opens a tool call
    (index, id, type, name, empty arguments) and its input_json_delta fragments follow as `arguments`;
    message_delta carries the finish chunk; message_stop the usage chunk (`choices: []`). ping, thinking and
    any event type Anthropic adds later are skipped, as its versioning policy asks of clients; an `error`
    event raises ProviderError. `finished` tells whether message_stop arrived."""

    def __init__(self, *, model: str, created: int | None = None) -> None:
        self.finished = False
        self._envelope = chunk_envelope(model=model, created=created)
        self._usage: dict[str, Any] = {}
        self._tool_index: dict[int, int] = {}  # content block index -> OpenAI tool call index

    def feed(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self._envelope["id"] = message.get("id") or ""
            self._envelope["model"] = message.get("model") or self._envelope["model"]
            self._usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(int(event.get("index") or 0), event.get("content_block") or {})
        if kind == "content_block_delta":
            return self._delta(int(event.get("index") or 0), event.get("delta") or {})
        if kind == "message_delta":
            self._usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
            reason = (event.get("delta") or {}).get("stop_reason")
            return [self._chunk({}, FINISH_REASONS.get(str(reason), "stop"))] if reason else []
        if kind == "message_stop":
            self.finished = True
            return [{**self._envelope, "choices": [], "usage": usage_to_openai(self._usage)}]
        if kind == "error":
            raise stream_error(event.get("error") or {})
        return []

    def _block_start(self, index: int, block: Mapping[str, Any]) -> list[dict[str, Any]]:
        if block.get("type") == "text":
            return [self._chunk({"content": block["text"]})] if block.get("text") else []
        if block.get("type") == "tool_use":
            position = self._tool_index[index] = len(self._tool_index)
            call = {"index": position, "id": block.get("id"), "type": "function"}
            call["function"] = {"name": block.get("name"), "arguments": ""}
            return [self._chunk({"tool_calls": [call]})]
        return []

    def _delta(self, index: int, delta: Mapping[str, Any]) -> list[dict[str, Any]]:
        if delta.get("type") == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if delta.get("type") == "input_json_delta" and delta.get("partial_json") and index in self._tool_index:
            fragment = {"index": self._tool_index[index], "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [fragment]})]
        return []

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**self._envelope, "choices": [choice]}


def stream_error(error: Mapping[str, Any]) -> ProviderError:
    """An `error` event mid-stream: overloaded and api errors may pass on a retry (before the first chunk)."""
    error_type = str(error.get("type") or "api_error")
    message = str(error.get("message") or error_type)
    if error_type == "rate_limit_error":
        return ProviderError(message, kind="rate_limited", retryable=True, error_type=error_type)
    if error_type in ("overloaded_error", "api_error"):
        return ProviderError(message, kind="server_error", retryable=True, error_type=error_type)
    return ProviderError(message, kind="bad_request", retryable=False, error_type=error_type)
