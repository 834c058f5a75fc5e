"""Keeps each process's configuration snapshot fresh without putting the database on the request path.

A request reads the snapshot in memory. Once started (ASGI lifespan), a background task checks the config
version counter every poll interval, traffic or not (one indexed query, in a worker thread), and at once when
the feed (Redis pub/sub) announces a new version; only when the version moved is the snapshot rebuilt, then
swapped in one assignment. A key id the snapshot does not know is looked up in the database (UnknownKeys).

An ASGI server that runs no lifespan gets the older scheme: at most once per poll interval, a request
schedules the check in the background (and is answered from the snapshot it found)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from asgiref.sync import sync_to_async

from apps.core.tokens import LOOKUP_LENGTH
from apps.gateway.adapters.key_lookup import UnknownKeys
from apps.gateway.pipeline.snapshot import EMPTY_SNAPSHOT, KeyEntry, Snapshot

logger = logging.getLogger(__name__)


class ConfigFeed(Protocol):
    def listen(self, changed: Callable[[int | None], None]) -> Awaitable[None]:
        """Until cancelled, call `changed` with each announced version (None: check the database)."""


class SnapshotStore:
    def __init__(
        self,
        *,
        build: Callable[[], Snapshot],
        read_version: Callable[[], int],
        find_key: Callable[[str], KeyEntry | None],
        feed: ConfigFeed | None = None,
        poll_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build = sync_to_async(build, thread_sensitive=False)
        self._read_version = sync_to_async(read_version, thread_sensitive=False)
        self._unknown_keys = UnknownKeys(fetch=sync_to_async(find_key, thread_sensitive=False), clock=clock)
        self._feed = feed
        self.poll_seconds = poll_seconds
        self._clock = clock
        self._snapshot = EMPTY_SNAPSHOT
        self._checked_at = 0.0
        self._refreshing: asyncio.Task | None = None
        self._first_build: dict[int, asyncio.Lock] = {}  # per event loop: a lock cannot cross loops
        self._tasks: list[asyncio.Task] = []
        self._wake: asyncio.Event | None = None
        self._failing = False

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    async def current(self) -> Snapshot:
        if self._snapshot is EMPTY_SNAPSHOT:
            await self._build_first()
        elif (
            not self._tasks
            and self._clock() - self._checked_at >= self.poll_seconds
            and (self._refreshing is None or self._refreshing.done())
        ):
            self._checked_at = self._clock()
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh_quietly())
        return self._snapshot

    async def find_key(self, lookup_id: str) -> KeyEntry | None:
        """A key id the snapshot does not know: issued since it was built, or not a key at all."""
        if len(lookup_id) != LOOKUP_LENGTH:  # never issued (apps.core.tokens): no query
            return None
        return await self._unknown_keys.find(lookup_id)

    async def start(self) -> None:
        """At a worker's start: its first snapshot, then the background check and the feed."""
        self._wake = asyncio.Event()
        await self._refresh_quietly()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._keep_fresh(self._wake), name="gateway-snapshot-poll")]
        if self._feed is not None:
            self._tasks.append(loop.create_task(self._feed.listen(self.changed), name="gateway-config-feed"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def changed(self, version: int | None) -> None:
        """The feed's news: a new version (or None: maybe one) to check for now rather than at the next poll."""
        if self._wake is not None and (version is None or version > self._snapshot.version):
            self._wake.set()

    async def _keep_fresh(self, wake: asyncio.Event) -> None:
        while True:
            due_in = self._checked_at + self.poll_seconds - self._clock()
            try:
                await asyncio.wait_for(wake.wait(), timeout=max(0.0, due_in))
            except TimeoutError:
                if self._clock() - self._checked_at < self.poll_seconds:
                    continue  # the interval was made longer meanwhile
            # Cleared before the check: news arriving during it wakes the loop again, since the check may
            # have read the version just before that news.
            wake.clear()
            await self._refresh_quietly()

    async def _build_first(self) -> None:
        lock = self._first_build.setdefault(id(asyncio.get_running_loop()), asyncio.Lock())
        async with lock:
            if self._snapshot is EMPTY_SNAPSHOT:
                await self.refresh(force=True)

    async def refresh(self, *, force: bool = False) -> Snapshot:
        """Rebuild when the version moved (or always, with force). Tests await this after changing config."""
        self._checked_at = self._clock()
        version = await self._read_version()
        if force or version != self._snapshot.version:
            snapshot = await self._build()
            # Builds running side by side (a test's refresh and the background one): a slower build of an
            # older version must not replace a newer snapshot.
            if snapshot.version >= self._snapshot.version:
                self._snapshot = snapshot
                self._unknown_keys.forget()
        return self._snapshot

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception:
            # Keep serving the last good snapshot; the next check tries again. Logged once per outage.
            if not self._failing:
                logger.exception("gateway snapshot refresh failed; serving the last good snapshot")
            self._failing = True
        else:
            if self._failing:
                logger.warning("gateway snapshot refresh works again")
            self._failing = False
