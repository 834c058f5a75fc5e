"""Azure OpenAI's data-plane REST API, behind the OpenAI-shaped ProviderClient contract.

`Upstream.base_url` is the resource's endpoint as the `openai` SDK's `AzureOpenAI(azure_endpoint=…)` takes it,
`https://{resource}.openai.azure.com` (a trailing `/openai` is accepted too), and `Upstream.model` is a deployment
name. Calls go where that SDK sends them: `{endpoint}/openai/deployments/{deployment}/chat/completions` and
`…/embeddings`, each with the query `api-version=options["api_version"]` (default API_VERSION, the newest GA
version of the data-plane inference API, the first with `stream_options.include_usage`). The key goes in the
`api-key` header (not `Authorization: Bearer`), plus any `options["headers"]`. Bodies, answers, SSE streams and
error envelopes are OpenAI's: the parameters are forwarded as openai_compat forwards them, `model` being the
deployment name (as the SDK sends it; Azure routes by the path).

Azure's own additions:
- content filtering. A prompt the filter blocks is a 400 whose error has `code: "content_filter"` and
  `innererror.content_filter_result` ({category: {filtered, severity}}); a completion it blocks ends with
  `finish_reason: "content_filter"` and the choice's `content_filter_results`. Both become a 400 (not retried,
  no failover: another deployment of the same policy would refuse too) whose message names the categories and
  severities, with code `content_filter`. A stream whose filtered completion already sent text cannot turn into
  a 400: its finish chunk is passed on as Azure sent it (OpenAI's `content_filter` finish reason, the categories
  in `content_filter_results`).
- a stream opens with a chunk of `prompt_filter_results` and no choices; it is dropped (it is not a completion
  chunk, and OpenAI's clients expect choices in every chunk but the usage one).
- the model list is the resource's deployments: `options["deployments"]` when the operator lists them (names, or
  {deployment: model}), else `GET {endpoint}/openai/deployments?api-version=2022-12-01`, the data-plane listing
  Azure documents for that version only (newer versions list deployments through the management plane, which
  needs Entra credentials, not a key). Each deployment's model names its price and modality.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from urllib.parse import quote

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
from apps.providers.clients.openai_compat import completion_text, openai_retry_after, read_error, stream_chunk
from apps.providers.clients.pooled import ErrorBody, PooledHTTP
from apps.providers.clients.tokens import count_input_tokens, counted

API_VERSION = "2024-10-21"
API_VERSION_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")  # Azure's versions are dates, 2025-04-01-preview
DEPLOYMENTS_API_VERSION = "2022-12-01"
CONTENT_FILTER = "content_filter"
# A listed deployment in another state (creating, failed, deleting) cannot be called.
_READY = "succeeded"


class AzureOpenAIClient(ProviderClient):
    kind = "azure_openai"

    def __init__(self, guard: OutboundGuard = UNGUARDED) -> None:
        # Azure sends OpenAI's `retry-after-ms` with its 429s, as well as `Retry-After`.
        self._http = PooledHTTP(guard, wait=openai_retry_after)

    async def chat(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatResult:
        body = {key: value for key, value in request.items() if key not in ("stream", "stream_options")}
        answer = await self._json(
            "POST", _deployment_url(upstream, "chat/completions"), upstream, _model(body, upstream)
        )
        choices = answer.get("choices")
        if not isinstance(choices, list):
            raise ProviderError("The provider's answer has no `choices` list.", kind="bad_response", retryable=True)
        for choice in choices:
            if isinstance(choice, dict) and choice.get("finish_reason") == CONTENT_FILTER:
                raise filtered("completion", choice.get("content_filter_results"))
        usage = answer.get("usage")
        if isinstance(usage, dict) and usage:
            return ChatResult(answer, Usage.from_openai(usage))
        return ChatResult(answer, await Usage.estimate(request.get("messages") or [], completion_text(answer)))

    def chat_stream(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatStream:
        body = _model({**request, "stream": True}, upstream)
        body["stream_options"] = {**(request.get("stream_options") or {}), "include_usage": True}
        return ChatStream(self._chunks(upstream, body), request)

    async def embeddings(self, upstream: Upstream, request: Mapping[str, Any]) -> EmbeddingResult:
        answer = await self._json("POST", _deployment_url(upstream, "embeddings"), upstream, _model(request, upstream))
        if not isinstance(answer.get("data"), list):
            raise ProviderError("The provider's answer has no `data` list.", kind="bad_response", retryable=True)
        usage = answer.get("usage")
        if isinstance(usage, dict) and usage:
            return EmbeddingResult(answer, Usage.from_openai(usage))
        tokens = await counted(count_input_tokens, request.get("input"))
        return EmbeddingResult(answer, Usage(tokens, estimated=True))

    async def list_models(self, upstream: Upstream) -> list[ModelInfo]:
        if configured := upstream.options.get("deployments"):
            return configured_deployments(configured)
        url = f"{_root(upstream)}/openai/deployments?api-version={DEPLOYMENTS_API_VERSION}"
        answer = await self._json("GET", url, upstream, None)
        items = answer.get("data")
        if not isinstance(items, list):
            raise ProviderError("The deployment list has no `data` list.", kind="bad_response", retryable=True)
        return [
            ModelInfo(id=str(item["id"]), owned_by="azure", base_model=str(item.get("model") or ""))
            for item in items
            if isinstance(item, dict) and item.get("id") and item.get("status", _READY) == _READY
        ]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _json(self, method: str, url: str, upstream: Upstream, body: Mapping[str, Any] | None) -> dict[str, Any]:
        try:
            return await self._http.json(
                method,
                url,
                body=body,
                headers=_headers(upstream, json_body=body is not None),
                seconds=upstream.timeout,
                read_error=read_azure_error,
                secret=upstream.api_key,
            )
        except ProviderError as exc:
            raise _refined(exc) from None

    async def _chunks(self, upstream: Upstream, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        url = _deployment_url(upstream, "chat/completions")
        events = self._http.sse(
            url,
            body=body,
            headers=_headers(upstream, json_body=True),
            seconds=upstream.timeout,
            read_error=read_azure_error,
            secret=upstream.api_key,
            last=b"[DONE]",
        )
        # Chunks that say nothing yet (the role chunk) wait for the first that does, so a completion filtered
        # before its first word is still a 400 rather than a stream that ends at once.
        held: list[dict[str, Any]] = []
        done = finished = started = False
        async with contextlib.aclosing(_refining(events)) as refined:
            async for data in refined:
                if data == b"[DONE]":
                    done = True
                    continue
                chunk = stream_chunk(data)
                choices = chunk.get("choices") or []
                if not choices and not chunk.get("usage"):
                    continue  # Azure's prompt_filter_results annotation
                reasons = [choice.get("finish_reason") for choice in choices]
                finished = finished or any(reasons)
                if not started:
                    if CONTENT_FILTER in reasons:
                        results = choices[reasons.index(CONTENT_FILTER)].get("content_filter_results")
                        raise filtered("completion", results)
                    if _blank(choices):
                        held.append(chunk)
                        continue
                    started = True
                    for waiting in held:
                        yield waiting
                yield chunk
        if not (done or finished):
            raise ProviderError(f"{_path(url)}: the stream ended before it finished", kind="connect", retryable=True)
        if not started:
            for waiting in held:
                yield waiting


def configured_deployments(configured: Any) -> list[ModelInfo]:
    """`options["deployments"]`: a list of deployment names (each named after its model) or {deployment: model}."""
    if isinstance(configured, Mapping):
        pairs = [(str(name), str(model or name)) for name, model in configured.items()]
    elif isinstance(configured, list) and all(isinstance(name, str) for name in configured):
        pairs = [(name, name) for name in configured]
    else:
        raise ProviderError(
            "options.deployments must be a list of deployment names or an object {deployment: model}.",
            kind="bad_request",
            retryable=False,
            param="options.deployments",
        )
    return [ModelInfo(id=name, owned_by="azure", base_model=model) for name, model in pairs if name]


def filtered(what: str, results: Any) -> ProviderError:
    """Azure's content filter refused the prompt or the completion: a 400 naming the categories that tripped it."""
    return ProviderError(
        f"Azure OpenAI's content filter blocked the {what}: {filter_reasons(results)}.",
        kind="bad_request",
        retryable=False,
        status=400,
        param="messages" if what == "prompt" else None,
        code=CONTENT_FILTER,
        error_type="invalid_request_error",
    )


