"""The step of the counted policies — rate limits and quotas (limits.py) and budgets (budgets.py): every counter
they declare for a call is admitted in ONE atomic admission, so a call costs one round trip to Redis whatever is
configured, and N processes admit exactly what one would. Their settlements after the call go together too
(scopes.py: Settler, off the answer's path).

A policy declares its counters and what each is charged (counters.py: one request, the prompt's tokens, the call's
most cost); the step measures those once for the call, admits, and settles them after it. What the policies
declare depends only on the call's scopes and route and on the minute, so it is asked once a minute for calls
alike (a _Shape), not once a call: a call with limits costs a dictionary lookup, its measures and the admission.

A refused counter adds nothing, to any counter: the policy that owns it raises its refusal (429 with the limit's
code, budget_exceeded), or changes the call — a budget sends it to a cheaper route — and the admission is tried
again with every policy's counters for the changed call (the plan's allowed models included). A refused call
counts nowhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from apps.gateway.pipeline.policies.base import CallContext, PolicyStep
from apps.gateway.pipeline.policies.budgets import max_cost, micro_dollars
from apps.gateway.pipeline.policies.counters import (
    MAX_COST,
    PROMPT_TOKENS,
    REQUESTS,
    Counter,
    Counters,
    CounterSet,
    CounterStoreDown,
)
from apps.gateway.pipeline.policies.scopes import Scope, Settler, StoreErrorReport, call_scopes, store_down
from apps.gateway.pipeline.snapshot import Snapshot

SHAPES_CAP = 10_000  # shapes kept per minute; calls of further ones are shaped each time


class CountedPolicy(Protocol):
    name: str  # its key in ctx.state and in the call's policy outcomes

    def counted(self, ctx: CallContext, scopes: Sequence[Scope]) -> list[Counter]:
        """The counters the call must fit in: the same for every call of these scopes on this route within a
        minute. May raise a refusal that needs no counter (a model the plan does not allow)."""
        ...

    def admitted(self, ctx: CallContext, counters: Sequence[Counter], used: Sequence[int]) -> None:
        """Every counter was charged; `used`: the value of each of this policy's counters after."""
        ...

    def refused(self, ctx: CallContext, counters: Sequence[Counter], index: int, used: Sequence[int]) -> None:
        """This policy's counter `index` did not fit (nothing was added; `used` as they were): raise the refusal,
        or change the call and return, for the admission to be tried again. A policy changes a call once."""
        ...


@dataclass(slots=True, eq=False)
class _Shape:
    """What the counted policies charge calls of one set of scopes on one route, in one minute."""

    parts: tuple[tuple[CountedPolicy, tuple[Counter, ...]], ...]  # each policy that counts, with its counters
    counters: CounterSet  # all of them, in the parts' order
    charges: tuple[int, ...]  # what each is charged
    tokens: bool  # some counter is charged the prompt's tokens
    cost: bool  # some counter is charged the call's most cost
    settled_keys: tuple[str, ...]  # those charged tokens or cost: settled after the call
    settled_charges: tuple[int, ...]


@dataclass(slots=True, eq=False)
class _Shapes:
    """The shapes of one snapshot's minute, by (tenant, key, subscription, route): replaced, never emptied, when
    the minute or the snapshot changes, so that a thread still holding the old one adds nothing to the new."""

    snapshot: Snapshot | None
    minute: int
    made: dict[tuple[int, int, int, int], _Shape | None] = field(default_factory=dict)


@dataclass(slots=True)
class _Admitted:
    shape: _Shape
    tokens: int  # the prompt's tokens the counters were charged
    cost: int  # the micro-dollars they were charged


