"""The semantic cache (opt-in per service or route: CachePolicy.semantic): a chat call whose exact key misses may
reuse the answer of an earlier prompt that means the same.

The prompt's text (its messages' text) is embedded through the policy owner's embedding route
(`semantic_route`), with the pipeline's own clients and router; the nearest stored prompt of the same caller tenant,
service or route, and parameters (everything in the body but the messages) is found by cosine similarity, and its
answer is reused when the similarity reaches `semantic_threshold`. On a miss the prompt's vector is remembered,
with the exact key its answer is stored under, in a list of the VECTORS_CAP most recent per scope. Vectors are
kept normalised (float32), so the similarity is a dot product; the search is brute force, in a worker thread past
OFF_LOOP_AFTER vectors.

The embedding is a call of its own, recorded as one (endpoint `semantic_cache`, request id `<the call's>.semantic`)
of the tenant whose route embeds — with its tokens, cost, latency and outcome — so that the owner's call log and
spend show what the cache costs. It is not in the caller's usage, nor counted against limits or budgets. A failed
embedding is a miss, never a failed call."""

from __future__ import annotations

import asyncio
import logging
import math
import operator
from array import array
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from apps.gateway.pipeline.errors import GatewayError
from apps.gateway.pipeline.policies.base import CallContext
from apps.gateway.pipeline.policies.cache import NOT_IN_KEY, CacheStore, Throttled, cache_key
from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.router import Attempt, RouteOutcome, Router
from apps.gateway.pipeline.seam import upstream_for
from apps.gateway.pipeline.snapshot import CachePolicy, RouteEntry
from apps.providers.clients.base import EmbeddingResult, ProviderClient, Usage

_log = logging.getLogger(__name__)

VECTORS_CAP = 1000  # per scope: the most recent prompts
OFF_LOOP_AFTER = 200  # a search over more vectors than this leaves the event loop
_KEY_BYTES = 32  # a sha256 answer key, stored raw in front of its vector

ENDPOINT = "semantic_cache"  # the embedding calls' endpoint in the call log

Embed = Callable[[CallContext, RouteEntry, str], Awaitable[Sequence[float]]]


class UpstreamCaller(Protocol):
    """What embedding needs of the pipeline (GatewayPipeline): its router and its pooled clients, and recording."""

    router: Router

    def client_for(self, attempt: Attempt) -> ProviderClient: ...

    def now(self) -> float: ...

    def clock(self) -> float: ...

    def account(self, record: CallRecord, usage: Usage, outcome: RouteOutcome) -> None: ...

    def record_call(self, record: CallRecord, outcome: RouteOutcome | None, *, started: float) -> None: ...


def router_embedder(caller: Callable[[], UpstreamCaller]) -> Embed:
    """Embeddings as the pipeline calls them: the route's deployments, with its retries and failover, each recorded
    as a call of the route's tenant. `caller` gives the pipeline when first needed (the pipeline is built with its
    steps, this one among them)."""

    async def embed(ctx: CallContext, route: RouteEntry, text: str) -> Sequence[float]:
        pipeline = caller()
        started = pipeline.clock()
        record = CallRecord(
            request_id=f"{ctx.record.request_id}.semantic",
            created=pipeline.now(),
            endpoint=ENDPOINT,
            tenant_id=route.tenant_id,
            route=route.alias,
        )
        if ctx.key is not None and ctx.key.tenant_id == route.tenant_id:  # the owner's own app calling
            record.app_id, record.key_prefix = ctx.key.app_id, ctx.key.prefix
        if ctx.service is not None and ctx.service.tenant_id == route.tenant_id:
            record.service_id = ctx.service.service_id
        outcome = RouteOutcome()

        async def call(attempt: Attempt) -> EmbeddingResult:
            body = {"model": route.alias, "input": text}
            return await pipeline.client_for(attempt).embeddings(upstream_for(attempt), body)

        try:
            result = await pipeline.router.run(route, call, outcome=outcome)
        except GatewayError as exc:
            record.status, record.error_type = exc.status, exc.code or exc.type
            pipeline.record_call(record, outcome, started=started)
            raise
        pipeline.account(record, result.usage, outcome)
        record.status = 200
        pipeline.record_call(record, outcome, started=started)
        vector: Sequence[float] = result.body["data"][0]["embedding"]
        return vector

    return embed


