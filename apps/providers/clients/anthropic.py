"""Anthropic's Messages API, behind the OpenAI-shaped ProviderClient contract.

`Upstream.base_url` is the API root as Anthropic's SDKs and `ANTHROPIC_BASE_URL` spell it,
`https://api.anthropic.com` (a trailing `/v1` is accepted too); calls go to `{root}/v1/messages` and
`{root}/v1/models`. Headers: `x-api-key`, `anthropic-version` (`options["anthropic_version"]`, default
ANTHROPIC_VERSION, the version Anthropic documents as current for the Messages API) and any
`options["headers"]` (e.g. `anthropic-beta`). `options["max_tokens"]` is the deployment's default answer length
when the caller sets none (Anthropic requires one). The translation rules are in anthropic_translate.py.
Anthropic has no embeddings API: an embeddings call is a 400 (the base class's).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from apps.providers.clients.anthropic_translate import (
    DEFAULT_MAX_TOKENS,
    StreamTranslator,
    anthropic_to_openai,
    request_to_anthropic,
)
from apps.providers.clients.base import (
    ChatResult,
    ChatStream,
    ModelInfo,
    ProviderClient,
    ProviderError,
    Upstream,
    Usage,
)
from apps.providers.clients.netguard import UNGUARDED, OutboundGuard
from apps.providers.clients.pooled import ErrorBody, PooledHTTP, json_object

ANTHROPIC_VERSION = "2023-06-01"
_PAGE = 1000  # the list endpoint's largest page


class AnthropicClient(ProviderClient):
    kind = "anthropic"

    def __init__(self, guard: OutboundGuard = UNGUARDED) -> None:
        self._http = PooledHTTP(guard)

    async def chat(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatResult:
        body = _body(upstream, request)
        answer = await self._http.json(
            "POST",
            _root(upstream) + "/v1/messages",
            body=body,
            headers=_headers(upstream),
            seconds=upstream.timeout,
            read_error=read_error,
            secret=upstream.api_key,
        )
        if answer.get("type") != "message" or not isinstance(answer.get("content"), list):
            raise ProviderError(
                "The provider's answer is not an Anthropic message.", kind="bad_response", retryable=True
            )
        completion = anthropic_to_openai(answer)
        return ChatResult(completion, Usage.from_openai(completion["usage"]))

    def chat_stream(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatStream:
        return ChatStream(self._chunks(upstream, request), request)

    async def _chunks(self, upstream: Upstream, request: Mapping[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        body = {**_body(upstream, request), "stream": True}
        translator = StreamTranslator(model=upstream.model)
        events = self._http.sse(
            _root(upstream) + "/v1/messages",
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
        finally:
            await events.aclose()
        if not translator.finished:
            raise ProviderError("The Anthropic stream ended before message_stop.", kind="connect", retryable=True)

    async def list_models(self, upstream: Upstream) -> list[ModelInfo]:
        """Every page of `GET /v1/models` (newest first), retired models left out: they can no longer be called."""
        models: list[ModelInfo] = []
        after = ""
        while True:
            query = f"?limit={_PAGE}" + (f"&after_id={after}" if after else "")
            page = await self._http.json(
                "GET",
                _root(upstream) + "/v1/models" + query,
                body=None,
                headers=_headers(upstream),
                seconds=upstream.timeout,
                read_error=read_error,
                secret=upstream.api_key,
            )
            data = page.get("data")
            if not isinstance(data, list):
                raise ProviderError(
                    "The provider's model list has no `data` list.", kind="bad_response", retryable=True
                )
            models.extend(
                ModelInfo(id=str(item["id"]), owned_by="anthropic", context_window=item.get("max_input_tokens"))
                for item in data
                if isinstance(item, dict) and item.get("id") and item.get("lifecycle") != "retired"
            )
            after = str(page.get("last_id") or "")
            if not page.get("has_more") or not after:
                return models

    async def aclose(self) -> None:
        await self._http.aclose()


def _body(upstream: Upstream, request: Mapping[str, Any]) -> dict[str, Any]:
    default = int(upstream.options.get("max_tokens") or DEFAULT_MAX_TOKENS)
    return request_to_anthropic(request, model=upstream.model, default_max_tokens=default)


def _root(upstream: Upstream) -> str:
    return upstream.base_url.rstrip("/").removesuffix("/v1")


def _headers(upstream: Upstream) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "anthropic-version": str(upstream.options.get("anthropic_version") or ANTHROPIC_VERSION),
    }
    if upstream.api_key:
        headers["x-api-key"] = upstream.api_key
    headers.update(upstream.options.get("headers") or {})
    return headers


def read_error(parsed: Any, raw: bytes) -> ErrorBody:
    """Anthropic's `{"type": "error", "error": {"type", "message"}}` → (message, type)."""
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return ErrorBody("", None)
    return ErrorBody(str(error.get("message") or ""), str(error["type"]) if error.get("type") else None)