class CountersStep(PolicyStep):
    name = "counters"

    def __init__(
        self, counters: Counters, policies: Sequence[CountedPolicy], *, on_store_error: StoreErrorReport
    ) -> None:
        self._counters = counters
        self._policies = tuple(policies)
        self._on_store_error = on_store_error
        self._settler = Settler(counters, on_store_error)
        self._shapes = _Shapes(None, 0)

    async def admit(self, ctx: CallContext) -> None:
        if not ctx.snapshot.limits:
            return
        shape = self._known_shape(ctx)
        # Each round after the first follows a change of the call, which each policy makes at most once.
        for _ in range(len(self._policies) + 1):
            if shape is None:
                return
            tokens = await ctx.prompt_tokens() if shape.tokens else 0
            cost = max_cost(ctx.body, ctx.route) if shape.cost else 0
            measured = (1, tokens, cost)
            amounts = [measured[charge] for charge in shape.charges]
            try:
                admission = await self._counters.admit(shape.counters, amounts, ctx.now)
            except CounterStoreDown as exc:
                store_down(ctx, self._on_store_error, exc, admitting=True)
                for policy, _ in shape.parts:
                    ctx.outcome(policy.name, "store unreachable: served")
                return
            used, refused, start = admission.used, admission.refused, 0
            for policy, counters in shape.parts:
                end = start + len(counters)
                if refused is None:
                    policy.admitted(ctx, counters, used[start:end])
                elif start <= refused < end:
                    policy.refused(ctx, counters, refused - start, used[start:end])
                    break
                start = end
            if refused is None:
                ctx.state[self.name] = _Admitted(shape, tokens, cost)
                return
            shape = self._shape(ctx)
        raise RuntimeError("a counted policy changed the call more than once")

    def _known_shape(self, ctx: CallContext) -> _Shape | None:
        minute = int(ctx.now // 60)
        shapes = self._shapes
        if shapes.snapshot is not ctx.snapshot or shapes.minute != minute:
            shapes = self._shapes = _Shapes(ctx.snapshot, minute)
        key, sub = ctx.key, ctx.subscription
        call = (
            ctx.tenant_id,
            key.key_id if key is not None else 0,
            sub.subscription_id if sub is not None else 0,
            ctx.route.route_id,
        )
        try:
            return shapes.made[call]
        except KeyError:
            shape = self._shape(ctx)  # may raise a refusal: nothing is kept then
            if len(shapes.made) < SHAPES_CAP:
                shapes.made[call] = shape
            return shape

    def _shape(self, ctx: CallContext) -> _Shape | None:
        scopes = call_scopes(ctx)
        if not scopes:
            return None
        parts = []
        for policy in self._policies:
            counters = tuple(policy.counted(ctx, scopes))
            if counters:
                parts.append((policy, counters))
        every = [counter for _, counters in parts for counter in counters]
        if not every:
            return None
        settled = [counter for counter in every if counter.charge != REQUESTS]
        return _Shape(
            parts=tuple(parts),
            counters=CounterSet(
                keys=tuple(c.key for c in every),
                limits=tuple(c.limit for c in every),
                resets=tuple(c.resets_at for c in every),
            ),
            charges=tuple(c.charge for c in every),
            tokens=any(c.charge == PROMPT_TOKENS for c in every),
            cost=any(c.charge == MAX_COST for c in every),
            settled_keys=tuple(c.key for c in settled),
            settled_charges=tuple(c.charge for c in settled),
        )

    async def _settle(self, ctx: CallContext, *, succeeded: bool) -> None:
        admitted: _Admitted | None = ctx.state.get(self.name)
        if admitted is None or not admitted.shape.settled_keys:
            return
        # Succeeded: the real tokens and cost instead of the estimates. Failed: those back; the request stays
        # counted (it was made).
        if succeeded:
            measured = (0, ctx.usage.total_tokens - admitted.tokens, micro_dollars(ctx.cost) - admitted.cost)
        else:
            measured = (0, -admitted.tokens, -admitted.cost)
        if measured[1] or measured[2]:
            amounts = [measured[charge] for charge in admitted.shape.settled_charges]
            await self._settler.add(ctx, admitted.shape.settled_keys, amounts)

    async def after_call(self, ctx: CallContext) -> None:
        await self._settle(ctx, succeeded=True)

    async def on_failure(self, ctx: CallContext, error: BaseException | None) -> None:
        await self._settle(ctx, succeeded=False)

    async def settled(self) -> None:
        """Wait for the settlements still running in the background (Settler)."""
        await self._settler.settled()

    async def end_of_loop(self) -> None:
        await self.settled()
        await self._counters.aclose()
