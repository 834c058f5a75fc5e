"""The built-in local provider, so the portal works offline and tests cost nothing.

It answers with the last user message's text, shaped by what the request asks for:
- `response_format` `{"type": "json_object"}`: the text itself if it is a JSON object, else `{"echo": text}`;
- `response_format` `{"type": "json_schema", ...}`: a sample instance of the schema (see schema_sample: required
  properties with typed values, strings carrying the text);
- `tools` with a `tool_choice` that forces a call (a named function or custom tool, `"required"`: the first
  tool, `allowed_tools` in mode `required`: the first allowed one): a call to it, whose arguments are a sample
  instance of the function's `parameters` (a custom tool's input is the text).
It answers one choice without log probabilities: `n` above 1 and `logprobs` are refused with a 400 naming them.
Bodies, chunks and usage are in OpenAI's exact format; streams go word by word, `options["delay_ms"]` apart.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import struct
import time
import uuid
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import orjson

from apps.providers.clients.base import (
    ChatResult,
    ChatStream,
    EmbeddingResult,
    ModelInfo,
    ProviderClient,
    ProviderError,
    UnsupportedParameter,
    Upstream,
    Usage,
)
from apps.providers.clients.schema_sample import sample
from apps.providers.clients.tokens import count_input_tokens, count_message_tokens, count_tokens, counted

# Each piece keeps the whitespace before its word, so the pieces add up to the text exactly.
_WORDS = re.compile(r"\s*\S+|\s+")
_EMBEDDING_DIMENSIONS = 16
_FINGERPRINT = "fp_echo"  # OpenAI's `system_fingerprint` names the backend configuration: echo has one


class EchoClient(ProviderClient):
    kind = "echo"

    async def chat(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatResult:
        _refuse_unsupported(request)
        content, tool_call = _answer(request)
        usage = await _usage(request, content, tool_call)
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if tool_call:
            message["tool_calls"] = [tool_call]
        body = {
            **_envelope(upstream, "chat.completion"),
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(tool_call)}],
            "usage": usage.to_openai(),
        }
        return ChatResult(body, usage)

    def chat_stream(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatStream:
        return ChatStream(self._chunks(upstream, request), request)

    async def _chunks(self, upstream: Upstream, request: Mapping[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        _refuse_unsupported(request)
        content, tool_call = _answer(request)
        envelope = _envelope(upstream, "chat.completion.chunk")
        delay = float(upstream.options.get("delay_ms", 0)) / 1000

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return {**envelope, "choices": [choice], "usage": None}

        if tool_call:
            # The call opens with its id, type and name, then its arguments (a custom tool's input) follow.
            kind, field = ("function", "arguments") if tool_call["type"] == "function" else ("custom", "input")
            opening = {**tool_call, "index": 0, kind: {**tool_call[kind], field: ""}}
            yield chunk({"role": "assistant", "content": None, "tool_calls": [opening]})
            yield chunk({"tool_calls": [{"index": 0, kind: {field: tool_call[kind][field]}}]})
        else:
            yield chunk({"role": "assistant", "content": ""})
            for word in _WORDS.findall(content or ""):
                if delay:
                    await asyncio.sleep(delay)
                yield chunk({"content": word})
        yield chunk({}, _finish(tool_call))
        yield {**envelope, "choices": [], "usage": (await _usage(request, content, tool_call)).to_openai()}

    async def embeddings(self, upstream: Upstream, request: Mapping[str, Any]) -> EmbeddingResult:
        inputs = request.get("input")
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]  # one string, or one text already tokenized
        if not isinstance(inputs, list) or not inputs:
            raise ProviderError("`input` must be a string or a non-empty list.", kind="bad_request", retryable=False)
        dimensions = int(request.get("dimensions") or _EMBEDDING_DIMENSIONS)
        as_base64 = request.get("encoding_format") == "base64"
        data = []
        for index, item in enumerate(inputs):
            vector = _vector(item, dimensions)
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode() if as_base64 else vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = await counted(count_input_tokens, inputs)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        body = {"object": "list", "data": data, "model": upstream.model, "usage": usage}
        return EmbeddingResult(body, Usage(prompt_tokens=tokens))

    async def list_models(self, upstream: Upstream) -> list[ModelInfo]:
        return [ModelInfo("echo")]


def _refuse_unsupported(request: Mapping[str, Any]) -> None:
    if (request.get("n") or 1) != 1:
        raise UnsupportedParameter("n", "echo deployments answer one choice; send n=1 or leave it out.")
    if request.get("logprobs"):
        raise UnsupportedParameter("logprobs", "echo deployments report no log probabilities.")
    if request.get("top_logprobs"):
        raise UnsupportedParameter("top_logprobs", "echo deployments report no log probabilities.")


def _answer(request: Mapping[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """(content, tool_call): exactly one of them is None."""
    text = _last_user_text(request.get("messages") or [])
    if tool := _forced_tool(request):
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        if tool.get("type") == "custom":
            return None, {"id": call_id, "type": "custom", "custom": {"name": tool["custom"]["name"], "input": text}}
        function = tool["function"]
        arguments = orjson.dumps(sample(function.get("parameters") or {"type": "object"}, text)).decode()
        return None, {"id": call_id, "type": "function", "function": {"name": function["name"], "arguments": arguments}}
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_object":
        try:
            is_object = isinstance(orjson.loads(text), dict)
        except orjson.JSONDecodeError:
            is_object = False
        return (text if is_object else orjson.dumps({"echo": text}).decode()), None
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return orjson.dumps(sample(schema, text)).decode(), None
    return text, None


def _forced_tool(request: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The tool (its definition in `tools`) that `tool_choice` makes the model call, if any."""
    tools: list[Mapping[str, Any]] = request.get("tools") or []
    choice = request.get("tool_choice")
    if not tools:
        return None
    if choice == "required":
        return tools[0]
    if not isinstance(choice, Mapping):
        return None  # "auto" or "none": echo answers with text
    if choice.get("type") == "allowed_tools":
        allowed = choice.get("allowed_tools") or {}
        if allowed.get("mode") != "required" or not allowed.get("tools"):
            return None
        choice = allowed["tools"][0]
    kind = choice.get("type") or "function"
    name = (choice.get(kind) or {}).get("name")
    for tool in tools:
        if tool.get("type") == kind and (tool.get(kind) or {}).get("name") == name:
            return tool
    raise ProviderError(
        f"Invalid value for 'tool_choice': no {kind} tool named {name!r} in 'tools'.",
        kind="bad_request",
        retryable=False,
        param="tool_choice",
        code="invalid_value",
        error_type="invalid_request_error",
    )


