"""Any server that speaks OpenAI's HTTP API: OpenAI, Ollama, vLLM, llama.cpp, Mistral, Groq, DeepSeek, OpenRouter.

`Upstream.base_url` is the API root including its version, e.g. `https://api.openai.com/v1` or
`http://localhost:11434/v1`; calls go to `{base}/chat/completions`, `{base}/embeddings` and `{base}/models`.
`Authorization: Bearer <api_key>` is sent when there is a key (a local Ollama needs none), plus any
`options["headers"]` (e.g. `OpenAI-Organization`, OpenRouter's `HTTP-Referer`).

Parameters: this adapter forwards every parameter of the request unchanged, including ones outside OpenAI's
schema (vLLM's `top_k` or `guided_json`, Ollama's `options`…), because these servers take the same wire
format and each extends it; rejecting what we do not know would hide the features users pick them for.
Only `model` is replaced by the deployment's `Upstream.model`, and `stream`/`stream_options` are set by
the call (a stream always asks for usage, so the gateway can meter it).

Transport: one pooled aiohttp session per client instance (PERFORMANCE.md: under 64 concurrent requests
aiohttp keeps ~90 % of its throughput where httpx keeps ~50 %). The session is created in the running
event loop on first use. An aiohttp session cannot outlive its loop, so an instance used from another loop
(a sync caller's second `asyncio.run`) starts a new session there; the old one's idle sockets can no longer
be closed properly and are freed when garbage-collected (with a ResourceWarning, hidden by default). Keep
one instance per long-lived loop, and `aclose()` it in that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
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
from apps.providers.clients.netguard import UNGUARDED, OutboundGuard
from apps.providers.clients.sse import SSEDecoder
from apps.providers.clients.tokens import count_input_tokens, counted

# Servers end the body right after `data: [DONE]`, but that end may arrive a packet later; reading it lets
# the connection go back to the pool. A server that keeps the body open is cut off after this long.
_DRAIN_SECONDS = 1.0
_KEEPALIVE_SECONDS = 30.0
_ERROR_SNIPPET = 300


class OpenAICompatibleClient(ProviderClient):
    kind = "openai"

    def __init__(self, guard: OutboundGuard = UNGUARDED) -> None:
        self._guard = guard  # where its sessions may connect (apps/providers/clients/netguard.py)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def chat(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatResult:
        body = {key: value for key, value in request.items() if key not in ("stream", "stream_options")}
        body["model"] = upstream.model
        answer = await self._call(upstream, "POST", "/chat/completions", body)
        if not isinstance(answer.get("choices"), list):
            raise ProviderError("The provider's answer has no `choices` list.", kind="bad_response", retryable=True)
        usage = answer.get("usage")
        if isinstance(usage, dict) and usage:
            return ChatResult(answer, Usage.from_openai(usage))
        return ChatResult(answer, await Usage.estimate(request.get("messages") or [], _completion_text(answer)))

    def chat_stream(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatStream:
        stream_options = request.get("stream_options") or {}
        body = {**request, "model": upstream.model, "stream": True}
        body["stream_options"] = {**stream_options, "include_usage": True}
        return ChatStream(self._stream(upstream, body), request)

    async def embeddings(self, upstream: Upstream, request: Mapping[str, Any]) -> EmbeddingResult:
        answer = await self._call(upstream, "POST", "/embeddings", {**request, "model": upstream.model})
        if not isinstance(answer.get("data"), list):
            raise ProviderError("The provider's answer has no `data` list.", kind="bad_response", retryable=True)
        usage = answer.get("usage")
        if isinstance(usage, dict) and usage:
            return EmbeddingResult(answer, Usage.from_openai(usage))
        tokens = await counted(count_input_tokens, request.get("input"))
        return EmbeddingResult(answer, Usage(tokens, estimated=True))

    async def list_models(self, upstream: Upstream) -> list[ModelInfo]:
        answer = await self._call(upstream, "GET", "/models", None)
        models = answer.get("data")
        if not isinstance(models, list):
            raise ProviderError("The provider's model list has no `data` list.", kind="bad_response", retryable=True)
        # OpenAI lists no context window; vLLM says max_model_len, OpenRouter context_length.
        return [
            ModelInfo(
                id=str(model["id"]),
                owned_by=str(model.get("owned_by") or ""),
                context_window=model.get("context_length") or model.get("max_model_len"),
            )
            for model in models
            if isinstance(model, dict) and model.get("id")
        ]

    async def aclose(self) -> None:
        # A session from a loop that has ended cannot be closed from this one (see the module docstring).
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # No pool limit: the router's concurrency policies bound the load, and a limit here would only
            # queue requests silently, eating into their timeout.
            self._session = self._guard.session(limit=0, keepalive_timeout=_KEEPALIVE_SECONDS)
            self._loop = loop
        return self._session

    async def _call(self, upstream: Upstream, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """One request answered with a JSON object; every failure becomes a ProviderError."""
        url = upstream.base_url.rstrip("/") + path
        try:
            async with self._http().request(
                method,
                url,
                data=None if body is None else orjson.dumps(body),
                headers=_headers(upstream, json_body=body is not None),
                timeout=aiohttp.ClientTimeout(total=upstream.timeout),
            ) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise _status_error(response.status, response.headers, raw)
        except TimeoutError as exc:
            raise _timeout(url, upstream) from exc
        except aiohttp.ClientError as exc:
            raise _connect(url, exc) from exc
        return _json_object(raw)

    async def _stream(self, upstream: Upstream, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        url = upstream.base_url.rstrip("/") + "/chat/completions"
        # A stream may rightly run for minutes, so upstream.timeout bounds the wait for the answer to start
        # (connect, send, headers) and then each silence between two pieces of the body, not the whole.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=upstream.timeout, sock_read=upstream.timeout)
        try:
            async with asyncio.timeout(upstream.timeout):
                response = await self._http().post(
                    url, data=orjson.dumps(body), headers=_headers(upstream, json_body=True), timeout=timeout
                )
            async with response, contextlib.aclosing(_sse_payloads(response)) as payloads:
                if response.status >= 400:
                    raise _status_error(response.status, response.headers, await response.read())
                done = finished = False
                chunks = 0
                async for data in payloads:
                    if data == b"[DONE]":
                        done = True
                        continue
                    chunk = _chunk(data)
                    finished = finished or any(choice.get("finish_reason") for choice in chunk.get("choices") or ())
                    chunks += 1
                    yield chunk
                if not chunks:
                    raise ProviderError(
                        f"{url}: the answer is not an event stream", kind="bad_response", retryable=True
                    )
                if not (done or finished):
                    raise ProviderError(f"{url}: the stream ended before it finished", kind="connect", retryable=True)
        except TimeoutError as exc:
            raise _timeout(url, upstream) from exc
        except aiohttp.ClientError as exc:
            raise _connect(url, exc) from exc


def _headers(upstream: Upstream, *, json_body: bool) -> dict[str, str]:
    headers = {"Content-Type": "application/json"} if json_body else {}
    if upstream.api_key:
        headers["Authorization"] = f"Bearer {upstream.api_key}"
    headers.update(upstream.options.get("headers") or {})
    return headers


async def _sse_payloads(response: aiohttp.ClientResponse) -> AsyncGenerator[bytes, None]:
    """The data of each event, `[DONE]` included; after `[DONE]` the rest of the body is read (and ignored)
    while the caller finishes, so the connection can go back to the pool."""
    decoder = SSEDecoder()
    async for piece in response.content.iter_any():
        for data in decoder.feed(piece):
            yield data
            if data == b"[DONE]":
                with contextlib.suppress(TimeoutError, aiohttp.ClientError):
                    async with asyncio.timeout(_DRAIN_SECONDS):
                        await response.read()
                return
    for data in decoder.close():
        yield data


def _chunk(data: bytes) -> dict[str, Any]:
    chunk = _json_object(data)
    if "error" in chunk:  # OpenAI reports a failure during a stream as an event carrying its error envelope
        error = _error_fields(chunk)
        raise ProviderError(error["message"], kind="server_error", retryable=True, **_error_details(error))
    return chunk


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        snippet = raw[:_ERROR_SNIPPET].decode("utf-8", "replace")
        raise ProviderError(
            f"The provider sent something other than a JSON object: {snippet!r}", kind="bad_response", retryable=True
        )
    return value


def _status_error(status: int, headers: Mapping[str, str], raw: bytes) -> ProviderError:
    try:
        error = _error_fields(orjson.loads(raw))
    except orjson.JSONDecodeError:
        error = _error_fields(None)
    message = error["message"] or f"HTTP {status}: {raw[:_ERROR_SNIPPET].decode('utf-8', 'replace')}"
    fields = {"status": status, **_error_details(error)}
    if status == 429:
        return ProviderError(message, kind="rate_limited", retryable=True, retry_after=_retry_after(headers), **fields)
    if status == 408 or status >= 500:
        kind = "timeout" if status == 408 else "server_error"
        return ProviderError(message, kind=kind, retryable=True, retry_after=_retry_after(headers), **fields)
    if status in (401, 403):
        return ProviderError(message, kind="auth", retryable=False, **fields)
    if status == 404:
        return ProviderError(message, kind="not_found", retryable=False, **fields)
    return ProviderError(message, kind="bad_request", retryable=False, **fields)


def _error_fields(body: Any) -> dict[str, Any]:
    """message/param/code/type from OpenAI's `{"error": {...}}` envelope, or from the `{"error": "text"}` that
    Ollama and some proxies send."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return {"message": error, "param": None, "code": None, "type": None}
    if not isinstance(error, dict):
        return {"message": "", "param": None, "code": None, "type": None}
    return {
        "message": str(error.get("message") or ""),
        "param": _text(error.get("param")),
        "code": _text(error.get("code")),
        "type": _text(error.get("type")),
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _error_details(error: dict[str, Any]) -> dict[str, Any]:
    """ProviderError's keywords for what the provider's error body said."""
    return {"param": error["param"], "code": error["code"], "error_type": error["type"]}


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from OpenAI's `retry-after-ms` or the standard `Retry-After` (seconds or a date)."""
    if milliseconds := headers.get("retry-after-ms"):
        with contextlib.suppress(ValueError):
            return max(float(milliseconds) / 1000, 0.0)
    value = headers.get("Retry-After")
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(float(value), 0.0)
    with contextlib.suppress(TypeError, ValueError):
        when = parsedate_to_datetime(value)
        return max((when - datetime.now(UTC)).total_seconds(), 0.0)
    return None


def _completion_text(answer: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for choice in answer["choices"]:
        message = (choice.get("message") if isinstance(choice, dict) else None) or {}
        if isinstance(message.get("content"), str):
            parts.append(message["content"])
        for call in message.get("tool_calls") or ():
            function = call.get("function") or call.get("custom") or {}
            parts.extend((function.get("name") or "", function.get("arguments") or function.get("input") or ""))
    return "".join(parts)


def _timeout(url: str, upstream: Upstream) -> ProviderError:
    return ProviderError(f"{url}: no answer within {upstream.timeout:g} s", kind="timeout", retryable=True)


def _connect(url: str, exc: Exception) -> ProviderError:
    return ProviderError(f"{url}: connection failed ({exc.__class__.__name__}: {exc})", kind="connect", retryable=True)
