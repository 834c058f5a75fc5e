"""The third table: what the policy steps cost (issue 12). One gateway worker serves three tenants on the same
fast fake upstream: `bench` with no policy; `bench-policies`, whose route has a response cache and whose tenant
and app have every limit and budget (rate, tokens, day and month quotas, day and month budgets; never reached:
12 counters a call); and `bench-light`, with the fewest that have all three on (the cache, a rate limit on the app,
a monthly budget on the tenant: 2 counters). Every prompt differs (a counter and a nonce of the run in the body),
so the cache misses each time: the rows measure looking up and storing, limits and budgets — the policies' cost,
not the cache's savings. Then a cache hit against a miss on a route whose upstream takes 20 ms (a short LLM
answer; on the fast fake upstream, which answers in ~0.1 ms, a hit could only save that): different prompts, then
one prompt sent again and again. Measured with the counters and the cache in-process (the embedded default) and,
when Debian's redis-server is on the machine, on Redis (one server on the load generator's core). Each row of 1
and 64 clients is the median of ROUNDS rounds, the tenants run in turn.

    python bench/run.py            # the third table follows the first two
    python bench/policies.py       # this table alone (--quick: 1 s per row)"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from harness import (
    BENCH,
    GATEWAY_CPU,
    LOAD_CPU,
    ROOT,
    Portal,
    Process,
    free_port,
    gateway_command,
    pinned,
    start_upstream,
    wait_for,
    worker_pid,
)
from loadgen import LoadResult
from report import Load, fmt_ms, fmt_rate, table

CLIENTS = (1, 64)
ROUNDS = 3  # rounds of each row, without and with the policies in turn
PACED_DELAY = 0.02  # seconds: the upstream of the hit-against-miss rows


def seed_policies(portal: Portal, fast_url: str, paced_url: str) -> tuple[str, str]:
    """The keys of the tenant with every policy and of the one with the fewest that have all three on."""
    run = {"cwd": ROOT, "env": portal.env, "check": True, "capture_output": True, "text": True}
    command = [sys.executable, str(BENCH / "seed.py"), "--policies", fast_url, paced_url]
    every, fewest = subprocess.run(command, **run).stdout.split()
    return every, fewest


@contextlib.contextmanager
def redis_server():
    """A throwaway Redis on the load generator's core, or None when the machine has none."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    command = [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]
    process = Process(pinned(LOAD_CPU, command))
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.stop()


def median_run(runs: list[LoadResult]) -> LoadResult:
    """The rounds' medians: throughput, p50 and p99 each taken on its own; errors summed."""
    middle = len(runs) // 2
    return LoadResult(
        requests=sum(r.requests for r in runs),
        errors=sum(r.errors for r in runs),
        seconds=sum(r.seconds for r in runs),
        rps=sorted(r.rps for r in runs)[middle],
        p50_ms=sorted(r.p50_ms for r in runs)[middle],
        p99_ms=sorted(r.p99_ms for r in runs)[middle],
    )


