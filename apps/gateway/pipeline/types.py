from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from apps.gateway.pipeline.records import CallRecord


@dataclass(slots=True)
class GatewayRequest:
    """What the edge hands to the pipeline: a validated unified (OpenAI-format) body and the caller's key."""

    request_id: str
    api_key: str | None
    body: dict[str, Any]
    received: float  # perf_counter() when the request arrived
    received_wall: float  # time.time() at the same moment
    cache_control: str = ""  # the caller's Cache-Control header (no-cache: skip the cache lookup; no-store)


@dataclass(slots=True)
class GatewayResponse:
    status: int
    body: dict[str, Any] | None = None
    stream: AsyncIterator[bytes] | None = None  # SSE bytes, when streaming
    headers: dict[str, str] = field(default_factory=dict)
    record: CallRecord | None = None