def prompt_text(messages: Iterable[Any] | None) -> str:
    """The text of the messages, one `role: text` line each (text parts joined; images and tool calls left out)."""
    lines = []
    for message in messages or ():
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(
                str(part.get("text") or "") for part in content if isinstance(part, dict) and part.get("type") == "text"
            )
        if isinstance(content, str) and content:
            lines.append(f"{message.get('role', '')}: {content}")
    return "\n".join(lines)


def unit_vector(values: Sequence[float]) -> array[float] | None:
    norm = math.sqrt(math.fsum(v * v for v in values))
    if not norm or not math.isfinite(norm):
        return None
    return array("f", (v / norm for v in values))


def pack(answer_key: str, vector: array[float]) -> bytes:
    return bytes.fromhex(answer_key) + vector.tobytes()


def nearest(items: Sequence[bytes], query: array[float], threshold: float) -> str | None:
    """The answer key of the most similar item at or above `threshold` (the most recent among equals)."""
    best, best_key = threshold, None
    width = len(query) * query.itemsize
    for item in items:
        if len(item) != _KEY_BYTES + width:  # another embedding model's vector
            continue
        vector = array("f")
        vector.frombytes(item[_KEY_BYTES:])
        similarity = math.fsum(map(operator.mul, vector, query))
        if similarity >= best and (best_key is None or similarity > best):
            best, best_key = similarity, item[:_KEY_BYTES].hex()
    return best_key


def semantic_scope(ctx: CallContext) -> str:
    """The caller's tenant, the route, the service and the parameters: everything that decides the answer but
    the messages."""
    params = {name: value for name, value in ctx.body.items() if name != "messages" and name not in NOT_IN_KEY}
    service_id = ctx.service.service_id if ctx.service is not None else None
    return "sem:" + cache_key(
        tenant_id=ctx.tenant_id, route_alias=ctx.route.alias, service_id=service_id, kind="chat", body=params
    )


def embedding_route(ctx: CallContext, policy: CachePolicy) -> RouteEntry | None:
    """`semantic_route` of the tenant that set the policy: the service's owner, or the route's."""
    if not policy.semantic_route:
        return None
    service = ctx.service
    owner = ctx.route.tenant_id
    if service is not None and ctx.snapshot.service_cache.get(service.service_id) is policy:
        owner = service.tenant_id
    return ctx.snapshot.routes.get((owner, policy.semantic_route))


class SemanticCache:
    def __init__(self, embed: Embed, *, cap: int = VECTORS_CAP, off_loop_after: int = OFF_LOOP_AFTER) -> None:
        self._embed = embed
        self._cap = cap
        self._off_loop_after = off_loop_after
        self._failures = Throttled(60.0)

    async def find(self, ctx: CallContext, policy: CachePolicy, store: CacheStore) -> tuple[str | None, Any]:
        route = embedding_route(ctx, policy)
        text = prompt_text(ctx.body.get("messages"))
        if route is None or not text:
            return None, None
        try:
            query = unit_vector(await self._embed(ctx, route, text))
        except Exception as exc:  # a provider's failure, or an answer without a vector: a miss, not a failure
            if (suppressed := self._failures.due()) is not None:
                _log.warning(
                    "semantic cache: embedding through %r failed (%s; %d more not logged)", route.alias, exc, suppressed
                )
            return None, None
        if query is None:
            return None, None
        scope = semantic_scope(ctx)
        items = await store.recent(scope)
        threshold = policy.semantic_threshold
        if len(items) > self._off_loop_after:
            answer_key = await asyncio.to_thread(nearest, items, query, threshold)
        else:
            answer_key = nearest(items, query, threshold)
        return answer_key, (scope, query)

    async def remember(self, policy: CachePolicy, store: CacheStore, found: Any, answer_key: str) -> None:
        scope, query = found
        await store.remember(scope, pack(answer_key, query), ttl=policy.ttl_seconds, cap=self._cap)