METRICS_TOKEN = "bench-metrics"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used, all its threads, user and system (/proc/<pid>/stat). Time the hypervisor
    gave another VM is not in it: on a shared machine it moves less than the throughput does."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def cache_hits(port: int) -> float:
    """The worker's gateway_cache_hits_total, every label summed (its /metrics)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("gateway_cache_hits_total")
    )


def measure_store(load: Load, portal: Portal, keys: dict[str, str], redis_url: str | None, seconds: float, out: Path):
    """One gateway worker (Redis or in-process counters and cache); rows without and with the policies."""
    port = free_port()
    env = portal.env | {"METRICS_TOKEN": METRICS_TOKEN} | ({"REDIS_URL": redis_url} if redis_url else {})
    name = "redis" if redis_url else "in-process"
    gateway = Process(pinned(GATEWAY_CPU, gateway_command("uvicorn", port)), env=env, log=out / f"policies-{name}.log")
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    results: dict = {}
    try:
        wait_for(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {keys['off']}"}, timeout=60)
        for key in keys.values():  # warm-up: pooled connections, the first snapshot, tiktoken
            load.run(url, "bench", 16, seconds=1, key=key, unique=True)
        # Without and with the policies in turn, ROUNDS times, each row the median round: a drift of the shared
        # machine (another VM's load, the CPU's clock) falls on both alike instead of on whichever ran second.
        hits_before = cache_hits(port)
        worker = worker_pid(gateway)
        for clients in CLIENTS:
            rounds: dict[str, list[LoadResult]] = {mode: [] for mode in keys}
            cpu = dict.fromkeys(keys, 0.0)
            for _ in range(ROUNDS):
                for mode, key in keys.items():
                    before = cpu_seconds(worker)
                    rounds[mode].append(load.run(url, "bench", clients, seconds=seconds / ROUNDS, key=key, unique=True))
                    cpu[mode] += cpu_seconds(worker) - before
                    time.sleep(0.2)
            for mode, runs in rounds.items():
                results[mode, clients] = median_run(runs)
                results["cpu", mode, clients] = cpu[mode] / max(1, sum(r.requests for r in runs)) * 1e6
        results["hits in the miss rows"] = cache_hits(port) - hits_before  # must be 0: every prompt differs
        results["miss", 1] = load.run(url, "bench-paced", 1, seconds=seconds, key=keys["on"], unique=True)
        load.run(url, "bench-paced", 1, seconds=1, key=keys["on"])  # the repeated prompt is now stored
        results["hit", 1] = load.run(url, "bench-paced", 1, seconds=seconds, key=keys["on"])
    finally:
        gateway.stop()
    return results


STORES = ("in-process", "Redis")
EVERY = "limits + budget + cache (miss): 12 counters"
FEWEST = "limits + budget + cache (miss): 2 counters"


def cpu_share(results: dict, mode: str) -> str:
    off, on = results["cpu", "off", 64], results["cpu", mode, 64]
    return f"{off:.0f} against {on:.0f} µs (+{on - off:.0f} µs: {off / on:.0%})"


def policies_table(
    load: Load, portal: Portal, fast_url: str, paced_url: str, seconds: float, out: Path, stores=STORES
) -> str:
    every, fewest = seed_policies(portal, fast_url, paced_url)
    keys = {"off": portal.key, "on": every, "light": fewest}
    by_store: dict[str, dict] = {}
    with redis_server() as redis_url:
        if "in-process" in stores:
            by_store["in-process"] = measure_store(load, portal, keys, None, seconds, out)
        if "Redis" in stores and redis_url is not None:
            by_store["Redis"] = measure_store(load, portal, keys, redis_url, seconds, out)
    rows, checks = [], []
    for store, results in by_store.items():
        for clients in CLIENTS:
            off, on, light = results["off", clients], results["on", clients], results["light", clients]
            for mode, label, r in (("off", "none", off), ("on", EVERY, on), ("light", FEWEST, light)):
                rows.append([store, label, f"{clients}", fmt_rate(r.rps), f"{fmt_ms(r.p50_ms)} / {fmt_ms(r.p99_ms)}",
                             str(r.errors), f"{results['cpu', mode, clients]:.0f}"])  # fmt: skip
        miss: LoadResult = results["miss", 1]
        hit: LoadResult = results["hit", 1]
        for label, r in (("20 ms upstream: cache miss", miss), ("20 ms upstream: cache hit", hit)):
            rows.append([store, label, "1", fmt_rate(r.rps), f"{fmt_ms(r.p50_ms)} / {fmt_ms(r.p99_ms)}",
                         str(r.errors), ""])  # fmt: skip
        off64, on64, light64 = results["off", 64].rps, results["on", 64].rps, results["light", 64].rps
        added = results["on", 1].p50_ms - results["off", 1].p50_ms
        speedup = miss.p50_ms / hit.p50_ms if hit.p50_ms else 0.0
        checks += [
            (
                results["hits in the miss rows"] == 0,
                f"{store}: cache hits in the miss rows: {results['hits in the miss rows']:g}",
            ),
            (on64 >= 0.9 * off64, f"{store}: 64 clients with all three ≥ 90 % of without: {on64 / off64:.0%}"),
            (light64 >= 0.9 * off64, f"{store}: the same with the fewest (2 counters): {light64 / off64:.0%}"),
            (added <= 0.3, f"{store}: p50 at 1 client rises ≤ 0.3 ms: {added:+.2f} ms"),
            (speedup >= 3, f"{store}: a hit answers ≥ 3x faster than a miss (p50, 1 client): {speedup:.1f}x"),
        ]
    headers = ["counters and cache", "policies", "clients", "req/s", "p50 / p99 ms", "errors", "worker CPU µs/call"]
    lines = ["What the policy steps cost (every prompt different: the cache misses and stores each time):", ""]
    lines += [table(headers, rows), "", "Targets (issue 12):"]
    lines += [f"- {'met' if ok else 'MISSED'}: {text}" for ok, text in checks]
    lines += ["", "The worker's CPU per call at 64 clients (on one saturated core, throughput is its inverse):"]
    for store, results in by_store.items():
        every, fewest = cpu_share(results, "on"), cpu_share(results, "light")
        lines.append(f"- {store}: none against all three {every}; against the fewest {fewest}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 s per row")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per row (default 6, quick 1)")
    parser.add_argument("--store", choices=STORES, action="append", help="only this store (default: both)")
    args = parser.parse_args()
    out = BENCH / "results" / time.strftime("%Y%m%d-%H%M%S-policies")
    out.mkdir(parents=True, exist_ok=True)
    load = Load.detect()
    with contextlib.ExitStack() as stack:
        fast_port, paced_port = free_port(), free_port()
        for port, delay in ((fast_port, 0.0), (paced_port, PACED_DELAY)):
            stack.callback(start_upstream(port, delay=delay).stop)
        portal = Portal()
        stack.callback(shutil.rmtree, portal.workdir, ignore_errors=True)
        fast_url = f"http://127.0.0.1:{fast_port}/v1"
        portal.create(fast_url, fast_url)
        paced_url = f"http://127.0.0.1:{paced_port}/v1"
        seconds = args.seconds or (1.0 if args.quick else 6.0)
        report = policies_table(load, portal, fast_url, paced_url, seconds, out, stores=args.store or STORES)
    print(report, flush=True)
    (out / "tables.md").write_text(report)


if __name__ == "__main__":
    main()
