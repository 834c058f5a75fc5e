"""The configuration the data plane reads: an immutable, in-memory picture of keys and routes.

Built off the request path from the database (adapters.snapshot_store) and swapped atomically; a request
reads one Snapshot from start to end, so a rebuild never shows it half-changed."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

INVOCABLE_LIFECYCLES = ("published", "deprecated")


@dataclass(frozen=True, slots=True)
class KeyEntry:
    key_id: int
    lookup_id: str
    pepper_id: str
    digest: str
    tenant_id: int
    tenant_slug: str
    app_id: int
    app_slug: str
    scopes: frozenset[str]
    expires_at: datetime | None

    @property
    def prefix(self) -> str:
        return f"gwk_{self.lookup_id}"


@dataclass(frozen=True, slots=True)
class DeploymentEntry:
    deployment_id: int
    provider_id: int
    provider_kind: str
    provider_slug: str
    base_url: str
    api_key: str = field(repr=False)
    provider_options: dict[str, Any]
    provider_revision: str  # changes whenever the provider's settings do: a new pooled client is made
    model_name: str
    upstream_model: str
    modalities: frozenset[str]
    weight: int
    priority: int
    timeout: float
    input_price_per_mtok: Decimal
    output_price_per_mtok: Decimal
    provider_trusted: bool = False  # the operator lets it reach internal addresses (apps/providers/outbound.py)
    cached_input_price_per_mtok: Decimal | None = None  # prompt tokens read from the provider's cache; None: input

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> Decimal:
        """USD for a call; `cached_tokens` are the part of `prompt_tokens` the provider served from its cache."""
        cached = min(max(cached_tokens, 0), prompt_tokens)
        cached_price = (
            self.input_price_per_mtok if self.cached_input_price_per_mtok is None else self.cached_input_price_per_mtok
        )
        return (
            self.input_price_per_mtok * (prompt_tokens - cached)
            + cached_price * cached
            + self.output_price_per_mtok * completion_tokens
        ) / 1_000_000


@dataclass(frozen=True, slots=True)
class RouteEntry:
    route_id: int
    tenant_id: int
    alias: str
    deadline: float
    retries: int
    deployments: tuple[DeploymentEntry, ...]  # enabled ones, sorted by priority
    created: int = 0  # unix time, for /v1/models
    strategy: str = "priority"  # the order inside a priority group: "priority" (weighted), "latency" or "cost"
    # The highest prices among the deployments, in pico-dollars per token (USD per million tokens times a million, exact
    # for the six decimals prices have, rounded up beyond): what a budget reserves a call at, in integers (once
    # per snapshot, not once per call; Decimal arithmetic on every call cost a budget ~1 µs).
    max_input_pico: int = field(init=False, default=0)
    max_output_pico: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.deployments:
            highest_input = max(d.input_price_per_mtok for d in self.deployments)
            highest_output = max(d.output_price_per_mtok for d in self.deployments)
            object.__setattr__(self, "max_input_pico", math.ceil(highest_input * 1_000_000))
            object.__setattr__(self, "max_output_pico", math.ceil(highest_output * 1_000_000))


@dataclass(frozen=True, slots=True)
class PromptVersionEntry:
    number: int
    system: str
    user: str
    examples: tuple[dict[str, str], ...]
    parameters: dict[str, Any]
    variables_validator: Any  # a compiled jsonschema validator of the input


@dataclass(frozen=True, slots=True)
class PromptEntry:
    live: int
    split: tuple[tuple[int, int], ...]  # (version number, weight); empty: the live version only
    sticky_by: str  # "app" or "conversation"
    versions: dict[int, PromptVersionEntry]


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    service_id: int
    slug: str
    tenant_id: int
    kind: str  # "prompt" or "model"
    lifecycle: str
    visibility: str  # "private", "shared", "public"
    shared_with: frozenset[int]
    require_internal_subscription: bool
    route_alias: str
    output_mode: str  # "text" or "json"
    output_schema: dict[str, Any]
    output_validator: Any | None
    prompt: PromptEntry | None
    capture_bodies_days: int = 0  # keep masked bodies of its calls this long; 0: never

    def visible_to(self, tenant_id: int) -> bool:
        if tenant_id == self.tenant_id:
            return True
        if self.lifecycle not in INVOCABLE_LIFECYCLES:
            return False
        return self.visibility == "public" or (self.visibility == "shared" and tenant_id in self.shared_with)


@dataclass(frozen=True, slots=True)
class SubscriptionEntry:
    subscription_id: int
    status: str
    expires_at: datetime | None
    plan_id: int
    plan_slug: str = ""  # names the plan in a refusal ("your plan 'free' of service 'x'")

    def expired_at(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at.timestamp() <= now


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one scope — a tenant, an app, a key, or a plan (applied per subscription). None: no limit.
    Several scopes apply to one call; each is counted on its own and the tightest refuses first."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    requests_per_day: int | None = None
    requests_per_month: int | None = None
    budget_per_day: Decimal | None = None  # USD
    budget_per_month: Decimal | None = None  # USD
    # A reached budget refuses with 429 budget_exceeded, or sends the call to this cheaper route of the tenant.
    over_budget_route: str | None = None
    allowed_models: frozenset[str] | None = None  # plans: the route aliases a subscription may call; None: any


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Response caching of a route or a service (the service's wins)."""

    ttl_seconds: int
    semantic: bool = False  # also look for the nearest stored prompt by embedding
    semantic_route: str | None = None  # alias of the tenant's embedding route
    semantic_threshold: float = 0.95  # cosine similarity at or above which a stored answer is reused


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    keys: dict[str, KeyEntry]  # by lookup id
    routes: dict[tuple[int, str], RouteEntry]  # by (tenant id, alias)
    tenant_routes: dict[int, tuple[RouteEntry, ...]]  # by tenant id, sorted by alias (for /v1/models)
    services: dict[str, ServiceEntry] = field(default_factory=dict)  # by slug
    subscriptions: dict[tuple[int, int], SubscriptionEntry] = field(default_factory=dict)  # by (app id, service id)
    tenant_slugs: dict[int, str] = field(default_factory=dict)  # by tenant id: the label values of /metrics
    limits: dict[tuple[str, int], Limits] = field(default_factory=dict)  # by ("tenant"|"app"|"key"|"plan", id)
    route_cache: dict[int, CachePolicy] = field(default_factory=dict)  # by route id
    service_cache: dict[int, CachePolicy] = field(default_factory=dict)  # by service id
    limits_fail_open: dict[int, bool] = field(default_factory=dict)  # by tenant id: Redis down → serve (True)

    @classmethod
    def build(
        cls,
        *,
        version: int,
        keys: list[KeyEntry],
        routes: list[RouteEntry],
        services: Iterable[ServiceEntry] = (),
        subscriptions: dict[tuple[int, int], SubscriptionEntry] | None = None,
        tenant_slugs: dict[int, str] | None = None,
        limits: dict[tuple[str, int], Limits] | None = None,
        route_cache: dict[int, CachePolicy] | None = None,
        service_cache: dict[int, CachePolicy] | None = None,
        limits_fail_open: dict[int, bool] | None = None,
    ) -> Snapshot:
        by_tenant: dict[int, list[RouteEntry]] = {}
        for route in sorted(routes, key=lambda r: r.alias):
            by_tenant.setdefault(route.tenant_id, []).append(route)
        return cls(
            version=version,
            keys={k.lookup_id: k for k in keys},
            routes={(r.tenant_id, r.alias): r for r in routes},
            tenant_routes={t: tuple(rs) for t, rs in by_tenant.items()},
            services={s.slug: s for s in services},
            subscriptions=dict(subscriptions or {}),
            tenant_slugs=dict(tenant_slugs or {}),
            limits=dict(limits or {}),
            route_cache=dict(route_cache or {}),
            service_cache=dict(service_cache or {}),
            limits_fail_open=dict(limits_fail_open or {}),
        )

    def may_call_model_service(self, service: ServiceEntry, tenant_id: int, app_id: int, now: float) -> bool:
        """Another tenant's model API, visible and invocable, with an approved unexpired subscription."""
        # visible_to() already requires an invocable lifecycle of another tenant's service.
        if service.kind != "model" or service.tenant_id == tenant_id or not service.visible_to(tenant_id):
            return False
        sub = self.subscriptions.get((app_id, service.service_id))
        return sub is not None and sub.status == "approved" and not sub.expired_at(now)

    def model_services_for(self, tenant_id: int, app_id: int, now: float) -> list[ServiceEntry]:
        """Other tenants' model APIs this app may call through /v1."""
        return sorted(
            (s for s in self.services.values() if self.may_call_model_service(s, tenant_id, app_id, now)),
            key=lambda s: s.slug,
        )


EMPTY_SNAPSHOT = Snapshot(version=-1, keys={}, routes={}, tenant_routes={})
