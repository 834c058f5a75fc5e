"""Choosing and calling deployments: an order per the route's strategy (weighted, lowest latency or cheapest
first) among healthy ones, retry with backoff, failover in priority order, one overall deadline, and a circuit
breaker and a latency average per deployment (per process)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from apps.gateway.pipeline.errors import (
    GatewayError,
    InvalidRequest,
    NoHealthyDeployment,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from apps.gateway.pipeline.snapshot import DeploymentEntry, RouteEntry
from apps.providers.clients.base import ProviderError

T = TypeVar("T")

BACKOFF_BASE = 0.05  # seconds; doubled per retry, with jitter
BACKOFF_MAX = 2.0


@dataclass(slots=True)
class BreakerState:
    failures: int = 0
    open_until: float = 0.0
    probe_until: float = 0.0  # half-open: one request is testing the deployment until then


@dataclass
class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `cooldown` lets one probe through. A probe that is
    abandoned (its request cancelled, or the gateway failing) gives its slot back at once (`release`); one that
    never reports back at all frees it after another cooldown. `on_change(deployment id, "open" | "closed")`
    hears each opening and each closing (the /metrics gauge)."""

    threshold: int = 3
    cooldown: float = 30.0
    clock: Callable[[], float] = time.monotonic
    states: dict[int, BreakerState] = field(default_factory=dict)
    on_change: Callable[[int, str], None] | None = None

    def state(self, deployment_id: int) -> str:
        st = self.states.get(deployment_id)
        if st is None or st.failures < self.threshold:
            return "closed"
        return "half_open" if self.clock() >= st.open_until else "open"

    def available(self, deployment_id: int) -> bool:
        state = self.state(deployment_id)
        return state == "closed" or (state == "half_open" and self.clock() >= self.states[deployment_id].probe_until)

    def acquire(self, deployment_id: int) -> bool:
        """Take the right to call now; a half-open deployment admits one probe at a time."""
        if not self.available(deployment_id):
            return False
        if self.state(deployment_id) == "half_open":
            self.states[deployment_id].probe_until = self.clock() + self.cooldown
        return True

    def release(self, deployment_id: int) -> None:
        """An attempt ended without the deployment's verdict: a probe's slot goes to the next request."""
        st = self.states.get(deployment_id)
        if st is not None:
            st.probe_until = 0.0

    def seconds_until_available(self, deployment_ids: Iterable[int]) -> float:
        """How long until one of these deployments takes a request again (0 if one does now)."""
        now = self.clock()
        waits = [
            max(st.open_until, st.probe_until) - now if (st := self.states.get(dep_id)) is not None else 0.0
            for dep_id in deployment_ids
        ]
        return max(0.0, min(waits, default=0.0))

    def record_success(self, deployment_id: int) -> None:
        st = self.states.pop(deployment_id, None)
        if st is not None and st.failures >= self.threshold and self.on_change is not None:
            self.on_change(deployment_id, "closed")

    def record_failure(self, deployment_id: int) -> bool:
        """Count a failure; True when this one opened the breaker (a failed probe re-opens it silently)."""
        st = self.states.setdefault(deployment_id, BreakerState())
        st.failures += 1
        if st.failures < self.threshold:
            return False
        st.open_until = self.clock() + self.cooldown
        st.probe_until = 0.0
        if st.failures == self.threshold:
            if self.on_change is not None:
                self.on_change(deployment_id, "open")
            return True
        return False


@dataclass
class LatencyTracker:
    """An exponentially weighted moving average of each deployment's upstream seconds (time to the first chunk
    for streams), per process. A failure counts as a sample as slow as the deployment's timeout."""

    alpha: float = 0.3  # weight of the newest sample
    averages: dict[int, float] = field(default_factory=dict)

    def record(self, deployment_id: int, seconds: float) -> None:
        previous = self.averages.get(deployment_id)
        self.averages[deployment_id] = seconds if previous is None else previous + self.alpha * (seconds - previous)

    def average(self, deployment_id: int) -> float | None:
        return self.averages.get(deployment_id)


