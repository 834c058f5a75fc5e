"""Google AI's Gemini API (generativelanguage.googleapis.com), behind the OpenAI-shaped ProviderClient contract.

`Upstream.base_url` is the API root as Google's SDK takes it, `https://generativelanguage.googleapis.com` (a
trailing `/v1beta` or `/v1` is accepted too); calls go to `{root}/{version}/models/{model}:generateContent`,
`:streamGenerateContent?alt=sse`, `:batchEmbedContents` and `GET {root}/{version}/models`, where version is
`options["api_version"]` (default `v1beta`, where tools, system instructions and response schemas live). The key
goes in the `x-goog-api-key` header (never the URL, which ends up in logs), plus any `options["headers"]`.
The translation rules are in gemini_translate.py and gemini_schema.py.

Errors are Google's `{"error": {"code", "message", "status"}}`: RESOURCE_EXHAUSTED (429) and 5xx are retryable,
INVALID_ARGUMENT (400) is passed on, PERMISSION_DENIED/UNAUTHENTICATED and NOT_FOUND move on to the next
deployment. Google answers a wrong key with 400 INVALID_ARGUMENT and the reason API_KEY_INVALID: that one is
the deployment's misconfiguration too, not the caller's request.
"""

from __future__ import annotations

import base64
import struct
import uuid
from collections.abc import AsyncGenerator, Mapping
from typing import Any

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
from apps.providers.clients.gemini_translate import (
    candidate_parts,
    finish_reason,
    gemini_to_openai,
    request_to_gemini,
    usage_to_openai,
)
from apps.providers.clients.netguard import UNGUARDED, OutboundGuard
from apps.providers.clients.openai_side import chunk_envelope
from apps.providers.clients.pooled import ErrorBody, PooledHTTP, json_object
from apps.providers.clients.tokens import count_input_tokens, counted

API_VERSION = "v1beta"
_PAGE = 1000  # the list endpoint's largest page
_SERVED = frozenset({"generateContent", "embedContent", "batchEmbedContents"})
_BAD_KEY = "API_KEY_INVALID"


