"""What the policy seam costs per call: `python bench/policy_seam.py [--calls N] [--baseline COMMIT] [--redis URL]`.

Runs the pipeline in-process (no HTTP, no database) against a provider client that answers at once with a
prepared completion, so that what is timed is the gateway's own work per call: with no policy step, and with 3
steps that do nothing at each of their four moments (the seam's own cost per step); then chat with the real
limit, budget and cache steps (in-process, and on Redis with `--redis URL` or REDIS_URL), every prompt different
so that the cache misses. `--baseline COMMIT` adds the rows of apps/gateway/pipeline/pipeline.py as it was at
COMMIT (before the seam: 48ee212), loaded from git. Prints medians of 7 interleaved rounds, in CPU µs per call
(the process's CPU time, which other load on a shared machine disturbs less than the wall clock)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import hmac
import importlib.util
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import table

from apps.gateway.pipeline.invoke import ServiceInvoker
from apps.gateway.pipeline.pipeline import GatewayPipeline
from apps.gateway.pipeline.policies.base import CallContext, PolicyStep
from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.snapshot import (
    CachePolicy,
    DeploymentEntry,
    KeyEntry,
    Limits,
    PromptEntry,
    PromptVersionEntry,
    RouteEntry,
    ServiceEntry,
    Snapshot,
)
from apps.gateway.pipeline.types import GatewayRequest
from apps.providers.clients.base import ChatResult, ChatStream, EmbeddingResult, ProviderClient, Upstream, Usage

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 7
KEY = "gwk_benchbenchbe_" + "s" * 43
PEPPER = b"bench"
USAGE = {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}
COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1,
    "model": "bench-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "a b c d e f g h"}, "finish_reason": "stop"}],
    "usage": USAGE,
}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "bench-model",
            "choices": [choice]}  # fmt: skip


# A stream of 10 content chunks, as a short answer streams.
CHUNKS = [_chunk({"role": "assistant", "content": ""})] + [_chunk({"content": f" w{i}"}) for i in range(10)]
CHUNKS += [_chunk({}, "stop"), {**_chunk({}), "choices": [], "usage": USAGE}]


class InstantClient(ProviderClient):
    kind = "bench"

    async def chat(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatResult:
        return ChatResult(COMPLETION, Usage(9, 12))

    def chat_stream(self, upstream: Upstream, request: Mapping[str, Any]) -> ChatStream:
        async def chunks() -> AsyncGenerator[dict[str, Any], None]:
            for chunk in CHUNKS:
                yield chunk

        return ChatStream(chunks(), request)

    async def embeddings(self, upstream: Upstream, request: Mapping[str, Any]) -> EmbeddingResult:
        return EmbeddingResult({"object": "list", "data": [], "model": "bench-model", "usage": USAGE}, Usage(9, 0))

    async def list_models(self, upstream: Upstream) -> list[Any]:
        return []


class Pool:
    client = InstantClient()

    def client_for(self, deployment: DeploymentEntry) -> ProviderClient:
        return self.client

    async def aclose(self) -> None:
        return None


class Config:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    async def current(self) -> Snapshot:
        return self.snapshot

    async def find_key(self, lookup_id: str) -> KeyEntry | None:
        return None


class Verifier:
    def verify(self, plaintext: str, entry: KeyEntry) -> bool:
        return hmac.compare_digest(hmac.new(PEPPER, plaintext.encode(), hashlib.sha256).hexdigest(), entry.digest)


class NullSink:
    def emit(self, record: CallRecord) -> None:
        return None

    async def flush(self) -> int:
        return 0

    async def aclose(self) -> None:
        return None


class NoOpStep(PolicyStep):
    """A step at every moment that does nothing: the seam's own cost per step."""

    async def admit(self, ctx: CallContext) -> None:
        return None


class AssemblingStep(NoOpStep):
    def wants_stream_answer(self, ctx: CallContext) -> bool:
        return True


def snapshot() -> Snapshot:
    dep = DeploymentEntry(
        deployment_id=1, provider_id=1, provider_kind="bench", provider_slug="bench", base_url="http://x.invalid",
        api_key="k", provider_options={}, provider_revision="1", model_name="m", upstream_model="bench-model",
        modalities=frozenset({"text"}), weight=1, priority=0, timeout=5.0, input_price_per_mtok=Decimal(1),
        output_price_per_mtok=Decimal(2),
    )  # fmt: skip
    route = RouteEntry(route_id=1, tenant_id=1, alias="smart", deadline=10.0, retries=0, deployments=(dep,))
    key = KeyEntry(
        key_id=1, lookup_id=KEY.split("_")[1], pepper_id="1",
        digest=hmac.new(PEPPER, KEY.encode(), hashlib.sha256).hexdigest(), tenant_id=1, tenant_slug="t", app_id=1,
        app_slug="a", scopes=frozenset({"gateway"}), expires_at=None,
    )  # fmt: skip
    version = PromptVersionEntry(
        number=1, system="", user="{{ text }}", examples=(), parameters={}, variables_validator=_AnyInput()
    )
    service = ServiceEntry(
        service_id=1, slug="svc", tenant_id=1, kind="prompt", lifecycle="published", visibility="private",
        shared_with=frozenset(), require_internal_subscription=False, route_alias="smart", output_mode="text",
        output_schema={}, output_validator=None,
        prompt=PromptEntry(live=1, split=(), sticky_by="app", versions={1: version}),
    )  # fmt: skip
    return Snapshot.build(version=1, keys=[key], routes=[route], services=[service])


