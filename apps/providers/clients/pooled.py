"""The HTTP plumbing every HTTP client kind (openai, anthropic, gemini) shares: one pooled aiohttp session per
event loop, made by the outbound guard (see openai_compat's module docstring for why aiohttp and why a session per
loop), JSON requests and SSE streams whose every failure is a ProviderError, and one mapping of HTTP statuses to
retry/failover semantics.

Each client gives the provider's own error wording through an `ErrorReader` (status body → `ErrorBody`), and
redacts its credential from any message, since some proxies quote request headers back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

import aiohttp
import orjson

from apps.providers.clients.base import ProviderError
from apps.providers.clients.netguard import UNGUARDED, OutboundGuard
from apps.providers.clients.sse import SSEDecoder

_KEEPALIVE_SECONDS = 30.0
_SNIPPET = 300
# A server ends the body right after its last event, but that end may arrive a packet later; reading it lets the
# connection go back to the pool. A server that keeps the body open is cut off after this long.
_DRAIN_SECONDS = 1.0


class ErrorBody(NamedTuple):
    """What a provider's error body says; empty `message` when it says nothing usable."""

    message: str
    error_type: str | None
    param: str | None = None
    code: str | None = None


# (parsed error body or None, raw body) -> what it says
ErrorReader = Callable[[Any, bytes], ErrorBody]
# response headers -> seconds to wait before a retry, or None
RetryAfter = Callable[[Mapping[str, str]], float | None]


class PooledHTTP:
    """A session per running loop for one client instance, restricted by `guard`. `wait` reads a retry delay
    from a 429's or 5xx's headers (the standard `Retry-After` unless the provider has its own)."""

    def __init__(self, guard: OutboundGuard = UNGUARDED, *, wait: RetryAfter | None = None) -> None:
        self._guard = guard
        self._wait: RetryAfter = wait or retry_after
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # No pool limit: the router's concurrency policies bound the load, and a limit here would only
            # queue requests silently, eating into their timeout.
            self._session = self._guard.session(limit=0, keepalive_timeout=_KEEPALIVE_SECONDS)
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        # A session from a loop that has ended cannot be closed from this one (see openai_compat's docstring).
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None

    async def json(
        self,
        method: str,
        url: str,
        *,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        seconds: float,
        read_error: ErrorReader,
        secret: str,
    ) -> dict[str, Any]:
        """One request answered with a JSON object."""
        try:
            async with self.session().request(
                method,
                url,
                data=None if body is None else orjson.dumps(body),
                headers=dict(headers),
                timeout=aiohttp.ClientTimeout(total=seconds),
            ) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise status_error(response.status, response.headers, raw, read_error, secret, self._wait)
        except TimeoutError as exc:
            raise ProviderError(
                f"{_path(url)}: no answer within {seconds:g} s", kind="timeout", retryable=True
            ) from exc
        except aiohttp.ClientError as exc:
            raise _connect(url, exc) from exc
        return json_object(raw)

    async def sse(
        self,
        url: str,
        *,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        seconds: float,
        read_error: ErrorReader,
        secret: str,
        last: bytes | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """The data of each event of a streamed answer. `seconds` bounds the wait for the headers and then each
        silence between two pieces of the body, not the whole stream (a stream may rightly run for minutes).
        After an event whose data is `last` (OpenAI's `[DONE]`) the rest of the body is read and ignored."""
        per_read = aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
        try:
            async with asyncio.timeout(seconds):
                response = await self.session().post(
                    url, data=orjson.dumps(body), headers=dict(headers), timeout=per_read
                )
            async with response:
                if response.status >= 400:
                    raw = await response.read()
                    raise status_error(response.status, response.headers, raw, read_error, secret, self._wait)
                decoder = SSEDecoder()
                async for piece in response.content.iter_any():
                    for data in decoder.feed(piece):
                        yield data
                        if last is not None and data == last:
                            await _drain(response)
                            return
                for data in decoder.close():
                    yield data
        except TimeoutError as exc:
            raise ProviderError(
                f"{_path(url)}: no answer within {seconds:g} s", kind="timeout", retryable=True
            ) from exc
        except aiohttp.ClientError as exc:
            raise _connect(url, exc) from exc


def json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        snippet = raw[:_SNIPPET].decode("utf-8", "replace")
        raise ProviderError(
            f"The provider sent something other than a JSON object: {snippet!r}", kind="bad_response", retryable=True
        )
    return value


def status_error(
    status: int,
    headers: Mapping[str, str],
    raw: bytes,
    read_error: ErrorReader,
    secret: str,
    wait: RetryAfter | None = None,
) -> ProviderError:
    """429 and 5xx (Anthropic's 529 "overloaded" included) may succeed later or elsewhere: retryable, with the
    provider's Retry-After. 401/403 and 404 are the deployment's misconfiguration: not retryable here, so the
    router moves on to the next deployment. Any other 4xx is the caller's request: passed on with its message."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    said = read_error(parsed, raw)
    message = redact(said.message or f"HTTP {status}: {raw[:_SNIPPET].decode('utf-8', 'replace')}", secret)
    fields: dict[str, Any] = {"status": status, "error_type": said.error_type, "param": said.param, "code": said.code}
    wait = wait or retry_after
    if status == 429:
        return ProviderError(message, kind="rate_limited", retryable=True, retry_after=wait(headers), **fields)
    if status == 408 or status >= 500:
        kind = "timeout" if status == 408 else "server_error"
        return ProviderError(message, kind=kind, retryable=True, retry_after=wait(headers), **fields)
    if status in (401, 403):
        return ProviderError(message, kind="auth", retryable=False, **fields)
    if status == 404:
        return ProviderError(message, kind="not_found", retryable=False, **fields)
    return ProviderError(message, kind="bad_request", retryable=False, **fields)


def redact(message: str, secret: str) -> str:
    return message.replace(secret, "[redacted]") if secret else message


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from the standard `Retry-After` header (seconds or an HTTP date)."""
    value = headers.get("Retry-After")
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(float(value), 0.0)
    with contextlib.suppress(TypeError, ValueError):
        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
    return None


async def _drain(response: aiohttp.ClientResponse) -> None:
    with contextlib.suppress(TimeoutError, aiohttp.ClientError):
        async with asyncio.timeout(_DRAIN_SECONDS):
            await response.read()


def _path(url: str) -> str:
    # Messages name the endpoint, never the query string (Gemini's `key=` could ride there).
    return url.split("?", 1)[0]


def _connect(url: str, exc: Exception) -> ProviderError:
    return ProviderError(
        f"{_path(url)}: connection failed ({exc.__class__.__name__}: {exc})", kind="connect", retryable=True
    )
