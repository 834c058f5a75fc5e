"""Counters of the limit and budget steps: fixed windows aligned to UTC minutes, days and calendar months, checked
and added atomically, across every worker process with Redis (apps/gateway/adapters/redis_counters.py) or within
one process on the embedded default (LocalCounters below; same semantics).

A counter is one key per scope, metric and window: `gw:lim:{scope}:{id}:{metric}:{window_start}`. Its window's end
is both when the limit resets and when the counter expires, so nothing needs sweeping in Redis. Money is counted in
integer micro-dollars, tokens and requests as themselves."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

WINDOWS = ("minute", "day", "month")
_month = [0, 0]  # the last calendar month computed: every call of the month reuses it (a datetime costs ~2 µs)


def window_bounds(window: str, now: float) -> tuple[int, int]:
    """The (start, end) unix seconds of the UTC window holding `now`: a minute, a day, or a calendar month."""
    if window == "minute":
        start = int(now // 60) * 60
        return start, start + 60
    if window == "day":  # unix time has no leap seconds: every UTC day is 86,400 s
        start = int(now // 86_400) * 86_400
        return start, start + 86_400
    if window == "month":
        if _month[0] <= now < _month[1]:
            return _month[0], _month[1]
        moment = datetime.fromtimestamp(now, tz=UTC)
        first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (
            first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)
        )
        _month[:] = int(first.timestamp()), int(following.timestamp())
        return _month[0], _month[1]
    raise ValueError(f"unknown window {window!r}")


def counter_key(scope: str, scope_id: int, metric: str, window_start: int) -> str:
    return f"gw:lim:{scope}:{scope_id}:{metric}:{window_start}"


# What a counter is charged for each call (Counter.charge): one request; the prompt's tokens as the gateway
# estimates them, settled to the call's real total tokens; the most the call may cost in micro-dollars, settled to
# its real cost.
REQUESTS, PROMPT_TOKENS, MAX_COST = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Counter:
    """A counter a call must fit in, as a counted policy declares it (policies/admission.py)."""

    key: str
    limit: int
    resets_at: int  # the window's end, unix seconds: the counter expires then
    charge: int  # REQUESTS, PROMPT_TOKENS or MAX_COST
    about: Any = None  # the policy's own: what its headers and refusals say of the counter


@dataclass(slots=True, eq=False)
class CounterSet:
    """Counters admitted together: each one's key, limit, and window's end in unix seconds (when it resets, and
    when it expires). A call's set is the same for every call of its scopes and route in a minute: it is made
    once (policies/admission.py), and a store may keep its own encoding of it in `prepared`."""

    keys: tuple[str, ...]
    limits: tuple[int, ...]
    resets: tuple[int, ...]
    prepared: Any = None


@dataclass(frozen=True, slots=True)
class Admission:
    refused: int | None  # index of the first counter that did not fit (nothing was added); None: all were added
    used: tuple[int, ...]  # each counter's value after the admission (refused: as it was)

    @property
    def admitted(self) -> bool:
        return self.refused is None


class CounterStoreDown(Exception):
    """The counter store cannot be reached; the steps serve or refuse by the tenant's fail-open setting."""


class Counters(Protocol):
    remote: bool  # a round trip away: settling is then left to a background task (policies/scopes.py: Settler)

    async def admit(self, counters: CounterSet, amounts: Sequence[int], now: float) -> Admission:
        """Only if every amount fits (counter + amount <= limit), add them all; one atomic step."""
        ...

    async def add(self, keys: Sequence[str], amounts: Sequence[int], now: float) -> None:
        """Add the amounts (settling, giving back: negative) to counters of windows that are still live."""
        ...

    def read(self, keys: Sequence[str], now: float) -> list[int]:
        """The counters' current values (0 for absent or expired ones), for the control plane's usage pages."""
        ...

    async def aclose(self) -> None:
        """Before the running event loop ends: let what was sent on it arrive, close what is held for it."""
        ...


class LocalCounters:
    """The counters of one process (the embedded default without Redis). A lock, not the event loop, makes each
    admission atomic: the control plane reads them from its own threads."""

    remote = False
    sweep_every = 60.0  # seconds of the callers' clock between two sweeps of expired counters

    def __init__(self) -> None:
        self._values: dict[str, tuple[int, int]] = {}  # key → (value, expires at)
        self._lock = threading.Lock()
        self._swept_at = 0.0

    def _get(self, key: str, now: float) -> int:
        entry = self._values.get(key)
        return entry[0] if entry is not None and entry[1] > now else 0

    def _sweep(self, now: float) -> None:
        if abs(now - self._swept_at) >= self.sweep_every:
            self._swept_at = now
            self._values = {k: v for k, v in self._values.items() if v[1] > now}

    def admit_now(self, counters: CounterSet, amounts: Sequence[int], now: float) -> Admission:
        keys, limits = counters.keys, counters.limits
        with self._lock:
            self._sweep(now)
            values = self._values
            used = []
            for key in keys:
                entry = values.get(key)
                used.append(entry[0] if entry is not None and entry[1] > now else 0)
            for index, value in enumerate(used):
                if value + amounts[index] > limits[index]:
                    return Admission(refused=index, used=tuple(used))
            resets = counters.resets
            for index, key in enumerate(keys):
                used[index] += amounts[index]
                values[key] = (used[index], resets[index])
            return Admission(refused=None, used=tuple(used))

    async def admit(self, counters: CounterSet, amounts: Sequence[int], now: float) -> Admission:
        return self.admit_now(counters, amounts, now)

    async def add(self, keys: Sequence[str], amounts: Sequence[int], now: float) -> None:
        with self._lock:
            values = self._values
            for key, amount in zip(keys, amounts, strict=True):
                entry = values.get(key)
                if entry is not None and entry[1] > now:  # a window that ended stays ended
                    values[key] = (entry[0] + amount, entry[1])

    def read(self, keys: Sequence[str], now: float) -> list[int]:
        with self._lock:
            return [self._get(key, now) for key in keys]

    async def aclose(self) -> None:
        return None