class _AnyInput:
    def iter_errors(self, value: Any) -> list[Any]:
        return []


def request(body: dict[str, Any]) -> GatewayRequest:
    return GatewayRequest(
        request_id="req_bench", api_key=KEY, body=body, received=time.perf_counter(), received_wall=time.time()
    )


CHAT = {"model": "smart", "messages": [{"role": "user", "content": "a b c d e f g h"}]}


def surfaces(pipeline: Any) -> dict[str, Callable[[], Awaitable[Any]]]:
    async def chat() -> None:
        await pipeline.chat(request(CHAT))

    async def stream() -> None:
        response = await pipeline.chat(request({**CHAT, "stream": True}))
        async for _ in response.stream:
            pass

    async def embeddings() -> None:
        await pipeline.embeddings(request({"model": "smart", "input": "a b"}))

    found = {"chat": chat, "chat stream (10 chunks)": stream, "embeddings": embeddings}
    if isinstance(pipeline, GatewayPipeline):
        invoker = ServiceInvoker(pipeline)

        async def invoke() -> None:
            await invoker.invoke(request({"text": "a b"}), slug="svc")

        found["invoke"] = invoke
    return found


async def timed_us(call: Callable[[], Awaitable[Any]], calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - started) / calls * 1e6


TOGETHER = 64


