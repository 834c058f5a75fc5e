"""Upstream HTTP clients compared on the gateway's hot path: forward the gateway's upstream request (a chat
completion with its headers, the answer read and parsed) through each client, N requests in flight, on one
core, against the fake upstream. Prints one JSON line per client and concurrency.

    taskset -c 0 python bench/http_clients.py http://127.0.0.1:9100/v1/chat/completions --seconds 3

aiohttp is the current client (apps/providers/clients/openai_compat.py); httpx is the obvious alternative
(the portal uses it off the hot path); httpx2 is measured too when it is installed."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import time
from collections.abc import Awaitable, Callable

import orjson
import uvloop

Send = Callable[[], Awaitable[bytes]]
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
BODY = orjson.dumps({"model": "bench-model", "messages": [{"role": "user", "content": "Say hello to the benchmark."}]})


async def measure(send: Send, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            sent = time.perf_counter()
            orjson.loads(await send())
            latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50_ms": latencies[len(latencies) // 2] * 1000}


async def with_aiohttp(url: str, concurrency: int, seconds: float) -> dict:
    import aiohttp

    # The gateway's settings: no pool limit, 30 s keep-alive, a per-request timeout.
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=connector) as session:
        timeout = aiohttp.ClientTimeout(total=60)

        async def send() -> bytes:
            async with session.post(url, data=BODY, headers=HEADERS, timeout=timeout) as response:
                return await response.read()

        return await measure(send, concurrency, seconds)


async def with_httpx(url: str, concurrency: int, seconds: float, module: str = "httpx") -> dict:
    httpx = importlib.import_module(module)
    # Unbounded pool, like the aiohttp session: httpx's defaults (100 connections, 20 kept alive) would make
    # it open and close connections at 64 in flight, which is not what is being compared.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=30)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def send() -> bytes:
            response = await client.post(url, content=BODY, headers=HEADERS)
            return response.content

        return await measure(send, concurrency, seconds)


async def with_httpx2(url: str, concurrency: int, seconds: float) -> dict:
    return await with_httpx(url, concurrency, seconds, module="httpx2")


CLIENTS = {"aiohttp": with_aiohttp, "httpx": with_httpx, "httpx2": with_httpx2}


def available() -> list[str]:
    return [name for name in CLIENTS if importlib.util.find_spec(name) is not None]


async def run(url: str, concurrencies: list[int], seconds: float) -> None:
    for name in available():
        for concurrency in concurrencies:
            await CLIENTS[name](url, concurrency, min(0.5, seconds))  # warm-up: connections, imports
            result = await CLIENTS[name](url, concurrency, seconds)
            print(orjson.dumps({"client": name, "concurrency": concurrency, **result}).decode(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--concurrency", default="1,64", help="comma-separated")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    uvloop.run(run(args.url, [int(c) for c in args.concurrency.split(",")], args.seconds))


if __name__ == "__main__":
    main()
