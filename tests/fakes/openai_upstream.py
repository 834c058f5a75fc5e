"""A local fake of OpenAI's API that speaks its real wire format, for any test (sync or async).

    fake = FakeOpenAIUpstream(api_key="sk-test").start()   # or: with FakeOpenAIUpstream() as fake: ...
    fake.base_url          # http://127.0.0.1:PORT/v1
    fake.script("status:500", "status:500")   # the next two requests fail, then `fake.mode` ("ok") again
    fake.requests[-1].body # what it received
    fake.stop()

It serves `POST /v1/chat/completions` (JSON, or `text/event-stream` with `stream: true`: `data: {chunk}`
events, the `choices: []` usage chunk when `stream_options.include_usage` is true, then `data: [DONE]`),
`POST /v1/embeddings` (vectors from `embedding_for(input)` when a test sets it) and `GET /v1/models`, checks what
OpenAI checks (JSON body, `model`, `messages`, `stream_options` only with `stream`, and the Bearer key when
`api_key` is given) and answers errors in OpenAI's envelope. `tool_types` (None: any) plays a server that
knows only some tool types, as vLLM and Ollama know only `function`: another type is refused with a 400 naming
`tools[i].type`. `errors` holds the words of its scripted errors (OpenAI's by default). It runs an aiohttp app
on its own event loop in a background thread, so it works the same under pytest-asyncio's per-test loops,
Django's sync test client and the official `openai` SDK.

Modes, one per request (`script` queues them; `mode` is used when the queue is empty):
  ok                 answer normally
  no_usage           answer without `usage` (and no usage chunk), like servers that never report it
  slow:S             wait S seconds, then answer
  status:CODE[:S]    answer CODE with OpenAI's error body for it (429 also sends `Retry-After: S`, default 1)
  hang               accept the request and never answer (until stop)
  reset              reset the connection (TCP RST) without answering
  garbage            answer 200 with an HTML page (streams: an event whose data is not JSON)
  midstream_fail     send the headers and the first 2 chunks (or half the JSON body), then drop the connection
  midstream_garbage  streams: send 2 chunks, then an event whose data is not JSON
  midstream_error    streams: send 2 chunks, then an event carrying OpenAI's error envelope (as OpenAI does)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from tests.fakes import openai_wire as wire
from tests.fakes.server import FakeServer, read_json

_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: CIMultiDict[str]  # case-insensitive: headers["authorization"]
    body: Any  # the parsed JSON body, or None
    client_port: int  # the client's side of the TCP connection: equal ports mean a reused connection


class FakeOpenAIUpstream(FakeServer):
    thread_name = "fake-openai-upstream"
    backlog = 1024  # hundreds of clients connect at once in the concurrency tests

    def __init__(self, *, api_key: str | None = None, reply: str = "This is a test.") -> None:
        super().__init__()
        self.api_key = api_key
        self.reply = reply
        self.models: list[dict[str, Any]] = list(wire.DEFAULT_MODELS)
        self.tool_types: set[str] | None = None
        # >0: usage says this many prompt tokens (at most all) were read from the prompt cache, as OpenAI does
        self.cached_prompt_tokens = 0
        # input -> its vector, for tests that need embeddings they control (near or far); None: a hash of the input
        self.embedding_for: Callable[[Any], Sequence[float]] | None = None
        # status -> (message, type, param, code) of its scripted errors; a test may put a server's own words here
        self.errors = dict(wire.ERRORS)
        self.requests: list[RecordedRequest] = []
        self._stopping: asyncio.Event | None = None

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def fail_next(self, count: int, mode: str = "status:500") -> None:
        self.script(*[mode] * count)

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self._chat)
        router.add_post("/v1/embeddings", self._embeddings)
        router.add_get("/v1/models", self._models)

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        await super()._serve()

    async def _shutdown(self) -> None:
        assert self._stopping is not None
        self._stopping.set()  # releases `hang` and `slow` handlers
        await super()._shutdown()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, mode, early = await self._receive(request)
        if early is not None:
            return early
        if "messages" not in body:
            return _error(400, "Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
        if body.get("stream_options") is not None and not body.get("stream"):
            message = "The 'stream_options' parameter is only allowed when 'stream' is enabled."
            return _error(400, message, "stream_options", "invalid_value")
        for index, tool in enumerate(body.get("tools") or ()):
            if self.tool_types is not None and tool.get("type") not in self.tool_types:
                supported = ", ".join(f"'{name}'" for name in sorted(self.tool_types))
                message = f"Invalid value: '{tool.get('type')}'. Supported values are: {supported}."
                return _error(400, message, f"tools[{index}].type", "invalid_value")
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and mode != "no_usage"
            chunks = wire.chunks(body["model"], body["messages"], self.reply, include_usage=include_usage)
            self._report_cached(chunks[-1].get("usage"))
            return await self._stream(request, chunks, mode)
        answer = wire.completion(body["model"], body["messages"], self.reply, with_usage=mode != "no_usage")
        self._report_cached(answer.get("usage"))
        return await self._answer(request, answer, mode)

    def _report_cached(self, usage: dict[str, Any] | None) -> None:
        if usage and self.cached_prompt_tokens:
            cached = min(self.cached_prompt_tokens, usage["prompt_tokens"])
            usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body, mode, early = await self._receive(request)
        if early is not None:
            return early
        if not body.get("input"):
            return _error(400, "Missing required parameter: 'input'.", "input", "missing_required_parameter")
        answer = wire.embeddings(body["model"], body["input"], body.get("dimensions"), body.get("encoding_format"))
        if self.embedding_for is not None:
            self._own_embeddings(answer, body)
        if mode == "no_usage":
            del answer["usage"]
        return await self._answer(request, answer, mode)

    def _own_embeddings(self, answer: dict[str, Any], body: dict[str, Any]) -> None:
        assert self.embedding_for is not None
        inputs = body["input"]
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        for item, value in zip(answer["data"], inputs, strict=True):
            vector = [float(v) for v in self.embedding_for(value)]
            if body.get("encoding_format") == "base64":
                item["embedding"] = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                item["embedding"] = vector

    async def _models(self, request: web.Request) -> web.StreamResponse:
        _, mode, early = await self._receive(request, json_body=False)
        if early is not None:
            return early
        return await self._answer(request, {"object": "list", "data": self.models}, mode)

    async def _receive(
        self, request: web.Request, *, json_body: bool = True
    ) -> tuple[Any, str, web.StreamResponse | None]:
        """Record the request, check its key and body, and act out the modes that need no answer body.
        Returns (parsed body, this request's mode, early response or None)."""
        body = await read_json(request)
        port = (request.transport.get_extra_info("peername") or ("", 0))[1] if request.transport else 0
        self.requests.append(RecordedRequest(request.method, request.path, CIMultiDict(request.headers), body, port))
        mode = self.next_mode()
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return (
                body,
                mode,
                web.json_response(wire.scripted_error(401, self.errors), status=401, headers=_request_id()),
            )
        if json_body and not isinstance(body, dict):
            return body, mode, _error(400, "We could not parse the JSON body of your request.")
        if json_body and not body.get("model"):
            return body, mode, _error(400, "you must provide a model parameter")
        name, _, argument = mode.partition(":")
        if name == "slow":
            await self._sleep(float(argument))
        elif name == "hang":
            await self._sleep(None)
            return body, mode, web.Response(status=503)
        elif name == "reset":
            _reset(request)
            return body, mode, web.Response(status=500)  # never sent: the connection is gone
        elif name == "status":
            return body, mode, self._status(argument)
        return body, mode, None

    async def _answer(self, request: web.Request, answer: dict[str, Any], mode: str) -> web.StreamResponse:
        if mode == "garbage":
            return web.Response(body=_HTML, content_type="text/html", headers=_request_id())
        # OpenAI pretty-prints its JSON answers with two-space indents.
        payload = orjson.dumps(answer, option=orjson.OPT_INDENT_2)
        if mode == "midstream_fail":
            response = web.StreamResponse(headers={"Content-Type": "application/json", **_request_id()})
            response.content_length = len(payload)
            await response.prepare(request)
            await response.write(payload[: len(payload) // 2])
            _drop(request)
            return response
        return web.Response(body=payload, content_type="application/json", headers=_request_id())

    async def _stream(self, request: web.Request, chunks: list[dict[str, Any]], mode: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={**_SSE_HEADERS, **_request_id()})
        await response.prepare(request)
        # A client may hang up at any point (the SDK does after an error event): that ends the answer quietly.
        with contextlib.suppress(ConnectionResetError):
            await self._write_events(request, response, chunks, mode)
        return response

    async def _write_events(
        self, request: web.Request, response: web.StreamResponse, chunks: list[dict[str, Any]], mode: str
    ) -> None:
        if mode == "garbage":
            await response.write(b"data: " + _HTML + b"\n\n")
        for index, chunk in enumerate([] if mode == "garbage" else chunks):
            if index == 2 and mode == "midstream_fail":
                _drop(request)
                return
            if index == 2 and mode == "midstream_garbage":
                await response.write(b'data: {"id": "chatcmpl-broken", "choi\n\n')
                break
            if index == 2 and mode == "midstream_error":
                await response.write(b"data: " + orjson.dumps(wire.scripted_error(500, self.errors)) + b"\n\n")
                break
            await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        # The end of the body follows in a later packet, as it often does over a real network: a client must
        # read on past [DONE] to get its connection back into the pool.
        await asyncio.sleep(0.01)
        await response.write_eof()

    def _status(self, argument: str) -> web.Response:
        code, _, retry_after = argument.partition(":")
        headers = _request_id()
        if code == "429":
            headers["Retry-After"] = retry_after or "1"
        body = wire.scripted_error(int(code), self.errors)
        return web.json_response(body, status=int(code), headers=headers)

    async def _sleep(self, seconds: float | None) -> None:
        """Sleep (forever if None) but wake up when the server stops."""
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


def _request_id() -> dict[str, str]:
    return {"x-request-id": f"req_{uuid.uuid4().hex}"}


def _error(status: int, message: str, param: str | None = None, code: str | None = None) -> web.Response:
    body = wire.error_body(message, "invalid_request_error", param, code)
    return web.json_response(body, status=status, headers=_request_id())


def _reset(request: web.Request) -> None:
    """Close the connection with a TCP RST, as a crashing server or a dropping load balancer does."""
    transport = request.transport
    assert transport is not None
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _drop(request: web.Request) -> None:
    """Close the connection mid-body (a FIN, so the bytes already sent still arrive first)."""
    assert request.transport is not None
    request.transport.close()
