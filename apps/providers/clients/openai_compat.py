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

Transport (pooled.py): one pooled aiohttp session per client instance (README, "Performance": 50-100x httpx's
requests/s at 64 in flight). The session is created in the running
event loop on first use. An aiohttp session cannot outlive its loop, so an instance used from another loop
(a sync caller's second `asyncio.run`) starts a new session there; the old one's idle sockets can no longer
be closed properly and are freed when garbage-collected (with a ResourceWarning, hidden by default). Keep
one instance per long-lived loop, and `aclose()` it in that loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Mapping
from typing import Any

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
from apps.providers.clients.pooled import ErrorBody, PooledHTTP, json_object, retry_after
from apps.providers.clients.tokens import count_input_tokens, counted


class OpenAICompatibleClient(ProviderClient):
    kind = "openai"

    def __init__(self, guard: OutboundGuard = UNGUARDED) -> None:
        # `guard`: where its sessions may connect (apps/providers/clients/netguard.py)
        self._http = PooledHTTP(guard, wait=openai_retry_after)

    async def chat(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatResult:
        body = {key: value for key, value in request.items() if key not in ("stream", "stream_options")}
        body["model"] = upstream.model
        answer = await self._call(upstream, "POST", "/chat/completions", body)
        if not isinstance(answer.get("choices"), list):
            raise ProviderError("The provider's answer has no `choices` list.", kind="bad_response", retryable=True)
        usage = answer.get("usage")
        if isinstance(usage, dict) and usage:
            return ChatResult(answer, Usage.from_openai(usage))
        return ChatResult(answer, await Usage.estimate(request.get("messages") or [], completion_text(answer)))

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
        await self._http.aclose()

    async def _call(self, upstream: Upstream, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """One request answered with a JSON object; every failure becomes a ProviderError."""
        return await self._http.json(
            method,
            upstream.base_url.rstrip("/") + path,
            body=body,
            headers=_headers(upstream, json_body=body is not None),
            seconds=upstream.timeout,
            read_error=read_error,
            secret="",
        )

    async def _stream(self, upstream: Upstream, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        url = upstream.base_url.rstrip("/") + "/chat/completions"
        events = self._http.sse(
            url,
            body=body,
            headers=_headers(upstream, json_body=True),
            seconds=upstream.timeout,
            read_error=read_error,
            secret="",
            last=b"[DONE]",
        )
        async with contextlib.aclosing(events):
            done = finished = False
            chunks = 0
            async for data in events:
                if data == b"[DONE]":
                    done = True
                    continue
                chunk = stream_chunk(data)
                finished = finished or any(choice.get("finish_reason") for choice in chunk.get("choices") or ())
                chunks += 1
                yield chunk
        if not chunks:
            raise ProviderError(f"{url}: the answer is not an event stream", kind="bad_response", retryable=True)
        if not (done or finished):
            raise ProviderError(f"{url}: the stream ended before it finished", kind="connect", retryable=True)


def _headers(upstream: Upstream, *, json_body: bool) -> dict[str, str]:
    headers = {"Content-Type": "application/json"} if json_body else {}
    if upstream.api_key:
        headers["Authorization"] = f"Bearer {upstream.api_key}"
    headers.update(upstream.options.get("headers") or {})
    return headers


def stream_chunk(data: bytes) -> dict[str, Any]:
    chunk = json_object(data)
    if "error" in chunk:  # OpenAI reports a failure during a stream as an event carrying its error envelope
        error = read_error(chunk, data)
        raise ProviderError(
            error.message,
            kind="server_error",
            retryable=True,
            param=error.param,
            code=error.code,
            error_type=error.error_type,
        )
    return chunk


def read_error(body: Any, raw: bytes) -> ErrorBody:
    """message/type/param/code from OpenAI's `{"error": {...}}` envelope, or from the `{"error": "text"}` that
    Ollama and some proxies send."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return ErrorBody(error, None)
    if not isinstance(error, dict):
        return ErrorBody("", None)
    return ErrorBody(
        str(error.get("message") or ""),
        _text(error.get("type")),
        param=_text(error.get("param")),
        code=_text(error.get("code")),
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def openai_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from OpenAI's `retry-after-ms` or the standard `Retry-After` (seconds or a date)."""
    if milliseconds := headers.get("retry-after-ms"):
        with contextlib.suppress(ValueError):
            return max(float(milliseconds) / 1000, 0.0)
    return retry_after(headers)


def completion_text(answer: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for choice in answer["choices"]:
        message = (choice.get("message") if isinstance(choice, dict) else None) or {}
        if isinstance(message.get("content"), str):
            parts.append(message["content"])
        for call in message.get("tool_calls") or ():
            function = call.get("function") or call.get("custom") or {}
            parts.extend((function.get("name") or "", function.get("arguments") or function.get("input") or ""))
    return "".join(parts)
