"""The record of one call: what analytics stores, built as the call goes."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(slots=True)
class CallRecord:
    request_id: str
    created: float  # unix time the request arrived
    endpoint: str  # "chat", "embeddings", "invoke"
    stream: bool = False
    tenant_id: int | None = None
    app_id: int | None = None
    key_prefix: str = ""
    service_id: int | None = None  # the published service called (invoke, or another tenant's model API)
    route: str = ""
    provider_id: int | None = None
    deployment_id: int | None = None
    model: str = ""  # the upstream model that answered
    status: int = 0
    error_type: str = ""
    attempts: int = 0
    latency_ms: float = 0.0  # total, as the client saw it
    upstream_ms: float = 0.0  # time spent waiting on providers
    overhead_ms: float = 0.0  # latency_ms - upstream_ms: the gateway's own time
    ttft_ms: float | None = None  # streams: time to the first chunk
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_estimated: bool = False
    cost: Decimal = Decimal(0)
    cache_hit: bool = False
    masked_items: int = 0
    policy_outcomes: dict[str, str] = field(default_factory=dict)
    breaker_opened_id: int | None = None  # a deployment whose circuit breaker this call's failure opened
    # (masked request, masked response, days to keep) for services that capture bodies: analytics CallBody
    bodies: tuple[str, str, int] | None = None
