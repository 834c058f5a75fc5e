"""A fast fake OpenAI-compatible upstream for the benchmark: it must never be what limits a measurement.

    python bench/fake_upstream.py --port 9100 [--delay 1.0] [--impl raw|aiohttp]

Serves `POST /v1/chat/completions` (JSON with `usage`; with `"stream": true` an SSE stream of 20 content
chunks, the finish chunk, a usage chunk when `stream_options.include_usage` is set, then `data: [DONE]`)
and `GET /v1/models`, in OpenAI's wire format. `--delay` holds every answer that long (the slow-upstream row).

Two implementations answer the same bytes: `raw`, an asyncio protocol on uvloop with a minimal HTTP/1.1
parser and pre-built answers, and `aiohttp`, aiohttp.web. `raw` is the default because it measured several
times faster (the README has the numbers); `aiohttp` stays as the well-known reference to check that."""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from functools import cache

import orjson
import uvloop

WORDS = 20  # content chunks per stream
REPLY = " ".join(f"word{i}" for i in range(WORDS))
MODELS = {"object": "list", "data": [{"id": "bench-model", "object": "model", "created": 0, "owned_by": "bench"}]}
SSE_TYPE = b"text/event-stream"
JSON_TYPE = b"application/json"


def _usage(prompt: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": WORDS, "total_tokens": prompt + WORDS}


@cache
def completion_body(model: str) -> bytes:
    message = {"role": "assistant", "content": REPLY, "refusal": None}
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
            "usage": _usage(8),
        }
    )


@cache
def stream_events(model: str, include_usage: bool) -> tuple[bytes, ...]:
    """Each SSE event of one stream, as OpenAI sends them: role chunk, content chunks, finish chunk, usage."""
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": (" " if i else "") + f"word{i}"}) for i in range(WORDS)]
    chunks.append(chunk({}, "stop"))
    if include_usage:
        chunks.append({**head, "choices": [], "usage": _usage(8)})
    return (*(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks), b"data: [DONE]\n\n")


def answer_for(method: bytes, path: bytes, body: bytes) -> tuple[int, bytes, bytes | tuple[bytes, ...]]:
    """(status, content type, body) — a tuple body is sent as an event stream, one HTTP chunk per event."""
    if method == b"GET" and path == b"/v1/models":
        return 200, JSON_TYPE, orjson.dumps(MODELS)
    if method != b"POST" or path != b"/v1/chat/completions":
        return 404, JSON_TYPE, b'{"error":{"message":"not found","type":"invalid_request_error"}}'
    try:
        request = orjson.loads(body)
        model = str(request.get("model") or "bench-model")
    except (orjson.JSONDecodeError, AttributeError):
        return 400, JSON_TYPE, b'{"error":{"message":"invalid JSON","type":"invalid_request_error"}}'
    if request.get("stream"):
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        return 200, SSE_TYPE, stream_events(model, include_usage)
    return 200, JSON_TYPE, completion_body(model)


@cache
def _head(status: int, content_type: bytes, length: int | None) -> bytes:
    framing = b"Transfer-Encoding: chunked" if length is None else b"Content-Length: %d" % length
    reason = {200: b"OK", 400: b"Bad Request", 404: b"Not Found"}[status]
    return b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s\r\n\r\n" % (status, reason, content_type, framing)


def http_response(status: int, content_type: bytes, body: bytes | tuple[bytes, ...]) -> bytes:
    if isinstance(body, bytes):
        return _head(status, content_type, len(body)) + body
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in body)
    return _head(status, content_type, None) + chunks + b"0\r\n\r\n"


class RawHTTP(asyncio.Protocol):
    """HTTP/1.1 keep-alive with Content-Length bodies (what every load generator and client here sends).
    Requests on one connection are answered in order; with a delay, the next waits for the previous."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.waiting = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.waiting:
            self._serve()

    def _serve(self) -> None:
        while self.transport is not None and not self.transport.is_closing():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            at = head.lower().find(b"\ncontent-length:")
            if at >= 0:
                line_end = head.find(b"\r", at + 1)
                length = int(head[at + 16 : line_end if line_end > 0 else len(head)])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, path, _ = head.split(b" ", 2)
            payload = http_response(*answer_for(method, path.split(b"?", 1)[0], body))
            if self.delay <= 0:
                self.transport.write(payload)
                continue
            self.waiting = True
            asyncio.get_running_loop().call_later(self.delay, self._send_late, payload)
            return

    def _send_late(self, payload: bytes) -> None:
        self.waiting = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(payload)
            self._serve()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(socket.SOMAXCONN)  # 1,000 clients connect at once in the slow row
    sock.setblocking(False)
    return sock


async def serve_raw(host: str, port: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: RawHTTP(delay), sock=listening_socket(host, port), backlog=4096)
    print(f"fake upstream (raw) on http://{host}:{port}/v1 delay={delay}", flush=True)
    await server.serve_forever()


async def serve_aiohttp(host: str, port: int, delay: float) -> None:
    from aiohttp import web

    async def handle(request: web.Request) -> web.StreamResponse:
        if delay > 0:
            await asyncio.sleep(delay)
        status, content_type, body = answer_for(request.method.encode(), request.path.encode(), await request.read())
        if isinstance(body, bytes):
            return web.Response(status=status, body=body, content_type=content_type.decode())
        response = web.StreamResponse(status=status, headers={"Content-Type": content_type.decode()})
        await response.prepare(request)
        for event in body:
            await response.write(event)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, listening_socket(host, port), backlog=4096).start()
    print(f"fake upstream (aiohttp) on http://{host}:{port}/v1 delay={delay}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to hold every answer")
    parser.add_argument("--impl", choices=("raw", "aiohttp"), default="raw")
    args = parser.parse_args()
    serve = serve_raw if args.impl == "raw" else serve_aiohttp
    uvloop.run(serve(args.host, args.port, args.delay))


if __name__ == "__main__":
    main()