def _last_user_text(messages: list[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            return "\n".join(part.get("text", "") for part in content if part.get("type") == "text")
        return content or ""
    return ""


async def _usage(request: Mapping[str, Any], content: str | None, tool_call: dict[str, Any] | None) -> Usage:
    if tool_call is None:
        completion = content or ""
    else:
        call = tool_call[tool_call["type"]]
        completion = call["name"] + (call.get("arguments") or call.get("input") or "")
    return await counted(_count_usage, request.get("messages") or [], completion)


def _count_usage(messages: list[Mapping[str, Any]], completion: str) -> Usage:
    return Usage(count_message_tokens(messages), count_tokens(completion))


def _vector(item: str | list[int], dimensions: int) -> list[float]:
    """A unit vector derived from the input's hash: the same input always maps to the same vector."""
    digest = hashlib.shake_256(orjson.dumps(item)).digest(2 * dimensions)
    raw = [value / 32768 for value in struct.unpack(f"<{dimensions}h", digest)]
    norm = sum(value * value for value in raw) ** 0.5 or 1.0
    return [value / norm for value in raw]


def _envelope(upstream: Upstream, obj: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": obj,
        "created": int(time.time()),
        "model": upstream.model,
        "system_fingerprint": _FINGERPRINT,
    }


def _finish(tool_call: dict[str, Any] | None) -> str:
    return "stop" if tool_call is None else "tool_calls"