EXPLORE_SHARE = 0.05  # latency: the share of calls that ignore the averages, so slow deployments are re-measured


@dataclass(slots=True)
class Attempt:
    deployment: DeploymentEntry
    timeout: float


@dataclass(slots=True)
class RouteOutcome:
    attempts: int = 0
    upstream_seconds: float = 0.0
    deployment: DeploymentEntry | None = None
    breaker_opened: int | None = None  # a deployment whose breaker this call's failure opened
    error: ProviderError | None = None  # the last provider failure, in full: for the logs, not the caller


class Router:
    def __init__(
        self,
        *,
        breaker: CircuitBreaker | None = None,
        rng: random.Random | None = None,
        latency: LatencyTracker | None = None,
        explore: float = EXPLORE_SHARE,
    ) -> None:
        self.breaker = breaker or CircuitBreaker()
        self.latency = latency or LatencyTracker()
        self.explore = explore
        self._rng = rng or random.Random()  # noqa: S311 - load balancing, not security

    def plan(self, route: RouteEntry) -> list[DeploymentEntry]:
        """Deployments in the order to try: priority groups ascending, inside a group the route's strategy's
        order. Deployments whose breaker is open are left out (a half-open one is let through once as a probe)."""
        groups: dict[int, list[DeploymentEntry]] = {}
        for dep in route.deployments:
            if self.breaker.available(dep.deployment_id):
                groups.setdefault(dep.priority, []).append(dep)
        order: list[DeploymentEntry] = []
        for priority in sorted(groups):
            order.extend(self._group_order(route.strategy, groups[priority]))
        return order

    def _group_order(self, strategy: str, deps: list[DeploymentEntry]) -> list[DeploymentEntry]:
        weighted = self._weighted_order(deps)
        if strategy == "cost":
            # sorted() is stable: among equal prices the weighted order stays.
            return sorted(weighted, key=lambda d: d.input_price_per_mtok + d.output_price_per_mtok)
        if strategy == "latency" and self._rng.random() >= self.explore:
            # Unmeasured deployments first (each gets measured), then the fastest average first.
            averages = {d.deployment_id: self.latency.average(d.deployment_id) for d in weighted}
            unmeasured = [d for d in weighted if averages[d.deployment_id] is None]
            measured = [d for d in weighted if averages[d.deployment_id] is not None]
            return unmeasured + sorted(measured, key=lambda d: averages[d.deployment_id] or 0.0)
        return weighted

    def _weighted_order(self, deps: list[DeploymentEntry]) -> list[DeploymentEntry]:
        # Efraimidis-Spirakis: sort by u^(1/w); the first is a weighted pick, the rest a weighted fallback order.
        if len(deps) == 1:
            return deps
        return sorted(deps, key=lambda d: self._rng.random() ** (1.0 / d.weight), reverse=True)

    async def run(
        self,
        route: RouteEntry,
        call: Callable[[Attempt], Awaitable[T]],
        *,
        outcome: RouteOutcome,
        clock: Callable[[], float] = time.monotonic,
    ) -> T:
        """Call deployments until one answers. Retryable failures (timeout, connection, 429, 5xx, garbage)
        are retried with backoff, then the next deployment is tried, all within route.deadline."""
        deadline = clock() + route.deadline
        last_error: ProviderError | None = None
        tried = False
        for dep in self.plan(route):
            probing = self.breaker.state(dep.deployment_id) == "half_open"
            if not self.breaker.acquire(dep.deployment_id):
                continue
            tried = True
            for retry in range(route.retries + 1):
                remaining = deadline - clock()
                if remaining <= 0:
                    raise self._exhausted(route, last_error, outcome, deadline_hit=True)
                outcome.attempts += 1
                outcome.deployment = dep
                started = clock()
                try:
                    result = await call(Attempt(dep, min(dep.timeout, remaining)))
                except ProviderError as exc:
                    outcome.upstream_seconds += clock() - started
                    last_error = outcome.error = exc
                    if not exc.retryable and exc.kind == "bad_request":
                        raise _refused(exc, dep) from exc
                    self.latency.record(dep.deployment_id, max(dep.timeout, clock() - started))
                    if self.breaker.record_failure(dep.deployment_id) and outcome.breaker_opened is None:
                        outcome.breaker_opened = dep.deployment_id
                    if not exc.retryable or self.breaker.state(dep.deployment_id) != "closed":
                        break  # misconfigured (auth, unknown model) or now open: next deployment
                    if retry < route.retries:
                        await self._backoff(retry, exc, deadline - clock())
                    continue
                except BaseException:
                    # Cancelled (the client went away) or the gateway's own failure: no verdict on the
                    # deployment, so a probe must not keep its slot for a cooldown while the upstream is fine.
                    if probing:
                        self.breaker.release(dep.deployment_id)
                    raise
                outcome.upstream_seconds += clock() - started
                self.latency.record(dep.deployment_id, clock() - started)
                self.breaker.record_success(dep.deployment_id)
                return result
        if not tried:
            wait = self.breaker.seconds_until_available(dep.deployment_id for dep in route.deployments)
            raise NoHealthyDeployment(
                f"No healthy deployment for {route.alias!r}: all are cooling down.", retry_after=wait
            )
        raise self._exhausted(route, last_error, outcome, deadline_hit=False)

    async def _backoff(self, retry: int, exc: ProviderError, remaining: float) -> None:
        delay = min(BACKOFF_MAX, BACKOFF_BASE * (2**retry)) * (0.5 + self._rng.random())
        if exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, BACKOFF_MAX))
        if 0 < delay < remaining:
            await asyncio.sleep(delay)

    @staticmethod
    def _exhausted(
        route: RouteEntry, error: ProviderError | None, outcome: RouteOutcome, *, deadline_hit: bool
    ) -> GatewayError:
        if deadline_hit or (error is not None and error.kind == "timeout"):
            return UpstreamTimeout(f"No deployment of {route.alias!r} answered within the deadline.")
        if error is not None and error.kind == "rate_limited":
            return RateLimited(
                f"Every deployment of {route.alias!r} is rate limited upstream.", retry_after=error.retry_after
            )
        if error is None:
            return UpstreamError(f"No deployment of {route.alias!r} could answer.")
        return UpstreamError(f"No deployment of {route.alias!r} could answer: {failure(error, outcome.deployment)}.")


