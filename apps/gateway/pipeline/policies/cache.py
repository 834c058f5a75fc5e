"""Response caching as a policy step: an exact-match cache of complete answers, and (opt-in) a semantic one.

A call is cached when its service or its route has a CachePolicy (the service's wins). The key is a sha256 of the
canonical JSON (sorted keys) of the caller's tenant, the route alias, the service, the endpoint kind and the body
without NOT_IN_KEY. A hit answers instead of the upstream (the skeleton records it as a hit costing nothing, and
replays it as a stream when the caller asked for one); a miss is stored after a successful call, for the policy's
TTL. What is cached is what the operator opted into per route or service: requests with `temperature` > 0 or
`n` > 1 are cached too, and the stored sample is replayed until it expires; `Cache-Control: no-cache` asks for a
fresh one (and stores it), `no-store` keeps the answer out of the cache.

Stores (CacheStore) hold opaque bytes: the in-process MemoryCacheStore here (the embedded default), Redis in
apps/gateway/adapters/redis_cache.py. A store never fails a call: its errors are a miss or a skipped write."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from apps.gateway.pipeline.policies.base import Answer, CallContext, PolicyStep
from apps.gateway.pipeline.snapshot import CachePolicy, RouteEntry
from apps.providers.clients.base import Usage

_log = logging.getLogger(__name__)

# Body fields that do not change the answer, so calls differing only in them share an entry:
#   stream, stream_options  how the answer travels; a stored answer is replayed as a stream when asked
#   user, safety_identifier the end user, for the provider's abuse monitoring
#   metadata, store         OpenAI's stored-completions tags and whether OpenAI keeps a copy
#   prompt_cache_key        a routing hint for the provider's own prompt-prefix cache
NOT_IN_KEY = frozenset(
    {"stream", "stream_options", "user", "safety_identifier", "metadata", "store", "prompt_cache_key"}
)
MAX_ENTRY_BYTES = 1 << 20  # an answer larger than this (its JSON) is not stored


class CacheStore(Protocol):
    """Bytes by key with a TTL, and capped lists of recent items by scope (the semantic cache's vectors)."""

    remote: bool  # a round trip away: the step then looks up at admission, with the limits' and budgets' commands

    def get(self, key: str) -> Awaitable[bytes | None]:
        """The value, or None when absent, expired or unreachable. A remote store sends the lookup with the other
        commands of this turn of the loop (the awaitable is a future), so that it goes out with the admission's."""

    def put(self, key: str, value: bytes, ttl: int) -> None:
        """Store for `ttl` seconds without waiting for the store's answer: off the answer's path. Any lookup this
        process makes afterwards sees it; a failure is the store's to count and log."""

    async def recent(self, scope: str) -> list[bytes]:
        """The items remembered in `scope`, most recent first."""

    async def remember(self, scope: str, item: bytes, *, ttl: int, cap: int) -> bool:
        """Add an item in front of `scope`'s list, keep the `cap` most recent; the list lives `ttl` seconds past
        its last addition."""

    async def aclose(self) -> None:
        """Before the running event loop ends: let the writes sent on it arrive, close what is held for it."""


def cache_key(*, tenant_id: int, route_alias: str, service_id: int | None, kind: str, body: dict[str, Any]) -> str:
    """The canonical hash of what decides the answer: same request in any key order → same key."""
    kept = (
        body if NOT_IN_KEY.isdisjoint(body) else {name: value for name, value in body.items() if name not in NOT_IN_KEY}
    )
    canonical = orjson.dumps([tenant_id, route_alias, service_id, kind, kept], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def cache_directives(header: str) -> frozenset[str]:
    """The directive names of a Cache-Control header, lower-cased (`no-cache`, `no-store`; arguments dropped)."""
    return frozenset(part.split("=", 1)[0].strip().lower() for part in header.split(",") if part.strip())


def policy_for(ctx: CallContext) -> CachePolicy | None:
    if ctx.service is not None:
        policy = ctx.snapshot.service_cache.get(ctx.service.service_id)
        if policy is not None:
            return policy
    return ctx.snapshot.route_cache.get(ctx.route.route_id)


def endpoint_kind(ctx: CallContext) -> str:
    # Every surface other than embeddings (invoke included) calls the upstream's chat completions.
    return "embeddings" if ctx.record.endpoint == "embeddings" else "chat"


def encode_entry(body: dict[str, Any], usage: Usage) -> bytes:
    return orjson.dumps({"body": body, "usage": [usage.prompt_tokens, usage.completion_tokens, usage.estimated]})


def decode_entry(raw: bytes) -> Answer | None:
    """The stored answer; None (a miss) for bytes that are not an entry of this format."""
    try:
        entry = orjson.loads(raw)
        prompt, completion, estimated = entry["usage"]
        body = entry["body"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    return Answer(body=body, usage=Usage(int(prompt), int(completion), bool(estimated)), source="cache")


def stream_answer_is_whole(body: dict[str, Any]) -> bool:
    """Whether a streamed answer, assembled into one body, is all that the same request without `stream` would
    get: the assembly keeps the first choice and no logprobs, so n > 1 and logprobs streams are not stored."""
    return int(body.get("n") or 1) <= 1 and not body.get("logprobs")


class Throttled:
    """A log line at most every `seconds`: due() says how many occurrences went unlogged since the last one, or
    None when this one is not to be logged either (an outage must not flood the log)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._last: float | None = None
        self._skipped = 0

    def due(self) -> int | None:
        now = self._clock()
        if self._last is not None and now - self._last < self._seconds:
            self._skipped += 1
            return None
        skipped, self._skipped, self._last = self._skipped, 0, now
        return skipped


class SemanticLookup(Protocol):
    """The semantic cache as the step sees it (apps/gateway/pipeline/policies/semantic.py)."""

    async def find(self, ctx: CallContext, policy: CachePolicy, store: CacheStore) -> tuple[str | None, Any]:
        """(the exact key of the nearest stored prompt's answer or None, what `remember` needs on a miss)."""

    async def remember(self, policy: CachePolicy, store: CacheStore, found: Any, answer_key: str) -> None:
        """Index this call's prompt as answered under `answer_key`."""


@dataclass(slots=True)
class _Pending:
    key: str
    policy: CachePolicy
    store: bool  # not `no-store`
    route: RouteEntry  # the route and body the key was made of: a step that changes either makes a new key
    body: dict[str, Any]
    bypass: bool = False  # `no-cache`
    lookup: Awaitable[bytes | None] | None = None  # started at admission (a remote store)
    hit: bool = False
    semantic: Any = None  # the semantic lookup's query (its vector), kept for `remember`


class CacheStep(PolicyStep):
    """With a remote store (Redis), the lookup starts at admission: it goes out in the same write as the limits'
    and budgets' admission, so a cached call costs one round trip before the upstream, not two; a call those
    refuse has spent a lookup, not a round trip. The answer's write never waits for the store."""

    name = "cache"

    def __init__(
        self, store: CacheStore, *, semantic: SemanticLookup | None = None, max_entry_bytes: int = MAX_ENTRY_BYTES
    ) -> None:
        self._store = store
        self._semantic = semantic
        self._max_entry_bytes = max_entry_bytes
        self._background: set[asyncio.Task[None]] = set()  # semantic indexing under way (strong references)

    def _pending(self, ctx: CallContext, policy: CachePolicy) -> _Pending:
        directives = cache_directives(ctx.request.cache_control) if ctx.request.cache_control else frozenset()
        key = cache_key(
            tenant_id=ctx.tenant_id,
            route_alias=ctx.route.alias,
            service_id=ctx.service.service_id if ctx.service is not None else None,
            kind=endpoint_kind(ctx),
            body=ctx.body,
        )
        pending = _Pending(
            key=key,
            policy=policy,
            store="no-store" not in directives,
            route=ctx.route,
            body=ctx.body,
            bypass="no-cache" in directives,
        )
        ctx.state[self.name] = pending
        return pending

    async def admit(self, ctx: CallContext) -> None:
        if not self._store.remote:
            return
        policy = policy_for(ctx)
        if policy is not None:
            pending = self._pending(ctx, policy)
            if not pending.bypass:
                pending.lookup = self._store.get(pending.key)

    async def before_call(self, ctx: CallContext) -> Answer | None:
        pending: _Pending | None = ctx.state.get(self.name)
        if pending is not None and (pending.route is not ctx.route or pending.body is not ctx.body):
            pending = None  # a cheaper route, or a new body: the lookup made at admission is for another key
        if pending is None:
            policy = policy_for(ctx)
            if policy is None:
                ctx.state.pop(self.name, None)
                return None
            pending = self._pending(ctx, policy)
        if pending.bypass:
            ctx.headers["X-Cache"] = "BYPASS"
            ctx.outcome(self.name, "bypass")
            return None
        answer = await self._lookup(ctx, pending)
        ctx.headers["X-Cache"] = "HIT" if answer is not None else "MISS"
        ctx.outcome(self.name, "hit" if answer is not None else "miss")
        pending.hit = answer is not None
        return answer

    async def _lookup(self, ctx: CallContext, pending: _Pending) -> Answer | None:
        raw = await (pending.lookup if pending.lookup is not None else self._store.get(pending.key))
        if raw is None and pending.policy.semantic and self._semantic is not None and endpoint_kind(ctx) == "chat":
            answer_key, pending.semantic = await self._semantic.find(ctx, pending.policy, self._store)
            if answer_key is not None:
                raw = await self._store.get(answer_key)
        return decode_entry(raw) if raw is not None else None

    def wants_stream_answer(self, ctx: CallContext) -> bool:
        # Streams are cached too, assembled — but only those of a call with a cache policy that may store.
        pending: _Pending | None = ctx.state.get(self.name)
        return pending is not None and pending.store and not pending.hit

    async def after_call(self, ctx: CallContext) -> None:
        pending: _Pending | None = ctx.state.get(self.name)
        if pending is None or pending.hit or not pending.store or ctx.answer is None:
            return
        if ctx.record.status not in (0, 200) or (ctx.stream and not stream_answer_is_whole(ctx.body)):
            return
        raw = encode_entry(ctx.answer, ctx.usage)
        if len(raw) > self._max_entry_bytes:
            _log.debug("request %s: answer of %d bytes not cached", ctx.record.request_id, len(raw))
            return
        self._store.put(pending.key, raw, pending.policy.ttl_seconds)
        if pending.semantic is not None and self._semantic is not None:
            task = asyncio.ensure_future(
                self._semantic.remember(pending.policy, self._store, pending.semantic, pending.key)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        ctx.outcome(self.name, "stored")

    async def settled(self) -> None:
        """Wait for the semantic indexing still running in the background."""
        while self._background:
            await asyncio.gather(*self._background)

    async def end_of_loop(self) -> None:
        await self.settled()
        await self._store.aclose()


class MemoryCacheStore:
    """The in-process store of the embedded default: an LRU bounded by entries and by bytes, TTL honoured (an
    expired entry is dropped when met). Values are bytes, so a hit hands out a fresh copy of the answer."""

    remote = False

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 64 << 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        # key -> (expires at, value, size); a scope's list is one entry holding a deque of items
        self._entries: OrderedDict[str, tuple[float, Any, int]] = OrderedDict()
        self._bytes = 0

    @property
    def size(self) -> tuple[int, int]:
        """(entries, bytes) held now."""
        return len(self._entries), self._bytes

    async def get(self, key: str) -> bytes | None:
        value = self._live("k:" + key)
        return value if isinstance(value, bytes) else None

    def put(self, key: str, value: bytes, ttl: int) -> None:
        self._put("k:" + key, value, len(value), ttl)

    async def recent(self, scope: str) -> list[bytes]:
        items = self._live("v:" + scope)
        return list(items) if isinstance(items, deque) else []

    async def remember(self, scope: str, item: bytes, *, ttl: int, cap: int) -> bool:
        items = self._live("v:" + scope)
        if not isinstance(items, deque) or items.maxlen != cap:
            items = deque(items if isinstance(items, deque) else (), maxlen=cap)
        items.appendleft(item)
        self._put("v:" + scope, items, sum(len(i) for i in items), ttl)
        return True

    async def aclose(self) -> None:
        return None

    def _live(self, key: str) -> Any:
        found = self._entries.get(key)
        if found is None:
            return None
        expires, value, _ = found
        if expires <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    def _put(self, key: str, value: Any, size: int, ttl: int) -> None:
        self._drop(key)
        if size > self._max_bytes:
            return
        self._entries[key] = (self._clock() + ttl, value, size)
        self._bytes += size
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))  # the least recently used

    def _drop(self, key: str) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self._bytes -= found[2]
