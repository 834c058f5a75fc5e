"""A local fake of Anthropic's Messages API that speaks its real wire format (held to it by the official
`anthropic` SDK in tests/providers/clients/test_anthropic_fake.py).

    with FakeAnthropicUpstream(api_key="sk-ant-test") as fake:
        fake.base_url                 # http://127.0.0.1:PORT (the SDK's base_url; paths start with /v1)
        fake.script("status:529")     # the next request fails, then `fake.mode` ("ok") again
        fake.requests[-1].body        # what it received

`POST /v1/messages` checks what Anthropic checks (the key, a known `anthropic-version`, `model`, `max_tokens`,
`messages` with user/assistant roles only, every tool_use answered by a tool_result in the next user turn) and
answers a `message` (or, with `stream: true`, the SSE sequence message_start, content_block_start, ping,
content_block_delta…, content_block_stop, message_delta, message_stop, each with its `event:` line). It answers
`reply` as text, cut at the first `stop_sequences` hit (stop_reason stop_sequence) or at `max_tokens` words
(max_tokens); when `tool_choice` forces a tool (any: the first; tool: the named one) it calls it with a sample
of its input_schema's required properties. Tokens are words; `cache_read`/`cache_creation` are reported as
Anthropic reports prompt caching. `GET /v1/models` pages `models` with limit/after_id.

Modes: ok, status:CODE[:S] (Anthropic's error body for CODE; 429 and 529 send `retry-after: S`, default 1),
garbage (an HTML 502 page), midstream_error (streams: an `error` event, overloaded, after message_start),
midstream_fail (streams: the connection drops after message_start).
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.server import FakeServer, RecordedRequest, read_json

ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
# Anthropic's documented API versions (platform.claude.com/docs/en/api/versioning); 2026-10-21 removed the
# sampling parameters temperature, top_p and top_k. Its SDKs (2.x) send the key as a Bearer token, older
# clients as x-api-key: both are accepted.
VERSIONS = frozenset({"2023-01-01", "2023-06-01", "2026-10-21"})
DEFAULT_MODELS = [
    {"id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5", "max_input_tokens": 200000},
    {"id": "claude-haiku-4-5-20251001", "display_name": "Claude Haiku 4.5", "max_input_tokens": 200000},
    {"id": "claude-3-haiku-20240307", "display_name": "Claude Haiku 3", "lifecycle": "retired"},
]


class FakeAnthropicUpstream(FakeServer):
    thread_name = "fake-anthropic"

    def __init__(self, *, api_key: str | None = None, reply: str = "This is a test.") -> None:
        super().__init__()
        self.api_key = api_key
        self.reply = reply
        self.models = [
            {"type": "model", "created_at": "2025-01-01T00:00:00Z", "lifecycle": "active", **model}
            for model in DEFAULT_MODELS
        ]
        self.cache_read = self.cache_creation = 0
        self.requests: list[RecordedRequest] = []

    @property
    def base_url(self) -> str:
        return self.origin

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/messages", self._messages)
        router.add_get("/v1/models", self._models)

    async def _receive(self, request: web.Request) -> tuple[Any, str, web.Response | None]:
        body = await read_json(request)
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.query), CIMultiDict(request.headers), body)
        )
        mode = self.next_mode()
        presented = {request.headers.get("x-api-key"), request.headers.get("Authorization", "").removeprefix("Bearer ")}
        if self.api_key is not None and self.api_key not in presented:
            return body, mode, error(401, "invalid x-api-key")
        version = request.headers.get("anthropic-version")
        if not version:
            return body, mode, error(400, "anthropic-version: header is required")
        if version not in VERSIONS:
            return body, mode, error(400, f"anthropic-version: {version!r} is not a valid version")
        removed = [name for name in ("temperature", "top_p", "top_k") if isinstance(body, dict) and name in body]
        if version == "2026-10-21" and removed:
            return body, mode, error(400, f"{removed[0]}: Extra inputs are not permitted")
        if mode.startswith("status:"):
            code, _, wait = mode.removeprefix("status:").partition(":")
            headers = {"retry-after": wait or "1"} if code in ("429", "529") else {}
            return body, mode, error(int(code), f"scripted {ERRORS.get(int(code), 'api_error')}", headers)
        if mode == "garbage":
            return body, mode, web.Response(status=200, body=b"<html>502 Bad Gateway</html>", content_type="text/html")
        return body, mode, None

    async def _models(self, request: web.Request) -> web.Response:
        _, _, early = await self._receive(request)
        if early is not None:
            return early
        limit = int(request.query.get("limit", "20"))
        ids = [model["id"] for model in self.models]
        start = ids.index(request.query["after_id"]) + 1 if request.query.get("after_id") in ids else 0
        page = self.models[start : start + limit]
        return web.json_response(
            {
                "data": page,
                "has_more": start + limit < len(self.models),
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            }
        )

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body, mode, early = await self._receive(request)
        if early is not None:
            return early
        if problem := check_request(body):
            return error(400, problem)
        message = self._answer(body)
        if not body.get("stream"):
            return web.json_response(message, headers=_request_id())
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8", **_request_id()})
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):
            for index, (name, data) in enumerate(events(message)):
                if index == 1 and mode == "midstream_error":
                    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                    await response.write(sse("error", overloaded))
                    break
                if index == 1 and mode == "midstream_fail":
                    assert request.transport is not None
                    request.transport.close()
                    return response
                await response.write(sse(name, data))
            await response.write_eof()
        return response

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        content: list[dict[str, Any]]
        stop_sequence = None
        if tool := _forced_tool(body):
            content = [{"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": tool["name"]}]
            content[0]["input"] = _sample(tool.get("input_schema") or {})
            reason, output = "tool_use", 1 + len(orjson.dumps(content[0]["input"]).split())
        else:
            words = self.reply.split(" ")
            reason, text = "end_turn", self.reply
            for sequence in body.get("stop_sequences") or ():
                if sequence in text:
                    text, reason, stop_sequence = text[: text.index(sequence)], "stop_sequence", sequence
            if reason == "end_turn" and len(words) > body["max_tokens"]:
                text, reason = " ".join(words[: body["max_tokens"]]), "max_tokens"
            content, output = [{"type": "text", "text": text}], len(text.split())
        usage = {
            "input_tokens": _count_words(body),
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": output,
        }
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": reason,
            "stop_sequence": stop_sequence,
            "usage": usage,
        }


def check_request(body: Any) -> str | None:
    """What Anthropic's validation says of a body it refuses, or None."""
    if not isinstance(body, dict):
        return "There was an error parsing the body of your request."
    for field in ("model", "max_tokens", "messages"):
        if field not in body:
            return f"{field}: Field required"
    pending: set[str] = set()
    for index, message in enumerate(body["messages"]):
        if message.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
        blocks = message["content"] if isinstance(message["content"], list) else []
        answered = {block.get("tool_use_id") for block in blocks if block.get("type") == "tool_result"}
        if pending - answered:
            return f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately after"
        pending = {block["id"] for block in blocks if block.get("type") == "tool_use"}
        for number, block in enumerate(blocks):
            if block.get("type") not in ("text", "image", "tool_use", "tool_result", "document"):
                return f"messages.{index}.content.{number}.type: Input tag '{block.get('type')}' does not match"
    return None


