"""Rate limits and quotas: requests and tokens per minute, requests per UTC day and calendar month, for each scope
of the call (tenant, app, key, subscription by its plan), all admitted in one atomic step of the counters; the
plan's allowed models. Every answer carries OpenAI's X-RateLimit-* headers of the tightest applying limits.

Tokens per minute admit on the gateway's estimate of the prompt tokens (the answer's size is not known yet) and
settle on the provider's real usage after the call; a failed call gives its tokens back. Requests stay counted
whatever the outcome: they were made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from apps.gateway.pipeline.errors import LimitExceeded, ModelNotAllowed
from apps.gateway.pipeline.policies.base import CallContext, PolicyStep
from apps.gateway.pipeline.policies.counters import Charge, Counters, CounterStoreDown, counter_key, window_bounds
from apps.gateway.pipeline.policies.scopes import Scope, Settler, StoreErrorReport, call_scopes, scope_label, store_down


@dataclass(frozen=True, slots=True)
class Metric:
    field: str  # of Limits, and the counters' metric
    window: str
    unit: str  # "requests" or "tokens": which X-RateLimit-* headers it informs
    code: str  # the 429's code
    describe: str  # for the message


METRICS = (
    Metric("requests_per_minute", "minute", "requests", "requests_per_minute_exceeded", "requests per minute"),
    Metric("tokens_per_minute", "minute", "tokens", "tokens_per_minute_exceeded", "tokens per minute"),
    Metric("requests_per_day", "day", "requests", "daily_quota_exceeded", "requests per day"),
    Metric("requests_per_month", "month", "requests", "monthly_quota_exceeded", "requests per month"),
)


def duration(seconds: float) -> str:
    """A duration as OpenAI's reset headers write it (Go's format): "20ms", "1s", "1.5s", "6m0s", "23h59m59s"."""
    millis = max(0, round(seconds * 1000))
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest // 1000}.{rest % 1000:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    return f"{minutes}m{secs}" if minutes else secs


def rate_headers(
    metrics: Sequence[Metric], charges: Sequence[Charge], used: Sequence[int], now: float
) -> dict[str, str]:
    """X-RateLimit-{Limit,Remaining,Reset}-{Requests,Tokens} of the limit with the least left, per unit."""
    tightest: dict[str, tuple[int, float, int]] = {}  # unit → (remaining, resets at, limit)
    for metric, charge, value in zip(metrics, charges, used, strict=True):
        candidate = (max(0, charge.limit - value), float(charge.resets_at), charge.limit)
        if metric.unit not in tightest or candidate[:2] < tightest[metric.unit][:2]:
            tightest[metric.unit] = candidate
    headers = {}
    for unit, (remaining, resets_at, limit) in tightest.items():
        name = unit.capitalize()
        headers[f"X-RateLimit-Limit-{name}"] = str(limit)
        headers[f"X-RateLimit-Remaining-{name}"] = str(remaining)
        headers[f"X-RateLimit-Reset-{name}"] = duration(resets_at - now)
    return headers


@dataclass(slots=True)
class _Admitted:
    tokens: list[Charge]  # the tokens-per-minute charges, settled after the call
    prompt_tokens: int


class LimitStep(PolicyStep):
    name = "limits"

    def __init__(self, counters: Counters, *, on_store_error: StoreErrorReport) -> None:
        self._counters = counters
        self._on_store_error = on_store_error
        self._settler = Settler(counters, on_store_error)

    async def admit(self, ctx: CallContext) -> None:
        scopes = call_scopes(ctx)
        if not scopes:
            return
        sub = next((s for s in scopes if s.kind == "subscription"), None)
        if (
            sub is not None
            and sub.limits.allowed_models is not None
            and ctx.route.alias not in sub.limits.allowed_models
        ):
            raise ModelNotAllowed(
                f"The model '{ctx.route.alias}' is not allowed by {scope_label(ctx, sub)}.", param="model"
            )
        metrics, charges, owners = await self._charges(ctx, scopes)
        if not charges:
            return
        try:
            admission = await self._counters.admit(charges, ctx.now)
        except CounterStoreDown as exc:
            store_down(ctx, self._on_store_error, exc, admitting=True)
            ctx.outcome(self.name, "store unreachable: served")
            return
        headers = rate_headers(metrics, charges, admission.used, ctx.now)
        ctx.headers.update(headers)
        if admission.refused is not None:
            metric, charge = metrics[admission.refused], charges[admission.refused]
            raise LimitExceeded(
                f"The limit of {charge.limit} {metric.describe} of {scope_label(ctx, owners[admission.refused])} "
                f"is reached; it resets in {duration(charge.resets_at - ctx.now)}.",
                code=metric.code,
                retry_after=charge.resets_at - ctx.now,
                limit_headers=headers,
            )
        tokens = [c for m, c in zip(metrics, charges, strict=True) if m.unit == "tokens"]
        if tokens:
            ctx.state[self.name] = _Admitted(tokens=tokens, prompt_tokens=tokens[0].amount)

    async def _charges(self, ctx: CallContext, scopes: list[Scope]) -> tuple[list[Metric], list[Charge], list[Scope]]:
        metrics: list[Metric] = []
        charges: list[Charge] = []
        owners: list[Scope] = []
        for scope in scopes:
            for metric in METRICS:
                limit = getattr(scope.limits, metric.field)
                if limit is None:
                    continue
                amount = await ctx.prompt_tokens() if metric.unit == "tokens" else 1
                start, end = window_bounds(metric.window, ctx.now)
                key = counter_key(scope.kind, scope.id, metric.field, start)
                metrics.append(metric)
                charges.append(Charge(key=key, limit=limit, amount=amount, resets_at=end))
                owners.append(scope)
        return metrics, charges, owners

    async def _add(self, ctx: CallContext, amount: int) -> None:
        admitted: _Admitted | None = ctx.state.get(self.name)
        if admitted is None or amount == 0:
            return
        settle = [Charge(key=c.key, limit=c.limit, amount=amount, resets_at=c.resets_at) for c in admitted.tokens]
        await self._settler.add(ctx, settle)

    async def after_call(self, ctx: CallContext) -> None:
        admitted: _Admitted | None = ctx.state.get(self.name)
        if admitted is not None:  # the real tokens instead of the estimate
            await self._add(ctx, ctx.usage.total_tokens - admitted.prompt_tokens)

    async def on_failure(self, ctx: CallContext, error: BaseException | None) -> None:
        admitted: _Admitted | None = ctx.state.get(self.name)
        if admitted is not None:
            await self._add(ctx, -admitted.prompt_tokens)

    async def settled(self) -> None:
        """Wait for the settlements still running in the background (Settler)."""
        await self._settler.settled()
