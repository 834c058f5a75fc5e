"""A bounded asyncio load generator (aiohttp client): N workers send requests back to back, for D seconds or
until a fixed total is reached, and report requests/s, p50/p99 latency and errors as one JSON line.

    python bench/loadgen.py URL --concurrency 64 --duration 5 [--total 5000] [--stream] [--key KEY] [--model M]

Errors are non-2xx answers, timeouts and connection errors; with --stream each 2xx answer must also end with
`data: [DONE]` (counted in `missing_done` otherwise). bench/run.py uses it only when wrk cannot be had: a C
client costs far less CPU per request on the core it shares with the fake upstream (README "Performance")."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from dataclasses import asdict, dataclass, field

import aiohttp
import orjson
import uvloop

DONE = b"data: [DONE]\n\n"


@dataclass
class LoadResult:
    requests: int = 0  # answered with 2xx
    errors: int = 0  # non-2xx + timeouts + connection errors
    non_2xx: int = 0
    timeouts: int = 0
    connect_errors: int = 0
    missing_done: int = 0  # streams answered 2xx that did not end with [DONE]
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)

    def finish(self, seconds: float) -> LoadResult:
        self.seconds = seconds
        self.rps = self.requests / seconds if seconds else 0.0
        ordered = sorted(self.latencies)
        if ordered:
            self.p50_ms = ordered[len(ordered) // 2] * 1000
            self.p99_ms = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        return self

    def summary(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "latencies"}


# In a body sent with `unique`, each request replaces this with its own number: no two prompts are equal, so a
# response cache misses every time (bench/policies.py measures the policies' cost, not the cache's savings).
UNIQUE_MARK = "BENCH_N"


def chat_body(model: str, stream: bool, unique: bool = False) -> bytes:
    # Unique bodies carry a nonce of their own too: the counter starts at 1 in every run, and without it a run
    # would send the prompts of the runs before it, which the response cache has stored (hits, not misses).
    content = "Say hello to the benchmark."
    if unique:
        content += f" {secrets.token_hex(4)} {UNIQUE_MARK}"
    body: dict = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return orjson.dumps(body)


async def run_load(
    url: str,
    body: bytes,
    *,
    concurrency: int,
    duration: float | None = None,
    total: int | None = None,
    key: str | None = None,
    stream: bool = False,
    timeout: float = 10.0,  # noqa: ASYNC109 - per request, given to the aiohttp session
    unique: bool = False,
) -> LoadResult:
    """Send for `duration` seconds, or until `total` requests were sent; the clock stops at the last answer,
    so a fixed total measures the rate without cutting off answers in flight."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    result = LoadResult()
    remaining = [total if total is not None else -1]
    sent_count = [0]
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        started = time.perf_counter()
        stop_at = started + duration if duration is not None else float("inf")

        async def worker() -> None:
            while time.perf_counter() < stop_at and remaining[0] != 0:
                remaining[0] -= 1
                data = body
                if unique:
                    sent_count[0] += 1
                    data = body.replace(UNIQUE_MARK.encode(), str(sent_count[0]).encode())
                sent = time.perf_counter()
                try:
                    async with session.post(url, data=data, headers=headers) as response:
                        raw = await response.read()
                except TimeoutError:
                    result.timeouts += 1
                    continue
                except aiohttp.ClientError:
                    result.connect_errors += 1
                    continue
                if response.status >= 300:
                    result.non_2xx += 1
                    continue
                result.latencies.append(time.perf_counter() - sent)
                result.requests += 1
                if stream and not raw.endswith(DONE):
                    result.missing_done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    result.errors = result.non_2xx + result.timeouts + result.connect_errors + result.missing_done
    return result.finish(elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=None, help="seconds (default 5 unless --total)")
    parser.add_argument("--total", type=int, default=None, help="stop after this many requests")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--key", default=None)
    parser.add_argument("--model", default="bench-model")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--unique", action="store_true", help="a different prompt in every request")
    parser.add_argument("--body", default=None, help="the JSON body to send (default: a chat completion)")
    args = parser.parse_args()
    duration = args.duration if args.duration is not None or args.total is not None else 5.0
    result = uvloop.run(
        run_load(
            args.url,
            args.body.encode() if args.body else chat_body(args.model, args.stream, args.unique),
            concurrency=args.concurrency,
            duration=duration,
            total=args.total,
            key=args.key,
            stream=args.stream,
            timeout=args.timeout,
            unique=args.unique,
        )
    )
    print(orjson.dumps(result.summary()).decode(), flush=True)


if __name__ == "__main__":
    main()
