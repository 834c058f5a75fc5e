"""The built-in local provider, so the portal works offline and tests cost nothing.

It answers with the last user message's text, shaped by what the request asks for:
- `response_format` `{"type": "json_object"}`: the text itself if it is a JSON object, else `{"echo": text}`;
- `response_format` `{"type": "json_schema", ...}`: the smallest instance of the schema (required properties
  only: strings get the text, numbers 0, booleans false, arrays [], enums their first value);
- `tools` with a `tool_choice` naming a function (or `"required"`: the first tool): a call to it with `{}`.
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
    Upstream,
    Usage,
)
from apps.providers.clients.tokens import count_input_tokens, count_message_tokens, count_tokens

# Each piece keeps the whitespace before its word, so the pieces add up to the text exactly.
_WORDS = re.compile(r"\s*\S+|\s+")
_EMBEDDING_DIMENSIONS = 16
_MAX_SCHEMA_DEPTH = 32  # a schema whose required properties recurse has no finite instance


class EchoClient(ProviderClient):
    kind = "echo"

    async def chat(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatResult:
        content, tool_call = _answer(request)
        usage = _usage(request, content, tool_call)
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
        content, tool_call = _answer(request)
        envelope = _envelope(upstream, "chat.completion.chunk")
        delay = float(upstream.options.get("delay_ms", 0)) / 1000

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return {**envelope, "choices": [choice], "usage": None}

        if tool_call:
            function = tool_call["function"]
            opening = {**tool_call, "index": 0, "function": {"name": function["name"], "arguments": ""}}
            yield chunk({"role": "assistant", "content": None, "tool_calls": [opening]})
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": function["arguments"]}}]})
        else:
            yield chunk({"role": "assistant", "content": ""})
            for word in _WORDS.findall(content or ""):
                if delay:
                    await asyncio.sleep(delay)
                yield chunk({"content": word})
        yield chunk({}, _finish(tool_call))
        yield {**envelope, "choices": [], "usage": _usage(request, content, tool_call).to_openai()}

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
        tokens = count_input_tokens(inputs)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        body = {"object": "list", "data": data, "model": upstream.model, "usage": usage}
        return EmbeddingResult(body, Usage(prompt_tokens=tokens))

    async def list_models(self, upstream: Upstream) -> list[ModelInfo]:
        return [ModelInfo("echo")]


def _answer(request: Mapping[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """(content, tool_call): exactly one of them is None."""
    if tool := _forced_tool(request):
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        return None, {"id": call_id, "type": "function", "function": {"name": tool, "arguments": "{}"}}
    text = _last_user_text(request.get("messages") or [])
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_object":
        try:
            is_object = isinstance(orjson.loads(text), dict)
        except orjson.JSONDecodeError:
            is_object = False
        return (text if is_object else orjson.dumps({"echo": text}).decode()), None
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return orjson.dumps(_instance(schema, text, schema, 0)).decode(), None
    return text, None


def _forced_tool(request: Mapping[str, Any]) -> str | None:
    tools = request.get("tools") or []
    choice = request.get("tool_choice")
    if not tools:
        return None
    if isinstance(choice, dict):
        return (choice.get("function") or {}).get("name")
    if choice == "required":
        return (tools[0].get("function") or {}).get("name")
    return None


def _last_user_text(messages: list[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            return "\n".join(part.get("text", "") for part in content if part.get("type") == "text")
        return content or ""
    return ""


def _instance(schema: Mapping[str, Any], text: str, root: Mapping[str, Any], depth: int) -> Any:
    """The smallest value valid against a JSON schema (local `$ref`s, `anyOf`/`oneOf`: first option)."""
    if depth > _MAX_SCHEMA_DEPTH:
        return None
    if ref := schema.get("$ref"):
        return _instance(_resolve(root, ref), text, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if schema.get(combinator):
            return _instance(schema[combinator][0], text, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((name for name in kind if name != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        required = schema.get("required") or ()
        return {name: _instance(properties.get(name) or {}, text, root, depth + 1) for name in required}
    return {"string": text, "number": 0, "integer": 0, "boolean": False, "array": []}.get(kind)


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    """A local JSON pointer such as `#/$defs/Address`; anything else resolves to the empty schema."""
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref[1:].split("/")[1:]:
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _usage(request: Mapping[str, Any], content: str | None, tool_call: dict[str, Any] | None) -> Usage:
    completion = content if tool_call is None else tool_call["function"]["name"] + tool_call["function"]["arguments"]
    return Usage(count_message_tokens(request.get("messages") or []), count_tokens(completion or ""))


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
        "system_fingerprint": None,
    }


def _finish(tool_call: dict[str, Any] | None) -> str:
    return "stop" if tool_call is None else "tool_calls"