def filter_reasons(results: Any) -> str:
    """`hate (severity high), jailbreak (detected)` from a content_filter_result(s) object."""
    reasons = []
    for category, verdict in (results or {}).items() if isinstance(results, Mapping) else ():
        if not isinstance(verdict, Mapping) or not verdict.get("filtered"):
            continue
        if severity := verdict.get("severity"):
            reasons.append(f"{category} (severity {severity})")
        elif verdict.get("detected"):
            reasons.append(f"{category} (detected)")
        else:
            reasons.append(str(category))
    return ", ".join(reasons) or "no category given"


def read_azure_error(parsed: Any, raw: bytes) -> ErrorBody:
    """OpenAI's error envelope as Azure fills it; a content-filter refusal says which categories and severities."""
    said = read_error(parsed, raw)
    if said.code != CONTENT_FILTER:
        return said
    inner = parsed["error"].get("innererror") or {}
    refused = filtered("prompt", inner.get("content_filter_result") if isinstance(inner, Mapping) else None)
    return ErrorBody(refused.message, refused.error_type, param=refused.param, code=CONTENT_FILTER)


def _refined(exc: ProviderError) -> ProviderError:
    """Azure answers an api-version it does not serve with a 400: the deployment's misconfiguration, not the
    caller's request, so it moves on to the next deployment (as its 404 for a version lacking the operation does)."""
    if exc.kind == "bad_request" and exc.code == "BadRequest" and "API version" in exc.message:
        exc.kind, exc.retryable = "not_found", False
    return exc


async def _refining(events: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    try:
        async for data in events:
            yield data
    except ProviderError as exc:
        raise _refined(exc) from None
    finally:
        await events.aclose()


def _blank(choices: list[dict[str, Any]]) -> bool:
    """Whether a chunk's choices carry neither text, a tool call nor a finish reason (a role chunk)."""
    return all(
        not (choice.get("delta") or {}).get("content")
        and not (choice.get("delta") or {}).get("tool_calls")
        and not choice.get("finish_reason")
        for choice in choices
    )


def _model(body: Mapping[str, Any], upstream: Upstream) -> dict[str, Any]:
    return {**body, "model": upstream.model}


def _root(upstream: Upstream) -> str:
    return upstream.base_url.rstrip("/").removesuffix("/openai")


def _deployment_url(upstream: Upstream, operation: str) -> str:
    version = quote(str(upstream.options.get("api_version") or API_VERSION), safe="")
    return f"{_root(upstream)}/openai/deployments/{quote(upstream.model, safe='')}/{operation}?api-version={version}"


def _path(url: str) -> str:
    return url.split("?", 1)[0]


def _headers(upstream: Upstream, *, json_body: bool) -> dict[str, str]:
    headers = {"Content-Type": "application/json"} if json_body else {}
    if upstream.api_key:
        headers["api-key"] = upstream.api_key
    headers.update(upstream.options.get("headers") or {})
    return headers
