"""The contract every provider client keeps (healthchecks' Transport, for LLM providers).

The gateway speaks one unified format: OpenAI's chat-completions and embeddings schemas, as plain dicts
(already validated at the edge). A client translates that to its provider's wire format and back, streams
SSE through as OpenAI `chat.completion.chunk` dicts, and reports usage. Failures raise ProviderError, whose
`retryable` flag drives retry and failover in the router.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from apps.providers.clients.tokens import count_message_tokens, count_tokens, counted


@dataclass(frozen=True, slots=True)
class Upstream:
    """One deployment to call: where, with which credential, which upstream model, how long to wait."""

    base_url: str
    api_key: str = field(repr=False)
    model: str
    timeout: float = 60.0
    options: Mapping[str, Any] = field(default_factory=dict)  # kind-specific: api_version, extra headers…


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False  # counted by the gateway because the provider reported none
    # Of prompt_tokens, those the provider read from its prompt cache (billed at the cached-input price).
    cached_prompt_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: Mapping[str, Any]) -> Usage:
        """Read OpenAI's `usage` object (embeddings report only prompt_tokens). The kinds that speak another
        format translate theirs to it first, cached prompt tokens in `prompt_tokens_details.cached_tokens`."""
        prompt = int(usage.get("prompt_tokens") or 0)
        details = usage.get("prompt_tokens_details")
        cached = int(details.get("cached_tokens") or 0) if isinstance(details, Mapping) else 0
        # A part of the prompt: never more than it, whatever an upstream claims.
        return cls(prompt, int(usage.get("completion_tokens") or 0), cached_prompt_tokens=min(max(cached, 0), prompt))

    @classmethod
    async def estimate(cls, messages: Iterable[Mapping[str, Any]], completion_text: str) -> Usage:
        """Counted by the gateway (off the event loop when long), flagged as estimated."""
        return await counted(cls._estimate_now, messages, completion_text)

    @classmethod
    def _estimate_now(cls, messages: Iterable[Mapping[str, Any]], completion_text: str) -> Usage:
        return cls(count_message_tokens(messages), count_tokens(completion_text), estimated=True)

    def to_openai(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(slots=True)
class ChatResult:
    """A complete chat.completion body in OpenAI's format, and its usage."""

    body: dict[str, Any]
    usage: Usage


@dataclass(slots=True)
class EmbeddingResult:
    body: dict[str, Any]
    usage: Usage


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    owned_by: str = ""
    context_window: int | None = None
    base_model: str = ""  # the model a deployment serves when `id` names the deployment (Azure): prices, modality


class ProviderError(Exception):
    """The provider could not answer.

    kind: "timeout", "connect", "rate_limited", "server_error", "bad_request", "auth", "not_found",
    "bad_response". `retryable` says whether another attempt (same or next deployment) may succeed; it is
    always False once a stream has yielded a chunk. `status` is the provider's HTTP status when there was
    one; `param`, `code` and `error_type` come from the provider's error body, so the edge can pass a 400 on
    faithfully."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
        param: str | None = None,
        code: str | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.param = param
        self.code = code
        self.error_type = error_type


class UnsupportedParameter(ProviderError):
    """A request parameter (or value of one) this provider kind cannot take: a 400 naming it, never a silent
    drop, and no failover (the caller's request is what cannot be served as asked)."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(
            f"Unsupported parameter '{param}': {reason}",
            kind="bad_request",
            retryable=False,
            param=param,
            code="unsupported_parameter",
            error_type="invalid_request_error",
        )


class ChatStream:
    """What `chat_stream` returns: an async iterator of OpenAI `chat.completion.chunk` dicts.

    It wraps a client's translated chunks and keeps the promises every kind shares, so no client repeats
    them: the last chunk carries `usage` (when the provider sent none, a final `choices: []` chunk with an
    estimate is added), `.usage` holds it once the stream is exhausted (`estimated` tells which), and an
    error after the first chunk is marked not retryable because bytes already went to the caller's client.
    Call `aclose()` when abandoning the stream early; it releases the upstream connection."""

    def __init__(self, chunks: AsyncGenerator[dict[str, Any], None], request: Mapping[str, Any]) -> None:
        self.usage: Usage | None = None
        self._chunks = chunks
        self._iterator = self._run(request)

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        await self._iterator.aclose()

    async def _run(self, request: Mapping[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        text: list[str] = []
        last: dict[str, Any] = {}
        try:
            async for chunk in self._chunks:
                if chunk.get("usage"):
                    self.usage = Usage.from_openai(chunk["usage"])
                _collect_delta_text(chunk, text)
                last = chunk
                yield chunk
        except ProviderError as exc:
            if last:
                exc.retryable = False
            raise
        finally:
            await self._chunks.aclose()
        if self.usage is None:
            self.usage = await Usage.estimate(request.get("messages") or [], "".join(text))
            yield {
                "id": last.get("id") or f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion.chunk",
                "created": last.get("created", 0),
                "model": last.get("model", request.get("model", "")),
                "choices": [],
                "usage": self.usage.to_openai(),
            }


def _collect_delta_text(chunk: Mapping[str, Any], into: list[str]) -> None:
    """The generated text of a chunk (content, tool-call arguments, custom tools' input), for estimating usage."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if content := delta.get("content"):
            into.append(content)
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or call.get("custom") or {}
            into.append(function.get("name") or "")
            into.append(function.get("arguments") or function.get("input") or "")


class ProviderClient(ABC):
    """One instance per provider per process; it owns a pooled HTTP connection to that provider."""

    kind: ClassVar[str]

    @abstractmethod
    async def chat(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatResult: ...

    @abstractmethod
    def chat_stream(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatStream:
        """Stream OpenAI `chat.completion.chunk` dicts (see ChatStream). Nothing is sent upstream until the
        first `__anext__`; errors then raise ProviderError, before or after the first chunk."""

    async def embeddings(self, upstream: Upstream, request: Mapping[str, Any]) -> EmbeddingResult:
        raise ProviderError(f"{self.kind} deployments do not serve embeddings", kind="bad_request", retryable=False)

    @abstractmethod
    async def list_models(self, upstream: Upstream) -> list[ModelInfo]: ...

    async def aclose(self) -> None:  # noqa: B027 (optional hook: a client without a pool has nothing to release)
        """Release pooled connections."""