async def timed_together_us(call: Callable[[], Awaitable[Any]], calls: int) -> float:
    """CPU µs per call with TOGETHER calls in flight at once."""
    started = time.process_time()
    for _ in range(calls // TOGETHER):
        await asyncio.gather(*(call() for _ in range(TOGETHER)))
    return (time.process_time() - started) / (calls // TOGETHER * TOGETHER) * 1e6


def baseline_class(commit: str) -> type:
    """GatewayPipeline as it was at `commit`, from git (its imports must still exist)."""
    source = subprocess.run(
        ["git", "show", f"{commit}:apps/gateway/pipeline/pipeline.py"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tempfile.NamedTemporaryFile("wb", suffix=".py", delete=False) as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location("baseline_pipeline", file.name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.GatewayPipeline


async def main(calls: int, baseline: str | None) -> None:
    ports = {"config": Config(snapshot()), "keys": Verifier(), "clients": Pool(), "sink": NullSink()}
    setups: list[tuple[str, Any]] = []
    if baseline:
        setups.append((f"before the seam ({baseline})", baseline_class(baseline)(**ports)))
    setups.append(("0 steps", GatewayPipeline(**ports)))
    setups.append(("3 no-op steps", GatewayPipeline(**ports, steps=[NoOpStep(), NoOpStep(), NoOpStep()])))
    setups.append(
        (
            "3 no-op steps, one assembling streams",
            GatewayPipeline(**ports, steps=[NoOpStep(), NoOpStep(), AssemblingStep()]),
        )
    )
    calls_of = {label: surfaces(pipeline) for label, pipeline in setups}
    names = list(calls_of[setups[-1][0]])
    for per_surface in calls_of.values():
        for call in per_surface.values():
            for _ in range(200):
                await call()  # warm
    # Rounds interleave the setups, so that a neighbour's load on the shared machine falls on all of them alike.
    runs: dict[tuple[str, str], list[float]] = {}
    for _ in range(ROUNDS):
        for label, per_surface in calls_of.items():
            for name, call in per_surface.items():
                runs.setdefault((label, name), []).append(await timed_us(call, calls))
    rows = [
        [label, *(f"{statistics.median(runs[label, n]):.1f}" if (label, n) in runs else "-" for n in names)]
        for label, _ in setups
    ]
    print(f"CPU µs per call, median of {ROUNDS} rounds of {calls:,} calls, in-process, upstream answering at once")
    print(table(["pipeline", *names], rows))


def policy_steps(redis_url: str | None) -> list[PolicyStep]:
    """The real steps as apps/gateway/wiring.py builds them, on Redis or in-process."""
    from apps.gateway.pipeline.policies.admission import CountersStep
    from apps.gateway.pipeline.policies.budgets import BudgetPolicy
    from apps.gateway.pipeline.policies.cache import CacheStep, MemoryCacheStore
    from apps.gateway.pipeline.policies.counters import LocalCounters
    from apps.gateway.pipeline.policies.limits import LimitPolicy

    def unreported(tenant: str, mode: str, error: BaseException) -> None:
        raise SystemExit(f"the limit store failed: {error}")

    if redis_url is None:
        return [
            CacheStep(MemoryCacheStore()),
            CountersStep(LocalCounters(), [LimitPolicy(), BudgetPolicy()], on_store_error=unreported),
        ]
    from apps.gateway.adapters.redis_cache import RedisCacheStore
    from apps.gateway.adapters.redis_counters import RedisCounters

    counters = RedisCounters(url=redis_url)
    steps = [CacheStep(RedisCacheStore(url=redis_url, prefix=f"bench:seam:{time.time_ns()}:"))]
    return [*steps, CountersStep(counters, [LimitPolicy(), BudgetPolicy()], on_store_error=unreported)]


async def policy_rows(calls: int, redis_url: str | None) -> None:
    """Chat with every limit and budget on the tenant and the app (12 counters), and with the fewest that have all
    three on (2), and a route cache that misses (every prompt differs): the steps' CPU per call, and the wall
    time, one call at a time and 64 at a time."""
    every = Limits(
        requests_per_minute=10**9, tokens_per_minute=10**12, requests_per_day=10**9, requests_per_month=10**9,
        budget_per_day=Decimal(10**6), budget_per_month=Decimal(10**7),
    )  # fmt: skip
    cached = {1: CachePolicy(ttl_seconds=60)}
    limited = dataclasses.replace(snapshot(), limits={("tenant", 1): every, ("app", 1): every}, route_cache=cached)
    # The fewest that have all three on, as bench/policies.py's `bench-light`: 2 counters a call.
    fewest = {("app", 1): Limits(requests_per_minute=10**9), ("tenant", 1): Limits(budget_per_month=Decimal(10**7))}
    light = dataclasses.replace(snapshot(), limits=fewest, route_cache=cached)
    setups = {"no policy": (snapshot(), [])}
    for store, url in [("in-process", None), *([("Redis", redis_url)] if redis_url else [])]:
        setups[f"limits + budget + cache, 12 counters, {store}"] = (limited, policy_steps(url))
        setups[f"limits + budget + cache, 2 counters, {store}"] = (light, policy_steps(url))
    numbers = itertools.count()

    def chat_of(pipeline: GatewayPipeline) -> Callable[[], Awaitable[Any]]:
        async def chat() -> None:
            body = {"model": "smart", "messages": [{"role": "user", "content": f"a b c d {next(numbers)}"}]}
            response = await pipeline.chat(request(body))
            if response.status != 200:
                raise SystemExit(f"{response.status}: {response.body}")

        return chat

    calls_of = {}
    for label, (snap, steps) in setups.items():
        ports = {"config": Config(snap), "keys": Verifier(), "clients": Pool(), "sink": NullSink()}
        calls_of[label] = chat_of(GatewayPipeline(**ports, steps=steps))
        for _ in range(300):
            await calls_of[label]()  # warm: the tokenizer, the connection, the script
    cpu: dict[str, list[float]] = {label: [] for label in setups}
    wall: dict[str, list[float]] = {label: [] for label in setups}
    together: dict[str, list[float]] = {label: [] for label in setups}
    for _ in range(ROUNDS):
        for label, call in calls_of.items():
            started = time.perf_counter()
            cpu[label].append(await timed_us(call, calls))
            wall[label].append((time.perf_counter() - started) / calls * 1e6)
            together[label].append(await timed_together_us(call, calls))
    print(
        f"\nchat with policies: µs per call, median of {ROUNDS} rounds of {calls:,} calls, one at a time and "
        f"{TOGETHER} at a time (as a loaded worker runs them: Redis commands share writes)"
    )
    rows = [[label, *(f"{statistics.median(runs[label]):.1f}" for runs in (cpu, wall, together))] for label in setups]
    print(table(["pipeline", "CPU µs", "wall µs", f"CPU µs, {TOGETHER} at a time"], rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--baseline", help="a commit whose pipeline.py to time alongside (e.g. 48ee212)")
    parser.add_argument("--redis", help="a Redis URL: adds the policy row on Redis (REDIS_URL by default)")
    args = parser.parse_args()
    # uvloop, as the gateway's workers run (scripts/run.sh)
    uvloop.run(main(args.calls, args.baseline))
    uvloop.run(policy_rows(args.calls, args.redis or os.environ.get("REDIS_URL")))
