"""Moving call records from the Redis stream into the database (the Celery task `call_logs_ingest`).

The data plane XADDs one entry per batch of records (apps/gateway/adapters/stream_sink.py). Readers share a
consumer group: an entry is acknowledged and deleted only after the batch holding it is committed, so a reader that
dies mid-batch leaves its entries pending, and the next reader claims them once they have been idle for
`claim_idle_ms`. Writing is idempotent (services/calls.py), so a batch written twice is stored once. While
the database is down, nothing is acknowledged: entries wait in Redis and are written on a later run.

Every process and thread is a consumer of its own, and Redis keeps a consumer until it is deleted: each run
deletes those that hold nothing and have been idle longer than `consumer_idle_ms` (processes gone with a restart;
one still alive simply comes back on its next read)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import redis
from django.conf import settings

from apps.analytics.services.calls import call_logs_record
from apps.analytics.services.rollups import rollups_catch_up

logger = logging.getLogger(__name__)

RECORD_FIELD = b"r"

# Deletes the group's consumers, other than ARGV[3] (the one running it), that hold no pending entry and have been
# idle longer than ARGV[2] ms, in one atomic step: a consumer that reads between the check and the delete would
# lose the entries it was just given.
PRUNE_CONSUMERS_SCRIPT = """
local removed = {}
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = {}
  for i = 1, #consumer, 2 do fields[consumer[i]] = consumer[i + 1] end
  if fields['name'] ~= ARGV[3] and fields['pending'] == 0 and fields['idle'] > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
    table.insert(removed, fields['name'])
  end
