"""The step of the counted policies — rate limits and quotas (limits.py) and budgets (budgets.py): every charge
they have for a call is admitted in ONE atomic admission of the counters, so a call costs one round trip to Redis
whatever is configured, and N processes admit exactly what one would. Their settlements after the call go
together too (scopes.py: Settler, off the answer's path).

A refused charge adds nothing, to any counter: the policy that owns it raises its refusal (429 with the limit's
code, budget_exceeded), or changes the call — a budget sends it to a cheaper route — and the admission is tried
again with every policy's charges for the changed call (the plan's allowed models included). A refused call
counts nowhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from apps.gateway.pipeline.policies.base import CallContext, PolicyStep
from apps.gateway.pipeline.policies.counters import Charge, Counters, CounterStoreDown
from apps.gateway.pipeline.policies.scopes import Scope, Settler, StoreErrorReport, call_scopes, store_down


class CountedPolicy(Protocol):
    name: str  # its key in ctx.state and in the call's policy outcomes

    async def charges(self, ctx: CallContext, scopes: Sequence[Scope]) -> list[Charge]:
        """What the call must fit in; may raise a refusal that needs no counter (a model the plan does not allow)."""
        ...

    def admitted(self, ctx: CallContext, used: Sequence[int]) -> None:
        """Every charge was added; `used`: the value of each of this policy's counters after."""
        ...

    def refused(self, ctx: CallContext, index: int, used: Sequence[int]) -> None:
        """This policy's charge `index` did not fit (nothing was added; `used` as they were): raise the refusal,
        or change the call and return, for the admission to be tried again. A policy changes a call once."""
        ...

    def settlement(self, ctx: CallContext, *, succeeded: bool) -> list[Charge]:
        """What to add (or give back, negative) once the call is over: the real tokens and cost instead of the
        estimates, or everything back but the requests when it failed."""
        ...


class CountersStep(PolicyStep):
    name = "counters"

    def __init__(
        self, counters: Counters, policies: Sequence[CountedPolicy], *, on_store_error: StoreErrorReport
    ) -> None:
        self._counters = counters
        self._policies = tuple(policies)
        self._on_store_error = on_store_error
        self._settler = Settler(counters, on_store_error)

    async def admit(self, ctx: CallContext) -> None:
        scopes = call_scopes(ctx)
        if not scopes:
            return
        # Each round after the first follows a change of the call, which each policy makes at most once.
        for _ in range(len(self._policies) + 1):
            parts = [await policy.charges(ctx, scopes) for policy in self._policies]
            charges = [charge for part in parts for charge in part]
            if not charges:
                return
            try:
                admission = await self._counters.admit(charges, ctx.now)
            except CounterStoreDown as exc:
                store_down(ctx, self._on_store_error, exc, admitting=True)
                for policy, part in zip(self._policies, parts, strict=True):
                    if part:
                        ctx.outcome(policy.name, "store unreachable: served")
                return
            start = 0
            for policy, part in zip(self._policies, parts, strict=True):
                end = start + len(part)
                if admission.refused is None:
                    policy.admitted(ctx, admission.used[start:end])
                elif start <= admission.refused < end:
                    policy.refused(ctx, admission.refused - start, admission.used[start:end])
                    break
                start = end
            if admission.refused is None:
                return
        raise RuntimeError("a counted policy changed the call more than once")

    async def _settle(self, ctx: CallContext, *, succeeded: bool) -> None:
        charges = [c for policy in self._policies for c in policy.settlement(ctx, succeeded=succeeded)]
        if charges:
            await self._settler.add(ctx, charges)

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
