"""Rate limits and quotas: requests and tokens per minute, requests per UTC day and calendar month, for each scope
of the call (tenant, app, key, subscription by its plan), admitted in one atomic step of the counters with the
budgets' counters (admission.py); the plan's allowed models. Every answer carries OpenAI's X-RateLimit-* headers
of the tightest applying limits.

Tokens per minute admit on the gateway's estimate of the prompt tokens (the answer's size is not known yet) and
settle on the provider's real usage after the call; a failed call gives its tokens back (admission.py). The
requests of an admitted call stay counted whatever its outcome: they were made (a refused one counts nowhere)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from apps.gateway.pipeline.errors import LimitExceeded, ModelNotAllowed
from apps.gateway.pipeline.policies.base import CallContext
from apps.gateway.pipeline.policies.counters import PROMPT_TOKENS, REQUESTS, Counter, counter_key, window_bounds
from apps.gateway.pipeline.policies.scopes import Scope, scope_label


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
    secs = f"{millis % 60_000 // 1000}.{millis % 1000:03d}".rstrip("0").rstrip(".") + "s"
    if millis < 60_000:  # a minute's limit, the usual one: no division further
        return secs
    hours, rest = divmod(millis, 3_600_000)
    minutes = rest // 60_000
    return f"{hours}h{minutes}m{secs}" if hours else f"{minutes}m{secs}"


_HEADER_NAMES = {
    unit: (f"X-RateLimit-Limit-{name}", f"X-RateLimit-Remaining-{name}", f"X-RateLimit-Reset-{name}")
    for unit, name in (("requests", "Requests"), ("tokens", "Tokens"))
}


def rate_headers(counters: Sequence[Counter], used: Sequence[int], now: float) -> dict[str, str]:
    """X-RateLimit-{Limit,Remaining,Reset}-{Requests,Tokens} of the limit with the least left (the earliest reset
    among equals), per unit. On every answer of a call with a limit: kept to one pass and no call per limit."""
    tightest: dict[str, tuple[int, int, int]] = {}  # unit → (remaining, resets at, limit)
    for counter, value in zip(counters, used, strict=True):
        limit = counter.limit
        candidate = (limit - value if value < limit else 0, counter.resets_at, limit)
        unit = counter.about[0].unit
        best = tightest.get(unit)
        if best is None or candidate < best:
            tightest[unit] = candidate
    headers = {}
    for unit, (remaining, resets_at, limit) in tightest.items():
        limit_name, remaining_name, reset_name = _HEADER_NAMES[unit]
        headers[limit_name] = str(limit)
        headers[remaining_name] = str(remaining)
        headers[reset_name] = duration(resets_at - now)
    return headers


class LimitPolicy:
    """Rate limits, quotas and allowed models: a counted policy (admission.py: CountersStep admits it). Each of its
    counters is `about` (the metric, the scope)."""

    name = "limits"

    def counted(self, ctx: CallContext, scopes: Sequence[Scope]) -> list[Counter]:
        sub = next((s for s in scopes if s.kind == "subscription"), None)
        if (
            sub is not None
            and sub.limits.allowed_models is not None
            and ctx.route.alias not in sub.limits.allowed_models
        ):
            raise ModelNotAllowed(
                f"The model '{ctx.route.alias}' is not allowed by {scope_label(ctx, sub)}.", param="model"
            )
        counters = []
        for scope in scopes:
            for metric in METRICS:
                limit = getattr(scope.limits, metric.field)
                if limit is not None:
                    start, end = window_bounds(metric.window, ctx.now)
                    key = counter_key(scope.kind, scope.id, metric.field, start)
                    charge = PROMPT_TOKENS if metric.unit == "tokens" else REQUESTS
                    counters.append(Counter(key, limit, end, charge, (metric, scope)))
        return counters

    def admitted(self, ctx: CallContext, counters: Sequence[Counter], used: Sequence[int]) -> None:
        ctx.headers.update(rate_headers(counters, used, ctx.now))

    def refused(self, ctx: CallContext, counters: Sequence[Counter], index: int, used: Sequence[int]) -> None:
        headers = rate_headers(counters, used, ctx.now)
        ctx.headers.update(headers)
        counter = counters[index]
        metric, scope = counter.about
        raise LimitExceeded(
            f"The limit of {counter.limit} {metric.describe} of {scope_label(ctx, scope)} "
            f"is reached; it resets in {duration(counter.resets_at - ctx.now)}.",
            code=metric.code,
            retry_after=counter.resets_at - ctx.now,
            limit_headers=headers,
        )