end
return removed
"""


def records_encode(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """A batch of records as a stream entry's value (the data plane's side of the format)."""
    return orjson.dumps(rows, default=str)  # Decimal cost → "0.00012"


def records_decode(raw: bytes) -> list[dict[str, Any]]:
    rows = orjson.loads(raw)
    if not isinstance(rows, list) or not all(isinstance(row, dict) and "request_id" in row for row in rows):
        raise ValueError("not a list of call records")
    for row in rows:
        row["cost"] = Decimal(row.get("cost") or 0)
    return rows


def consumer_name() -> str:
    """One consumer per process and thread: its pending entries are its own to retry."""
    return f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"


@dataclass
class IngestResult:
    written: int = 0
    entries: int = 0
    undecodable: int = 0
    claimed: int = 0
    consumers_removed: int = 0
    oldest: float | None = None  # unix time of the oldest record written


def stream_group_ensure(client: redis.Redis, stream: str, group: str) -> None:
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def call_logs_ingest(
    *,
    client: redis.Redis,
    stream: str | None = None,
    group: str | None = None,
    consumer: str | None = None,
    batch: int = 10,
    claim_idle_ms: int | None = None,
    consumer_idle_ms: int | None = None,
    max_seconds: float = 50.0,
    write: Callable[..., int] = call_logs_record,
) -> IngestResult:
    """Write what waits in the stream, `batch` entries (each up to a few hundred records) per INSERT: this
    consumer's own unacknowledged entries first (a failed write of an earlier run), then entries another
    consumer left idle too long (it died), then new ones. Stops when the stream is drained or after
    `max_seconds`; a failed write raises and leaves its entries pending. Late records (older than the
    rollup refresh's look-back) get their rollups recomputed once, at the end; then consumers idle longer than
    `consumer_idle_ms` with nothing pending are deleted from the group."""
    stream = stream or settings.ANALYTICS_CALL_STREAM
    group = group or settings.ANALYTICS_CALL_STREAM_GROUP
    consumer = consumer or consumer_name()
    claim_idle_ms = settings.ANALYTICS_INGEST_CLAIM_IDLE_MS if claim_idle_ms is None else claim_idle_ms
    consumer_idle_ms = settings.ANALYTICS_INGEST_CONSUMER_IDLE_MS if consumer_idle_ms is None else consumer_idle_ms
    stream_group_ensure(client, stream, group)
    result = IngestResult()
    deadline = time.monotonic() + max_seconds
    try:
        _drain_all(client, stream, group, consumer, batch, claim_idle_ms, deadline, write, result)
    finally:
        if result.oldest is not None:  # once per run: a backlog of late batches is re-rolled once, not per batch
            rollups_catch_up(oldest=datetime.fromtimestamp(result.oldest, tz=UTC))
    # After the claims: a dead consumer's entries have moved to this one, so it holds nothing and can go.
    result.consumers_removed = len(
        stream_consumers_prune(client, stream, group, idle_ms=consumer_idle_ms, keep=consumer)
    )
    return result


def stream_consumers_prune(client: redis.Redis, stream: str, group: str, *, idle_ms: int, keep: str) -> list[str]:
    """Delete the consumers with no pending entry idle longer than `idle_ms`, except `keep` (the caller, whose
    last read may be older than the bound when its own batch was slow to write); their names."""
    names = client.eval(PRUNE_CONSUMERS_SCRIPT, 1, stream, group, idle_ms, keep)
    removed = [name.decode() if isinstance(name, bytes) else name for name in names]
    if removed:
        logger.info("call-log stream: removed %d idle consumer(s) of %s: %s", len(removed), group, ", ".join(removed))
    return removed


def _drain_all(client, stream, group, consumer, batch, claim_idle_ms, deadline, write, result: IngestResult) -> None:
    def drain(fetch: Callable[[], list]) -> None:
        while time.monotonic() < deadline:
            entries = fetch()
            if not entries:
                return
            _write_and_ack(client, stream, group, entries, write, result)

    drain(lambda: _read(client, stream, group, consumer, "0", batch))
    cursor = "0-0"

    def claim() -> list:
        nonlocal cursor
        if cursor is None:
            return []
        cursor, entries, _deleted = client.xautoclaim(stream, group, consumer, claim_idle_ms, cursor, count=batch)
        cursor = None if cursor in (b"0-0", "0-0") else cursor
        result.claimed += len(entries)
        return entries

    drain(claim)
    drain(lambda: _read(client, stream, group, consumer, ">", batch))


def _read(client: redis.Redis, stream: str, group: str, consumer: str, start: str, batch: int) -> list:
    answer = client.xreadgroup(group, consumer, {stream: start}, count=batch)
    return answer[0][1] if answer else []


def _write_and_ack(client, stream, group, entries, write, result: IngestResult) -> None:
    ids, rows = [], []
    for entry_id, fields in entries:
        ids.append(entry_id)
        if not fields:  # deleted after it was delivered: nothing left to write
            continue
        try:
            rows.extend(records_decode(fields[RECORD_FIELD]))
        except (KeyError, ValueError, ArithmeticError):
            # Not a record this code can read (a foreign writer): acknowledged so it cannot block the stream.
            result.undecodable += 1
            logger.error("call-log stream entry %s holds no call records; dropped", entry_id)
    if rows:
        result.written += write(records=rows, catch_up=False)
        oldest = min(row["created"] for row in rows)
        result.oldest = oldest if result.oldest is None else min(result.oldest, oldest)
    pipe = client.pipeline(transaction=False)
    pipe.xack(stream, group, *ids)
    pipe.xdel(stream, *ids)
    pipe.execute()
    result.entries += len(ids)


def stream_backlog(client: redis.Redis, stream: str | None = None, group: str | None = None) -> dict[str, int]:
    """How much waits: entries (batches) in the stream and entries delivered but not acknowledged."""
    stream = stream or settings.ANALYTICS_CALL_STREAM
    group = group or settings.ANALYTICS_CALL_STREAM_GROUP
    length = client.xlen(stream)
    try:
        pending = client.xpending(stream, group)["pending"]
    except redis.ResponseError:  # no group yet
        pending = 0
    return {"length": length, "pending": pending}
