"""The OpenAI side of the translators to native formats (anthropic_translate, gemini_translate), as pure
functions: how an OpenAI chat-completions request is read (its text-only contents, what an assistant said, its
function calls and tools, its output limit and stop sequences) and which of its mistakes are a 400 naming the
parameter. Each translator builds its provider's own shapes from what these return."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import orjson

from apps.providers.clients.base import ProviderError, UnsupportedParameter

DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.DOTALL)
# The chat-completions parameters the translators read or refuse by name; any other one sent is a 400 naming it.
HANDLED = frozenset(
    {"model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature", "top_p"}
    | {"stop", "user", "tools", "tool_choice", "parallel_tool_calls", "n", "logprobs", "top_logprobs"}
    | {"response_format", "presence_penalty", "frequency_penalty", "logit_bias", "seed"}
)


class FunctionCall(NamedTuple):
    """An assistant's `tool_calls` entry: its id ("" when it has none), function name and parsed arguments."""

    id: Any
    name: Any
    arguments: dict[str, Any]


def invalid(param: str, message: str) -> ProviderError:
    """A request a translation cannot express as sent: a 400 naming the parameter."""
    return ProviderError(
        message,
        kind="bad_request",
        retryable=False,
        param=param,
        code="invalid_value",
        error_type="invalid_request_error",
    )


def refuse_unknown(request: Mapping[str, Any], reason: str) -> None:
    """A 400 naming the first (alphabetically) parameter sent with a value that is not in HANDLED."""
    for param in sorted(set(request) - HANDLED):
        if request[param] is not None:
            raise UnsupportedParameter(param, reason)


def output_limit(request: Mapping[str, Any]) -> Any:
    """`max_completion_tokens`, else the older `max_tokens`; None when neither is set."""
    return request.get("max_completion_tokens") or request.get("max_tokens")


def stop_sequences(stop: Any) -> list[Any]:
    """OpenAI's `stop`, a string or a list, as a list."""
    return [stop] if isinstance(stop, str) else list(stop)


def texts(content: Any, where: str) -> list[str]:
    """The texts of a content that may hold text only (system, developer and tool messages): a non-empty string,
    or its text parts; any other part is a 400 naming it."""
    if isinstance(content, str):
        return [content] if content else []
    found = []
    for index, part in enumerate(content or ()):
        if part.get("type") != "text":
            raise UnsupportedParameter(f"{where}.content[{index}].type", "only text parts are allowed here.")
        found.append(part.get("text") or "")
    return found


def assistant_texts(message: Mapping[str, Any]) -> list[str]:
    """What an assistant message said: its non-empty content string, or its text and refusal parts."""
    content = message.get("content")
    if isinstance(content, str):
        return [content] if content else []
    return [text for part in content or () if (text := part.get("text") or part.get("refusal"))]


def function_calls(message: Mapping[str, Any], index: int, *, provider: str) -> Iterator[FunctionCall]:
    """An assistant message's tool calls, in order: function calls only, their arguments a JSON object (else a
    400 naming the call's type or arguments)."""
    for number, call in enumerate(message.get("tool_calls") or ()):
        where = f"messages[{index}].tool_calls[{number}]"
        if call.get("type", "function") != "function":
            raise UnsupportedParameter(f"{where}.type", f"{provider} models call function tools only.")
        function = call.get("function") or {}
        try:
            arguments = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            raise invalid(f"{where}.function.arguments", "Tool-call arguments must be a JSON object.")
        yield FunctionCall(call.get("id") or "", function.get("name"), arguments)


def function_of(tool: Mapping[str, Any], index: int, *, provider: str) -> Mapping[str, Any]:
    """The `function` of a `tools` entry; a tool of another type is a 400 naming it."""
    if tool.get("type") != "function":
        raise UnsupportedParameter(f"tools[{index}].type", f"{provider} models take function tools only.")
    function: Mapping[str, Any] = tool["function"]
    return function


def without_tools(request: Mapping[str, Any]) -> bool:
    """Whether the request sends no tools, so that its `tool_choice` "auto"/"none" says nothing a provider needs
    to hear; a named tool_choice without its tool is a 400."""
    if request.get("tools"):
        return False
    if isinstance(request.get("tool_choice"), Mapping):
        raise invalid("tool_choice", "A named tool_choice needs that tool in 'tools'.")
    return True


def chunk_envelope(*, model: str, created: int | None) -> dict[str, Any]:
    """The fields every `chat.completion.chunk` of a translated stream carries (the id is set once known)."""
    return {
        "id": "",
        "object": "chat.completion.chunk",
        "created": int(time.time()) if created is None else created,
        "model": model,
    }
