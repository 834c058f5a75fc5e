"""The data plane's answers in Anthropic's Messages API shapes, as pure functions: a chat.completion body → a
`message`, OpenAI usage → Anthropic usage, and the error body of each status.

The answer's stop_reason is end_turn, max_tokens, tool_use or refusal: chat completions does not tell a stop
sequence from a natural end, so `stop_sequence` is never reported. Tool-call arguments that are not a JSON
object are a 502 (the model's output, not the caller's mistake)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import orjson

from apps.gateway.pipeline.errors import GatewayError, UpstreamError

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
# Anthropic's error type for each HTTP status its API answers; a gateway status it lacks gets its class's type.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    """Anthropic's error body for an answer of `status`."""
    error_type = ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": error_type, "message": message}}


def gateway_error_body(exc: GatewayError) -> dict[str, Any]:
    return error_body(exc.status, exc.message)


def message_id(upstream_id: Any) -> str:
    """An Anthropic-style id: an Anthropic upstream's own, else msg_ and the upstream's id (or random)."""
    text = str(upstream_id or "")
    if text.startswith("msg_"):
        return text
    return "msg_" + (re.sub(r"[^A-Za-z0-9]", "", text.removeprefix("chatcmpl-")) or os.urandom(12).hex())


def usage_to_anthropic(usage: Mapping[str, Any] | None) -> dict[str, Any]:
    """OpenAI's prompt_tokens include cached ones; Anthropic's input_tokens do not (the cache reads are apart)."""
    usage = usage or {}
    cached = int(((usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0)
    converted: dict[str, Any] = {
        "input_tokens": max(0, int(usage.get("prompt_tokens") or 0) - cached),
        "output_tokens": int(usage.get("completion_tokens") or 0),
    }
    if usage.get("prompt_tokens_details") is not None:
        converted["cache_read_input_tokens"] = cached
    return converted


def tool_input(arguments: Any, name: Any) -> dict[str, Any]:
    """A tool call's arguments as the `input` object; arguments that are not a JSON object are the provider's
    fault (the model produced them): a 502 saying so, never a crash nor a made-up input."""
    if not arguments:
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise UpstreamError(
            f"The model called tool {name!r} with arguments that are not a JSON object.", code="invalid_tool_arguments"
        )
    return parsed


def answer_to_anthropic(answer: Mapping[str, Any], *, model: str) -> dict[str, Any]:
    """An Anthropic `message` for a chat.completion body (its first choice)."""
    choice = (answer.get("choices") or [{}])[0]
    reply = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    text = reply.get("content")
    if isinstance(text, list):
        text = "".join(part.get("text") or "" for part in text if isinstance(part, Mapping))
    if text or reply.get("refusal"):
        content.append({"type": "text", "text": text or reply["refusal"]})
    for call in reply.get("tool_calls") or ():
        function = call.get("function") or {}
        name = function.get("name") or ""
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or "",
                "name": name,
                "input": tool_input(function.get("arguments"), name),
            }
        )
    return {
        "id": message_id(answer.get("id")),
        "type": "message",
        "role": "assistant",
        "model": answer.get("model") or model,
        "content": content,
        "stop_reason": STOP_REASONS.get(str(choice.get("finish_reason")), "end_turn"),
        "stop_sequence": None,
        "usage": usage_to_anthropic(answer.get("usage")),
    }
