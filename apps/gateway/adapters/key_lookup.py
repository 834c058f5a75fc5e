"""Key ids the snapshot does not know, looked up in the database: a key issued a moment ago answers at once.

Each id is looked up once: concurrent requests with it share one query, and the answer (an entry, or none) is
kept until the snapshot is replaced and at most `keep_seconds`. Lookups are budgeted per process
(`per_second`, a token bucket): past the budget an unknown id is refused without a query, so a flood of
made-up keys costs the database at most that many queries a second, and the answers kept are capped
(`max_entries`, the oldest dropped first)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from apps.gateway.pipeline.snapshot import KeyEntry

logger = logging.getLogger(__name__)


class UnknownKeys:
    def __init__(
        self,
        *,
        fetch: Callable[[str], Awaitable[KeyEntry | None]],
        per_second: float = 50.0,
        keep_seconds: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._per_second = per_second
        self._keep_seconds = keep_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._answers: OrderedDict[str, tuple[float, KeyEntry | None]] = OrderedDict()  # id → (until, answer)
        self._pending: dict[str, asyncio.Task[KeyEntry | None]] = {}
        self._tokens = per_second
        self._refilled_at = clock()
        self._generation = 0

    def forget(self) -> None:
        """A new snapshot is in: it knows every key these answers were about, and any revocation since."""
        self._answers.clear()
        self._generation += 1

    async def find(self, lookup_id: str) -> KeyEntry | None:
        kept = self._answers.get(lookup_id)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        lookup = self._pending.get(lookup_id)
        if lookup is None:
            if not self._take_token():
                return None
            lookup = self._pending[lookup_id] = asyncio.get_running_loop().create_task(self._lookup(lookup_id))
        # Shielded: a client that leaves does not cancel the query the others wait for.
        return await asyncio.shield(lookup)

    async def _lookup(self, lookup_id: str) -> KeyEntry | None:
        generation = self._generation
        try:
            answer = await self._fetch(lookup_id)
        except Exception:
            logger.exception("looking up an API key id failed; the key is refused")
            return None
        finally:
            del self._pending[lookup_id]
        if generation == self._generation:  # an answer read before a newer snapshot is not kept past it
            self._keep(lookup_id, answer)
        return answer

    def _keep(self, lookup_id: str, answer: KeyEntry | None) -> None:
        self._answers[lookup_id] = (self._clock() + self._keep_seconds, answer)
        self._answers.move_to_end(lookup_id)
        while len(self._answers) > self._max_entries:
            self._answers.popitem(last=False)

    def _take_token(self) -> bool:
        now = self._clock()
        self._tokens = min(self._per_second, self._tokens + (now - self._refilled_at) * self._per_second)
        self._refilled_at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
