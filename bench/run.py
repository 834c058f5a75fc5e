"""The data-plane benchmark, one command: `make bench` (= `python bench/run.py`; `--quick` for a ~1 s-per-row
smoke run, `--profile` to add a py-spy profile of the gateway under load, `--no-choices` to skip the second
table, `--no-policies` to skip the third, `--no-surfaces` to skip the fourth).

On a throwaway SQLite portal (migrated and seeded through the portal's services) it starts the fast and the
1-second fake upstreams and the load generator on core 1, the gateway (one uvicorn worker, authentication
and call logging on) on core 0, and prints markdown tables: direct vs through the gateway at 1/16/64/256
clients, plain and streaming; 1,000 clients on the slow upstream; the gateway's memory; the call logs that
reached the database; (bench/choices.py) the measured reasons for each technical choice; and (bench/policies.py)
what limits, budgets and the response cache cost, in-process and on Redis; (bench/surfaces.py) the same call
through /v1/chat/completions, /v1/messages and /v1/responses. Timing never
goes into the test suite: this is the place."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import choices
import policies
import pyspy
import surfaces
from harness import (
    BENCH,
    Portal,
    Process,
    free_port,
    memory_mb,
    raise_fd_limit,
    somaxconn,
    start_gateway,
    start_upstream,
    worker_pid,
)
from loadgen import LoadResult
from report import Load, fmt_ms, fmt_rate, table

CLIENTS = (1, 16, 64, 256)
SLOW_CLIENTS, SLOW_DELAY = 1000, 1.0


@dataclass
class Run:
    seconds: float
    slow_rounds: int
    load: Load
    rows: list[tuple[str, int, LoadResult, LoadResult]] = field(default_factory=list)
    slow: tuple[LoadResult, LoadResult] | None = None
    idle_mb: float = 0.0
    peak_mb: float = 0.0
    answered: int = 0  # requests the gateway answered 2xx, as the load generator counted them
    call_logs: int = 0


def chat_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1/chat/completions"


def slow_row(run: Run, url: str, model: str, key: str | None = None) -> LoadResult:
    """Every client sends `slow_rounds` requests; the rate is answers / time to the last answer (bench/wrk.py)."""
    total = SLOW_CLIENTS * run.slow_rounds
    return run.load.run(url, model, SLOW_CLIENTS, total=total, key=key, seconds=run.slow_rounds * 6 + 20)


ROWS = [*(("chat", c) for c in CLIENTS), *(("stream", c) for c in CLIENTS), ("slow", SLOW_CLIENTS)]


def measure_gateway(
    run: Run, portal: Portal, server: str, port: int, out: Path, *, rows: list = ROWS, profile: bool = False
) -> dict:
    """Start the gateway, measure the rows through it, stop it. Returns results by (kind, clients), plus
    its memory and, when asked, a profile summary."""
    gateway = start_gateway(portal, server, port, out / f"gateway-{server}.log")
    try:
        pid = worker_pid(gateway)
        url = chat_url(port)
        for stream in (False, True):  # lazily created state (upstream session, imports) before "idle"
            run.load.run(url, "bench", 1, seconds=1, key=portal.key, stream=stream)
        results: dict = {"idle_mb": memory_mb(pid, "VmRSS")}
        run.load.run(url, "bench", 16, seconds=1, key=portal.key)  # warm-up
        for kind, clients in rows:
            if kind == "slow":
                results[kind, clients] = slow_row(run, url, "bench-slow", portal.key)
            else:
                results[kind, clients] = run.load.run(
                    url, "bench", clients, seconds=run.seconds, key=portal.key, stream=kind == "stream"
                )
            time.sleep(0.5)  # let the previous row's connections close
        if profile:
            recorders = pyspy.start(pid, run.seconds, out)
            run.load.run(url, "bench", 64, seconds=run.seconds, key=portal.key)
            for recorder in recorders:
                recorder.wait()
            results["profile"] = pyspy.summarize(out / "profile.txt")
        results["peak_mb"] = memory_mb(pid, "VmHWM")
        return results
    finally:
        gateway.stop()  # SIGTERM: the ASGI lifespan writes the buffered call records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="~1 s per row, 2 rounds in the slow row")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per row (default 6, quick 1)")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway during one more 64-client row")
    parser.add_argument("--no-choices", action="store_true", help="skip the second table")
    parser.add_argument("--no-policies", action="store_true", help="skip the third table (limits, budget, cache)")
    parser.add_argument("--no-surfaces", action="store_true", help="skip the fourth table (messages, responses)")
    args = parser.parse_args()
    started = time.monotonic()
    limit = raise_fd_limit()
    out = BENCH / "results" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    load = Load.detect()
    run = Run(seconds=args.seconds or (1.0 if args.quick else 6.0), slow_rounds=2 if args.quick else 5, load=load)
    print(f"bench: {machine()}", flush=True)
    print(f"bench: {load.name}, {run.seconds:g} s per row, fd limit {limit}, logs in {out}", flush=True)
    if limit < 3 * SLOW_CLIENTS or somaxconn() < SLOW_CLIENTS:
        print(f"bench: WARNING: fd limit {limit} / somaxconn {somaxconn()} are too low for the 1,000-client row")
    with contextlib.ExitStack() as stack:
        fast_port, slow_port, gateway_port = free_port(), free_port(), free_port()
        stack.enter_context(_stopping(start_upstream(fast_port)))
        stack.enter_context(_stopping(start_upstream(slow_port, delay=SLOW_DELAY)))
        portal = Portal()
        stack.callback(shutil.rmtree, portal.workdir, ignore_errors=True)
        portal.create(f"http://127.0.0.1:{fast_port}/v1", f"http://127.0.0.1:{slow_port}/v1")
        direct: dict = {}
        for stream in (False, True):
            for clients in CLIENTS:
                direct["stream" if stream else "chat", clients] = load.run(
                    chat_url(fast_port), "bench-model", clients, seconds=run.seconds, stream=stream
                )
        direct["slow", SLOW_CLIENTS] = slow_row(run, chat_url(slow_port), "bench-model")
        through = measure_gateway(run, portal, "uvicorn", gateway_port, out, profile=args.profile)
        run.call_logs = portal.call_logs()
        run.answered = sum(through[row].requests for row in ROWS)
        run.idle_mb, run.peak_mb = through["idle_mb"], through["peak_mb"]
        report = main_table(run, direct, through)
        if through.get("profile"):
            report += "\nWhere the gateway's CPU time goes (64 clients, chat; flame graph: profile.svg):\n"
            report += "\n".join(through["profile"]) + "\n"
        print("\n" + report, flush=True)
        if not args.no_choices:
            second = choices.measure(run, portal, direct, through, fast_port, out, measure_gateway)
            print(second, flush=True)
            report += "\n" + second
        if not args.no_policies:
            paced_port = free_port()
            stack.enter_context(_stopping(start_upstream(paced_port, delay=policies.PACED_DELAY)))
            fast_url, paced_url = f"http://127.0.0.1:{fast_port}/v1", f"http://127.0.0.1:{paced_port}/v1"
            third = policies.policies_table(load, portal, fast_url, paced_url, run.seconds, out)
            print(third, flush=True)
            report += "\n" + third
        if not args.no_surfaces:
            fourth = surfaces.surfaces_table(load, portal, run.seconds, out)
            print(fourth, flush=True)
            report += "\n" + fourth
    (out / "tables.md").write_text(report)
    print(f"\nbench: done in {time.monotonic() - started:.0f} s ({machine()}); tables in {out / 'tables.md'}")


def machine() -> str:
    """What the figures were measured on; other processes running at the same time skew them."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown CPU")
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, load average {load:.2f}"


