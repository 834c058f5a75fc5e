"""Keeps each process's configuration snapshot fresh without putting the database on the request path.

A request reads the snapshot in memory. At most once per poll interval, a request schedules a background
check of the config version counter (one indexed query, in a worker thread); only when it moved is the
snapshot rebuilt, then swapped in one assignment."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from asgiref.sync import sync_to_async

from apps.gateway.pipeline.snapshot import EMPTY_SNAPSHOT, Snapshot

logger = logging.getLogger(__name__)


class SnapshotStore:
    def __init__(
        self,
        *,
        build: Callable[[], Snapshot],
        read_version: Callable[[], int],
        poll_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build = sync_to_async(build, thread_sensitive=False)
        self._read_version = sync_to_async(read_version, thread_sensitive=False)
        self.poll_seconds = poll_seconds
        self._clock = clock
        self._snapshot = EMPTY_SNAPSHOT
        self._checked_at = 0.0
        self._refreshing: asyncio.Task | None = None
        self._first_build: dict[int, asyncio.Lock] = {}  # per event loop: a lock cannot cross loops

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    async def current(self) -> Snapshot:
        if self._snapshot is EMPTY_SNAPSHOT:
            await self._build_first()
        elif self._clock() - self._checked_at >= self.poll_seconds and (
            self._refreshing is None or self._refreshing.done()
        ):
            self._checked_at = self._clock()
            self._refreshing = asyncio.get_running_loop().create_task(self._refresh_quietly())
        return self._snapshot

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
            self._snapshot = await self._build()
        return self._snapshot

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception:
            # Keep serving the last good snapshot; the next poll tries again.
            logger.exception("gateway snapshot refresh failed")