def events(message: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events Anthropic streams for `message`, in order."""
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**message["usage"], "output_tokens": 1}
    out: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opening = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _split(block["text"])]
        else:
            opening = {**block, "input": {}}
            arguments = orjson.dumps(block["input"]).decode()
            middle = len(arguments) // 2
            deltas = [{"type": "input_json_delta", "partial_json": part} for part in ("", arguments[:middle])]
            deltas.append({"type": "input_json_delta", "partial_json": arguments[middle:]})
        out.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening}))
        if index == 0:
            out.append(("ping", {"type": "ping"}))
        out += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
        out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    usage = {"output_tokens": message["usage"]["output_tokens"]}
    out.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
    out.append(("message_stop", {"type": "message_stop"}))
    return out


def sse(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"type": "error", "error": {"type": ERRORS.get(status, "api_error"), "message": message}}
    return web.json_response(body, status=status, headers={**_request_id(), **(headers or {})})


def _request_id() -> dict[str, str]:
    return {"request-id": f"req_{uuid.uuid4().hex[:24]}"}


def _split(text: str) -> list[str]:
    words = text.split(" ")
    return [word if index == 0 else " " + word for index, word in enumerate(words)] if text else []


def _forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools, choice = body.get("tools") or [], body.get("tool_choice") or {}
    if choice.get("type") == "any" and tools:
        return dict(tools[0])
    if choice.get("type") == "tool":
        return next((dict(tool) for tool in tools if tool["name"] == choice.get("name")), None)
    return None


def _sample(schema: dict[str, Any]) -> dict[str, Any]:
    values = {"string": "test", "integer": 1, "number": 1.5, "boolean": True}
    properties = schema.get("properties") or {}
    return {name: values.get(properties[name].get("type"), "test") for name in schema.get("required") or ()}


def _count_words(body: dict[str, Any]) -> int:
    system = body.get("system") or ""
    texts = [system] if isinstance(system, str) else [block.get("text", "") for block in system]
    for message in body["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        texts += [block.get("text", "") for block in blocks if block.get("type") == "text"]
    return sum(len(text.split()) for text in texts)
