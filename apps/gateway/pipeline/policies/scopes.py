"""The scopes whose limits apply to a call — its tenant, app, key, and the subscription it is made under (counted
per subscription with its plan's limits) — shared by the limit and budget steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from apps.gateway.pipeline.errors import LimitsUnavailable
from apps.gateway.pipeline.policies.base import CallContext
from apps.gateway.pipeline.policies.counters import CounterStoreDown
from apps.gateway.pipeline.snapshot import Limits

# (tenant slug, "open" | "closed", the error): counted and logged by the adapters
StoreErrorReport = Callable[[str, str, BaseException], None]


@dataclass(frozen=True, slots=True)
class Scope:
    kind: str  # the counters' scope: "tenant", "app", "key" or "subscription"
    id: int
    limits: Limits


def call_scopes(ctx: CallContext) -> list[Scope]:
    """The scopes of the call that have limits configured; empty (and cheap) when the snapshot has none."""
    table = ctx.snapshot.limits
    if not table:
        return []
    scopes = []
    if (limits := table.get(("tenant", ctx.tenant_id))) is not None:
        scopes.append(Scope("tenant", ctx.tenant_id, limits))
    if ctx.key is not None:
        if (limits := table.get(("app", ctx.key.app_id))) is not None:
            scopes.append(Scope("app", ctx.key.app_id, limits))
        if (limits := table.get(("key", ctx.key.key_id))) is not None:
            scopes.append(Scope("key", ctx.key.key_id, limits))
    sub = ctx.subscription
    if sub is not None and (limits := table.get(("plan", sub.plan_id))) is not None:
        scopes.append(Scope("subscription", sub.subscription_id, limits))
    return scopes


def scope_label(ctx: CallContext, scope: Scope) -> str:
    """How a refusal names the scope to the caller (only names the caller already knows)."""
    if scope.kind == "tenant":
        return f"tenant '{ctx.snapshot.tenant_slugs.get(scope.id, scope.id)}'"
    if scope.kind == "app" and ctx.key is not None:
        return f"app '{ctx.key.app_slug}'"
    if scope.kind == "key" and ctx.key is not None:
        return f"API key '{ctx.key.prefix}'"
    service = f" of service '{ctx.service.slug}'" if ctx.service is not None else ""
    plan = ctx.subscription.plan_slug if ctx.subscription is not None else ""
    return f"your plan '{plan}'{service}" if plan else f"your plan{service}"


def store_down(ctx: CallContext, report: StoreErrorReport, error: CounterStoreDown, *, admitting: bool) -> None:
    """The store is unreachable: serve by the tenant's setting (missing: fail open), or refuse with 503 when
    admitting a call of a tenant that fails closed. Settling never refuses: the call has been served."""
    fail_open = ctx.snapshot.limits_fail_open.get(ctx.tenant_id, True)
    report(ctx.snapshot.tenant_slugs.get(ctx.tenant_id, ""), "open" if fail_open else "closed", error)
    if admitting and not fail_open:
        raise LimitsUnavailable(
            "The gateway cannot check this call's limits right now; try again shortly.", retry_after=1
        ) from error