# What the caller is told of a provider's failure: which provider, and what kind of failure. The provider's own
# text stays in the logs (RouteOutcome.error): it names internal URLs, quotes bodies, may quote a credential.
_FAILURES = {
    "timeout": "did not answer in time",
    "connect": "could not be reached",
    "server_error": "reported a failure",
    "bad_response": "sent an answer that is not OpenAI's format",
    "auth": "refused its credentials",
    "not_found": "does not know the model",
}


def failure(error: ProviderError, dep: DeploymentEntry | None) -> str:
    """`provider 'x' answered HTTP 503`: the caller's view of a provider's failure."""
    if error.kind == "server_error" and error.status:
        what = f"answered HTTP {error.status}"
    else:
        what = _FAILURES.get(error.kind, f"failed ({error.kind})")
    return f"provider {dep.provider_slug!r} {what}" if dep is not None else f"a provider {what}"


def _refused(exc: ProviderError, dep: DeploymentEntry) -> InvalidRequest:
    """The provider's 400 as it said it (message, param, code, type: what OpenAI's SDKs show), minus the
    deployment's credential should the provider quote it."""

    def clean(text: str | None) -> str | None:
        return text.replace(dep.api_key, "[credential]") if text and dep.api_key else text

    return InvalidRequest(
        clean(exc.message) or "The provider refused the request.",
        param=clean(exc.param),
        code=clean(exc.code),
        error_type=exc.error_type,
    )
