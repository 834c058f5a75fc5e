"""The call-record sink of the embedded default: records wait in memory and are written in batches by a
background task, in a worker thread, so the request path never waits on the database.

A failed write keeps the batch and retries with backoff; records still buffered when the process exits are
written by an exit hook. (The analytics issue adds a Redis-stream sink that survives a crash.)"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from asgiref.sync import sync_to_async

from apps.gateway.pipeline.records import CallRecord

logger = logging.getLogger(__name__)

_FIELDS = tuple(field.name for field in fields(CallRecord))


def _row(record: CallRecord) -> dict[str, Any]:
    # What dataclasses.asdict gives for these flat records, without its recursive deep copy: ~6 µs a record
    # instead of ~100 µs, on the event loop (bench/, README "Performance").
    return {name: getattr(record, name) for name in _FIELDS}


class BatchingCallSink:
    def __init__(
        self,
        *,
        write: Callable[[list[Mapping[str, Any]]], int],
        flush_seconds: float = 1.0,
        max_batch: int = 1000,
        max_buffer: int = 200_000,
    ) -> None:
        self._write_sync = write
        self._write = sync_to_async(write, thread_sensitive=False)
        self._flush_seconds = flush_seconds
        self._max_batch = max_batch
        self._max_buffer = max_buffer
        self._buffer: list[dict[str, Any]] = []
        self._flushers: dict[int, asyncio.Task] = {}
        self._wake: dict[int, asyncio.Event] = {}
        self.dropped = 0

    def emit(self, record: CallRecord) -> None:
        if len(self._buffer) >= self._max_buffer:
            # Memory is finite: past the bound the oldest records go, and the count says how many.
            self._buffer.pop(0)
            self.dropped += 1
        self._buffer.append(_row(record))
        loop = asyncio.get_running_loop()
        key = id(loop)
        task = self._flushers.get(key)
        if task is None or task.done():
            self._wake[key] = asyncio.Event()
            self._flushers[key] = loop.create_task(self._run(self._wake[key]))
        if len(self._buffer) >= self._max_batch:
            self._wake[key].set()

    async def _run(self, wake: asyncio.Event) -> None:
        failures = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self._flush_seconds * (2 ** min(failures, 5)))
            wake.clear()
            try:
                await self.flush()
                failures = 0
            except Exception:
                failures += 1
                logger.exception("writing %d call records failed; they wait for the next try", len(self._buffer))

    async def flush(self) -> int:
        """Write everything buffered now; on failure the records go back to the front of the buffer."""
        written = 0
        while self._buffer:
            batch, self._buffer = self._buffer[: self._max_batch], self._buffer[self._max_batch :]
            try:
                written += await self._write(batch)
            except BaseException:
                self._buffer[:0] = batch
                raise
        return written

    def flush_at_exit(self) -> None:
        if not self._buffer:
            return
        try:
            self._write_sync(self._buffer)
            self._buffer = []
        except Exception:
            logger.exception("%d call records could not be written at exit", len(self._buffer))
