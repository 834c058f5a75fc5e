"""A minimal pipelined Redis client (RESP2) for the data plane's hot path: the limit and budget counters and the
response cache. redis-py's asyncio client costs ~60-100 µs of CPU per command (a pool checkout under an asyncio
timeout, a connection's lock, its parser); here a command is one write and one future.

One connection per event loop, shared by every caller on it (RespClient.shared: the counters and the cache of a
call share it too): the commands of one turn of the loop are written together (concurrent calls share a syscall)
and replies matched to them in order (Redis answers a connection's commands in the order it got them). Lazy
commands, whose reply nobody waits for on an answer's path (settlements, cache writes), wait up to LAZY_WRITE for
another write to go with. No asyncio timeout per command: one timer per connection, running only while replies
are awaited, fails each command that has waited longer than its own timeout (its late reply is read past when it
comes), and drops the connection once the oldest reply is DROP_AFTER times the longest timeout late (Redis hung,
or a connection gone without a reset). A broken or refused connection fails its commands at once; the next
command opens a new one. No retries: the callers decide what a failure means (a cache miss, the tenant's
fail-open setting).

Not for anything else: no pub/sub, no transactions, no cluster; the control plane uses redis-py."""

from apps.gateway.adapters.resp.client import RespClient
from apps.gateway.adapters.resp.protocol import (
    Arg,
    Reply,
    RespConnectionError,
    RespError,
    RespTimeout,
    Script,
    bulk_strings,
)

__all__ = [
    "Arg",
    "Reply",
    "RespClient",
    "RespConnectionError",
    "RespError",
    "RespTimeout",
    "Script",
    "bulk_strings",
]
