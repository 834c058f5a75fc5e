"""The second table: each technical choice of the data plane and its benchmark, measured against the
alternative on the same machine in the same run."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
from harness import BENCH, GATEWAY_CPU, Portal, free_port, pinned, start_upstream
from loadgen import LoadResult
from report import Load, fmt_ms, fmt_rate, table

CHOICE_SECONDS = 3.0  # per candidate row (--quick: the run's own row length)


def _upstream_rows(run, direct: dict, seconds: float) -> list[list[str]]:
    """The fake upstream must not be what limits a row: the raw protocol against aiohttp.web."""
    port = free_port()
    upstream = start_upstream(port, impl="aiohttp")
    try:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        chat = run.load.run(url, "bench-model", 64, seconds=seconds)
        stream = run.load.run(url, "bench-model", 64, seconds=seconds, stream=True)
    finally:
        upstream.stop()
    raw = f"{fmt_rate(direct['chat', 64].rps)} req/s, {fmt_rate(direct['stream', 64].rps)} streams/s"
    return [
        ["fake upstream", "raw asyncio protocol on uvloop (chosen)", "64 clients, direct", raw],
        ["", "aiohttp.web", "", f"{fmt_rate(chat.rps)} req/s, {fmt_rate(stream.rps)} streams/s"],
    ]


def _loadgen_rows(run, direct: dict, fast_port: int, seconds: float) -> list[list[str]]:
    """A load generator that shares a core with the fake upstream must cost little per request."""
    if not run.load.wrk:
        return [["load generator", "bench/loadgen.py (wrk not available)", "", ""]]
    python = Load(wrk=None).run(f"http://127.0.0.1:{fast_port}/v1/chat/completions", "bench-model", 64, seconds=seconds)
    return [
        ["load generator", "wrk, 1 thread (chosen)", "64 clients, direct", f"{fmt_rate(direct['chat', 64].rps)} req/s"],
        ["", "bench/loadgen.py (aiohttp)", "", f"{fmt_rate(python.rps)} req/s"],
    ]


def _client_rows(fast_port: int, seconds: float) -> list[list[str]]:
    """The upstream HTTP client inside the gateway, alone on the gateway's core (bench/http_clients.py)."""
    command = [sys.executable, str(BENCH / "http_clients.py"), f"http://127.0.0.1:{fast_port}/v1/chat/completions"]
    out = subprocess.run(pinned(GATEWAY_CPU, [*command, "--seconds", str(seconds)]), capture_output=True, text=True)
    results: dict[str, dict[int, dict]] = {}
    for line in out.stdout.splitlines():
        data = orjson.loads(line)
        results.setdefault(data["client"], {})[data["concurrency"]] = data
    rows = []
    for name, by_clients in results.items():
        figures = ", ".join(
            f"{fmt_rate(r['rps'])} req/s (p50 {fmt_ms(r['p50_ms'])} ms) at {c}" for c, r in sorted(by_clients.items())
        )
        label = f"{name} (chosen)" if name == "aiohttp" else name
        choice, measured = ("upstream HTTP client", "forwarding, 1 and 64 in flight") if not rows else ("", "")
        rows.append([choice, label, measured, figures])
    return rows


def _server_figures(results: dict) -> str:
    slow: LoadResult = results["slow", 1000]
    return (
        f"chat {fmt_rate(results['chat', 64].rps)} req/s at 64, p50 {fmt_ms(results['chat', 1].p50_ms)} ms at 1; "
        f"streams {fmt_rate(results['stream', 64].rps)}/s at 64; 1,000 slow clients {fmt_rate(slow.rps)} req/s, "
        f"{slow.errors} errors; idle {results['idle_mb']:.0f} MB"
    )


def measure(
    run, portal: Portal, direct: dict, uvicorn: dict, fast_port: int, out: Path, measure_gateway: Callable
) -> str:
    seconds = min(CHOICE_SECONDS, run.seconds)
    rows = _upstream_rows(run, direct, seconds)
    rows += _loadgen_rows(run, direct, fast_port, seconds)
    rows += _client_rows(fast_port, seconds)
    subset = [("chat", 1), ("chat", 64), ("stream", 64), ("slow", 1000)]
    granian = measure_gateway(run, portal, "granian", free_port(), out, rows=subset)
    rows.append(["ASGI server (gateway)", "uvicorn, uvloop + httptools", "the gateway rows", _server_figures(uvicorn)])
    rows.append(["", "granian --interface asgi, uvloop", "", _server_figures(granian)])
    return table(["choice", "candidate", "measured", "figures"], rows) + "\n"