@contextlib.contextmanager
def _stopping(process: Process):
    try:
        yield process
    finally:
        process.stop()


def main_table(run: Run, direct: dict, through: dict) -> str:
    rows = []
    for kind, clients in ROWS:
        d, g = direct[kind, clients], through[kind, clients]
        label = {"chat": "chat", "stream": "stream (20 chunks)", "slow": "chat, upstream takes 1 s"}[kind]
        direct_ms, gateway_ms = f"{fmt_ms(d.p50_ms)} / {fmt_ms(d.p99_ms)}", f"{fmt_ms(g.p50_ms)} / {fmt_ms(g.p99_ms)}"
        rows.append([label, f"{clients:,}", fmt_rate(d.rps), direct_ms, fmt_rate(g.rps), gateway_ms, str(g.errors)])
    headers = ["request", "clients", "direct req/s", "direct p50 / p99 ms", "gateway req/s"]
    headers += ["gateway p50 / p99 ms", "gateway errors"]
    lines = [table(headers, rows), ""]
    added = {k: through[k, 1].p50_ms - direct[k, 1].p50_ms for k in ("chat", "stream")}
    lines.append(f"- p50 added latency at 1 client: chat {added['chat']:+.2f} ms, stream {added['stream']:+.2f} ms")
    lines.append(f"- gateway worker memory: idle {run.idle_mb:.0f} MB (started, one request of each kind served),")
    lines.append(f"  peak {run.peak_mb:.0f} MB (VmHWM over the whole run)")
    streams = [through["stream", c] for c in CLIENTS]
    missing = sum(r.missing_done for r in streams)
    lines.append(
        f"- streams through the gateway: {sum(r.requests for r in streams):,}, "
        + ("every one ended with `data: [DONE]`" if not missing else f"{missing} did NOT end with `data: [DONE]`")
    )
    lines.append(
        f"- call logs in the portal database after the run: {run.call_logs:,} "
        f"(the gateway answered {run.answered:,} requests with 2xx in the rows; warm-ups and requests still in "
        "flight when a row ended are logged too)" + ("" if run.call_logs >= run.answered else " — RECORDS MISSING")
    )
    lines += ["", *targets(direct, through, run)]
    return "\n".join(lines) + "\n"


def targets(direct: dict, through: dict, run: Run) -> list[str]:
    rate64 = through["chat", 64].rps
    added = through["chat", 1].p50_ms - direct["chat", 1].p50_ms
    slow = through["slow", 1000]
    checks = [
        (rate64 >= 600, f"≥ 600 req/s at 64 clients (LiteLLM: 90 to 170): {fmt_rate(rate64)}"),
        (added <= 2.0, f"p50 added latency ≤ 2 ms at 1 client: {added:.2f} ms"),
        (
            slow.rps >= 900 and slow.errors == 0,
            f"1,000 clients on a 1 s upstream ≥ 900 req/s, no errors: {fmt_rate(slow.rps)}, {slow.errors} errors",
        ),
        (run.idle_mb <= 150, f"idle memory ≤ 150 MB per worker: {run.idle_mb:.0f} MB"),
    ]
    return ["Targets (issue 3):", *(f"- {'met' if ok else 'MISSED'}: {text}" for ok, text in checks)]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