class GeminiClient(ProviderClient):
    kind = "gemini"

    def __init__(self, guard: OutboundGuard = UNGUARDED) -> None:
        self._http = PooledHTTP(guard)

    async def chat(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatResult:
        answer = await self._json("POST", _model_url(upstream, "generateContent"), upstream, request_to_gemini(request))
        if not isinstance(answer.get("candidates"), list) and not (answer.get("promptFeedback") or {}).get(
            "blockReason"
        ):
            raise ProviderError("The provider's answer has no `candidates` list.", kind="bad_response", retryable=True)
        first_only = request.get("parallel_tool_calls") is False
        completion = gemini_to_openai(answer, model=upstream.model, first_call_only=first_only)
        return ChatResult(completion, Usage.from_openai(completion["usage"]))

    def chat_stream(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatStream:
        return ChatStream(self._chunks(upstream, request), request)

    async def _chunks(self, upstream: Upstream, request: Mapping[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        body = request_to_gemini(request)  # a refusal raises before anything is sent
        translator = StreamTranslator(model=upstream.model, first_call_only=request.get("parallel_tool_calls") is False)
        events = self._http.sse(
            _model_url(upstream, "streamGenerateContent") + "?alt=sse",
            body=body,
            headers=_headers(upstream),
            seconds=upstream.timeout,
            read_error=read_error,
            secret=upstream.api_key,
        )
        try:
            async for data in events:
                for chunk in translator.feed(json_object(data)):
                    yield chunk
        except ProviderError as exc:
            raise _refined(exc) from None
        finally:
            await events.aclose()
        if not translator.finished:
            raise ProviderError("The Gemini stream ended before a finishReason.", kind="connect", retryable=True)
        if usage := translator.usage_chunk():
            yield usage

    async def embeddings(self, upstream: Upstream, request: Mapping[str, Any]) -> EmbeddingResult:
        texts = _texts(request.get("input"))
        model = _model_path(upstream)
        extra = {"outputDimensionality": request["dimensions"]} if request.get("dimensions") else {}
        body = {"requests": [{"model": model, "content": {"parts": [{"text": text}]}, **extra} for text in texts]}
        answer = await self._json("POST", _model_url(upstream, "batchEmbedContents"), upstream, body)
        vectors = answer.get("embeddings")
        if (
            not isinstance(vectors, list)
            or len(vectors) != len(texts)
            or not all(isinstance(item, dict) and isinstance(item.get("values"), list) for item in vectors)
        ):
            raise ProviderError(
                "The provider's answer has no embedding for each input.", kind="bad_response", retryable=True
            )
        as_base64 = request.get("encoding_format") == "base64"
        data = [
            {"object": "embedding", "index": index, "embedding": _encoded(item["values"], as_base64)}
            for index, item in enumerate(vectors)
        ]
        # batchEmbedContents reports no usage: counted by the gateway and flagged as estimated.
        usage = Usage(await counted(count_input_tokens, texts), estimated=True)
        tokens = {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens}
        return EmbeddingResult({"object": "list", "data": data, "model": upstream.model, "usage": tokens}, usage)

    async def list_models(self, upstream: Upstream) -> list[ModelInfo]:
        """Every page of `GET /models` (pageToken), only the models that chat or embed, ids without `models/`."""
        models: list[ModelInfo] = []
        token = ""
        while True:
            query = f"?pageSize={_PAGE}" + (f"&pageToken={token}" if token else "")
            page = await self._json("GET", f"{_root(upstream)}/models{query}", upstream, None)
            items = page.get("models", [])
            if not isinstance(items, list):
                raise ProviderError(
                    "The provider's model list has no `models` list.", kind="bad_response", retryable=True
                )
            models.extend(
                ModelInfo(
                    id=str(item["name"]).removeprefix("models/"),
                    owned_by="google",
                    context_window=item.get("inputTokenLimit"),
                )
                for item in items
                if isinstance(item, dict)
                and item.get("name")
                and _SERVED & set(item.get("supportedGenerationMethods") or ())
            )
            token = str(page.get("nextPageToken") or "")
            if not token:
                return models

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _json(self, method: str, url: str, upstream: Upstream, body: Mapping[str, Any] | None) -> dict[str, Any]:
        try:
            return await self._http.json(
                method,
                url,
                body=body,
                headers=_headers(upstream),
                seconds=upstream.timeout,
                read_error=read_error,
                secret=upstream.api_key,
            )
        except ProviderError as exc:
            raise _refined(exc) from None


class StreamTranslator:
    """Gemini's streamed GenerateContentResponses (each `data` event one) → OpenAI `chat.completion.chunk` dicts.

    A candidate's first appearance gives its role chunk; text parts are already deltas; a functionCall arrives
    whole, so it becomes one tool_calls delta with index, id, name and all its arguments; a finishReason gives
    the finish chunk. usageMetadata is cumulative: the last one is the usage chunk (`choices: []`) that
    `usage_chunk` returns once the stream ended. An `{"error": …}` event raises ProviderError."""

    def __init__(self, *, model: str, first_call_only: bool = False, created: int | None = None) -> None:
        self.finished = False
        self._first_call_only = first_call_only
        self._response_id = ""
        self._envelope = chunk_envelope(model=model, created=created)
        self._usage: Mapping[str, Any] = {}
        self._calls: dict[int, int] = {}  # candidate index -> tool calls passed on so far

    def feed(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        if isinstance(event.get("error"), Mapping):
            raise stream_error(event["error"])
        if not self._response_id:
            self._response_id = str(event.get("responseId") or uuid.uuid4().hex)
            self._envelope["id"] = f"chatcmpl-{self._response_id}"
        self._envelope["model"] = event.get("modelVersion") or self._envelope["model"]
        self._usage = event.get("usageMetadata") or self._usage
        candidates = event.get("candidates") or []
        if not candidates and (event.get("promptFeedback") or {}).get("blockReason"):
            self.finished = True
            return [self._chunk(0, {"role": "assistant", "content": ""}), self._chunk(0, {}, "content_filter")]
        chunks: list[dict[str, Any]] = []
        for candidate in candidates:
            chunks.extend(self._candidate(candidate))
        return chunks

    def _candidate(self, candidate: Mapping[str, Any]) -> list[dict[str, Any]]:
        index = int(candidate.get("index") or 0)
        chunks = []
        if index not in self._calls:
            self._calls[index] = 0
            chunks.append(self._chunk(index, {"role": "assistant", "content": ""}))
        before = self._calls[index]
        text, calls = candidate_parts(
            candidate, self._response_id, first_call_only=self._first_call_only, calls_before=before
        )
        if text:
            chunks.append(self._chunk(index, {"content": text}))
        if calls:
            self._calls[index] += len(calls)
            chunks.append(
                self._chunk(index, {"tool_calls": [{"index": before + n, **call} for n, call in enumerate(calls)]})
            )
        if reason := candidate.get("finishReason"):
            self.finished = True
            chunks.append(self._chunk(index, {}, finish_reason(reason, called=self._calls[index] > 0)))
        return chunks

    def usage_chunk(self) -> dict[str, Any] | None:
        return {**self._envelope, "choices": [], "usage": usage_to_openai(self._usage)} if self._usage else None

    def _chunk(self, index: int, delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": reason}
        return {**self._envelope, "choices": [choice]}


def read_error(parsed: Any, raw: bytes) -> ErrorBody:
    """Google's `{"error": {"code", "message", "status", "details"}}` → (message, status, or API_KEY_INVALID)."""
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]  # a streamed call without alt=sse answers errors in an array
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return ErrorBody("", None)
    reasons = {str(detail.get("reason")) for detail in error.get("details") or () if isinstance(detail, dict)}
    status = _BAD_KEY if _BAD_KEY in reasons else (str(error["status"]) if error.get("status") else None)
    return ErrorBody(str(error.get("message") or ""), status)


def stream_error(error: Mapping[str, Any]) -> ProviderError:
    """An error event mid-stream, by Google's status."""
    status = str(error.get("status") or "")
    message = str(error.get("message") or status or "The Gemini stream failed.")
    if status == "RESOURCE_EXHAUSTED":
        return ProviderError(message, kind="rate_limited", retryable=True, error_type=status)
    if status in ("UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", ""):
        return ProviderError(message, kind="server_error", retryable=True, error_type=status or None)
    return ProviderError(message, kind="bad_request", retryable=False, error_type=status)


def _refined(exc: ProviderError) -> ProviderError:
    if exc.error_type == _BAD_KEY and exc.kind == "bad_request":
        exc.kind, exc.retryable = "auth", False
    return exc


def _texts(inputs: Any) -> list[str]:
    if isinstance(inputs, str):
        return [inputs]
    if isinstance(inputs, list) and all(isinstance(item, str) for item in inputs):
        return list(inputs)
    raise UnsupportedParameter("input", "Gemini embeds text: send a string or an array of strings, not token ids.")


def _encoded(values: list[float], as_base64: bool) -> list[float] | str:
    """OpenAI's base64 encoding is the little-endian float32 bytes of the vector (the OpenAI SDK asks for it)."""
    if not as_base64:
        return values
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def _root(upstream: Upstream) -> str:
    base = upstream.base_url.rstrip("/").removesuffix("/v1beta").removesuffix("/v1")
    return f"{base}/{upstream.options.get('api_version') or API_VERSION}"


def _model_path(upstream: Upstream) -> str:
    model = upstream.model
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"


def _model_url(upstream: Upstream, method: str) -> str:
    return f"{_root(upstream)}/{_model_path(upstream)}:{method}"


def _headers(upstream: Upstream) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if upstream.api_key:
        headers["x-goog-api-key"] = upstream.api_key
    headers.update(upstream.options.get("headers") or {})
    return headers
