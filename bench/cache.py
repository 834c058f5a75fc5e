"""What the response cache costs and saves: `python bench/cache.py [--redis URL] [--delay 0.02]`.

Rows:
  - the cache step's lookup (canonical key of a chat body + the store's get + decoding), a miss and a hit, on the
    in-process store and on Redis (REDIS_URL or --redis; else a throwaway redis-server when one is installed);
  - a whole call through the in-process pipeline (GatewayPipeline with the cache step on the in-process store)
    to bench/fake_upstream.py's raw server answering after `--delay` seconds: a miss (a new prompt each time)
    and a hit (the same prompt).
Median of the timed calls after a warm-up, one client at a time on one event loop (uvloop)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fake_upstream import RawHTTP, listening_socket  # noqa: E402
from report import table  # noqa: E402

from apps.gateway.adapters.clients import ProcessClientPool  # noqa: E402
from apps.gateway.adapters.redis_cache import RedisCacheStore  # noqa: E402
from apps.gateway.pipeline.pipeline import GatewayPipeline  # noqa: E402
from apps.gateway.pipeline.policies.base import CallContext  # noqa: E402
from apps.gateway.pipeline.policies.cache import CacheStep, CacheStore, MemoryCacheStore  # noqa: E402
from apps.gateway.pipeline.records import CallRecord  # noqa: E402
from apps.gateway.pipeline.snapshot import CachePolicy, DeploymentEntry, KeyEntry, RouteEntry, Snapshot  # noqa: E402
from apps.gateway.pipeline.types import GatewayRequest, GatewayResponse  # noqa: E402

SECRET = "gwk_benchkey_secret"
SYSTEM = "You are a helpful assistant. Answer in one short paragraph."


def body(n: int) -> dict:
    return {
        "model": "smart",
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"Question number {n}?"}],
        "temperature": 0,
        "max_tokens": 200,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def redis_url(given: str) -> Iterator[str | None]:
    """The Redis to measure: the given one, else a throwaway redis-server, else none (its rows are skipped)."""
    if given or not shutil.which("redis-server"):
        yield given or None
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.3)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            server.wait()


def snapshot(base_url: str) -> Snapshot:
    dep = DeploymentEntry(
        deployment_id=1,
        provider_id=1,
        provider_kind="openai",
        provider_slug="bench",
        base_url=base_url,
        api_key="sk-bench",
        provider_options={},
        provider_revision="1",
        model_name="bench-model",
        upstream_model="bench-model",
        modalities=frozenset({"text"}),
        weight=1,
        priority=0,
        timeout=10.0,
        input_price_per_mtok=Decimal("0.15"),
        output_price_per_mtok=Decimal("0.60"),
        provider_trusted=True,
    )
    route = RouteEntry(route_id=1, tenant_id=1, alias="smart", deadline=10.0, retries=0, deployments=(dep,))
    key = KeyEntry(
        key_id=1,
        lookup_id="benchkey",
        pepper_id="1",
        digest="",
        tenant_id=1,
        tenant_slug="bench",
        app_id=1,
        app_slug="bench",
        scopes=frozenset({"gateway"}),
        expires_at=None,
    )
    return Snapshot.build(version=1, keys=[key], routes=[route], route_cache={1: CachePolicy(ttl_seconds=3600)})


class Config:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    async def current(self) -> Snapshot:
        return self.snap

    async def find_key(self, lookup_id: str) -> KeyEntry | None:
        return None


class AnyKey:
    def verify(self, plaintext: str, entry: KeyEntry) -> bool:
        return True


class NoSink:
    def emit(self, record: CallRecord) -> None:
        pass

    async def flush(self) -> int:
        return 0

    async def aclose(self) -> None:
        pass


def request(n: int) -> GatewayRequest:
    return GatewayRequest(
        request_id="req_bench", api_key=SECRET, body=body(n), received=time.perf_counter(), received_wall=time.time()
    )


def context(snap: Snapshot, n: int) -> CallContext:
    req = request(n)
    return CallContext(
        request=req,
        record=CallRecord(request_id=req.request_id, created=req.received_wall, endpoint="chat"),
        snapshot=snap,
        tenant_id=1,
        key=None,
        route=snap.routes[(1, "smart")],
        body=req.body,
    )


async def median_us(calls: int, one: Callable[[int], Awaitable[object]]) -> float:
    warm = min(200, calls)
    for n in range(warm):  # warm-up; every call gets a number of its own (a miss asks a new prompt each time)
        await one(n)
    times = []
    for n in range(warm, warm + calls):
        started = time.perf_counter()
        await one(n)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


async def lookup_rows(name: str, store: CacheStore, snap: Snapshot, calls: int) -> list[list[str]]:
    step = CacheStep(store)
    hit_ctx = context(snap, -1)
    await step.before_call(hit_ctx)
    hit_ctx.answer, hit_ctx.record.status = {"id": "x", "object": "chat.completion", "choices": []}, 200
    await step.after_call(hit_ctx)
    offset = time.monotonic_ns()  # prompts never asked before, even on a Redis that outlives a run

    async def miss(n: int) -> object:
        return await step.before_call(context(snap, offset + n))

    async def hit(n: int) -> object:
        return await step.before_call(context(snap, -1))

    return [
        [f"lookup, {name}", "miss", f"{await median_us(calls, miss):.1f} µs"],
        [f"lookup, {name}", "hit", f"{await median_us(calls, hit):.1f} µs"],
    ]


def checked(result: GatewayResponse, expected: str) -> GatewayResponse:
    if result.status != 200 or result.headers.get("X-Cache") != expected:
        raise RuntimeError(f"expected a 200 {expected}, got {result.status} {result.headers} {result.body}")
    return result


async def pipeline_rows(snap: Snapshot, calls: int) -> list[list[str]]:
    clients = ProcessClientPool()
    pipeline = GatewayPipeline(
        config=Config(snap), keys=AnyKey(), clients=clients, sink=NoSink(), steps=[CacheStep(MemoryCacheStore())]
    )
    offset = 10**9

    async def miss(n: int) -> object:
        result = await pipeline.chat(request(offset + n))
        return checked(result, "MISS")

    async def hit(n: int) -> object:
        result = await pipeline.chat(request(0))
        return checked(result, "HIT")

    await pipeline.chat(request(0))
    rows = [
        ["call through the pipeline, in-process store", "miss", f"{await median_us(calls, miss):.1f} µs"],
        ["call through the pipeline, in-process store", "hit", f"{await median_us(calls, hit):.1f} µs"],
    ]
    await clients.aclose()
    return rows


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    server = await asyncio.get_running_loop().create_server(
        lambda: RawHTTP(args.delay), sock=listening_socket("127.0.0.1", port)
    )
    snap = snapshot(f"http://127.0.0.1:{port}/v1")
    rows = await lookup_rows("in-process store", MemoryCacheStore(), snap, args.lookups)
    if args.redis:
        store = RedisCacheStore(url=args.redis, prefix=f"bench:cache:{os.getpid()}:")
        rows += await lookup_rows("Redis store", store, snap, args.lookups)
        await store.aclose()
    else:
        rows.append(["lookup, Redis store", "-", "skipped: no REDIS_URL and no redis-server"])
    rows += await pipeline_rows(snap, args.calls)
    server.close()
    print(f"fake upstream answers after {args.delay * 1000:.0f} ms; medians, one call at a time\n")
    print(table(["what", "cache", "time"], rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", ""), help="Redis URL (default: REDIS_URL)")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds the fake upstream takes to answer")
    parser.add_argument("--lookups", type=int, default=5000, help="timed lookups per row")
    parser.add_argument("--calls", type=int, default=300, help="timed calls through the pipeline per row")
    arguments = parser.parse_args()
    with redis_url(arguments.redis) as url:
        arguments.redis = url
        uvloop.run(main(arguments))
