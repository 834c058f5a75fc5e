"""The fourth table: the same call through each inbound surface — OpenAI's chat completions, Anthropic's
Messages (`/v1/messages`) and OpenAI's Responses (`/v1/responses`) — on one gateway worker and the same fast fake
upstream (an OpenAI-format one), so the difference between the rows is the translation of the request, the answer
and, for streams, each event.

    python bench/run.py            # the fourth table follows the others
    python bench/surfaces.py       # this table alone (--quick: 1 s per row)"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import time
from pathlib import Path

import orjson
from harness import BENCH, GATEWAY_CPU, Portal, Process, free_port, gateway_command, pinned, start_upstream, wait_for
from report import Load, fmt_ms, fmt_rate, table

CLIENTS = (1, 64)
PROMPT = "Say hello to the benchmark."


def bodies(stream: bool) -> dict[str, tuple[str, bytes]]:
    """(path, body) per surface, each asking for the same answer."""
    chat: dict = {"model": "bench", "messages": [{"role": "user", "content": PROMPT}]}
    messages: dict = {"model": "bench", "max_tokens": 256, "messages": [{"role": "user", "content": PROMPT}]}
    responses: dict = {"model": "bench", "input": PROMPT, "store": False}
    if stream:
        chat |= {"stream": True, "stream_options": {"include_usage": True}}
        messages |= {"stream": True}
        responses |= {"stream": True}
    return {
        "/v1/chat/completions": ("/v1/chat/completions", orjson.dumps(chat)),
        "/v1/messages": ("/v1/messages", orjson.dumps(messages)),
        "/v1/responses": ("/v1/responses", orjson.dumps(responses)),
    }


def surfaces_table(load: Load, portal: Portal, seconds: float, out: Path) -> str:
    port = free_port()
    gateway = Process(pinned(GATEWAY_CPU, gateway_command("uvicorn", port)), env=portal.env, log=out / "surfaces.log")
    rows, base = [], {}
    try:
        wait_for(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {portal.key}"}, timeout=60)
        for path, body in bodies(False).values():  # the worker warmed up on every surface before the first row
            load.run(f"http://127.0.0.1:{port}{path}", "bench", 16, seconds=1, key=portal.key, body=body)
        for stream in (False, True):
            for surface, (path, body) in bodies(stream).items():
                url = f"http://127.0.0.1:{port}{path}"
                load.run(url, "bench", 4, seconds=1, key=portal.key, body=body)  # warm-up
                for clients in CLIENTS:
                    r = load.run(url, "bench", clients, seconds=seconds, key=portal.key, body=body)
                    base.setdefault((stream, clients), r.p50_ms)
                    added = r.p50_ms - base[stream, clients]
                    latency = f"{fmt_ms(r.p50_ms)} / {fmt_ms(r.p99_ms)}"
                    kind = "stream" if stream else "JSON"
                    rows.append([surface, kind, f"{clients}", fmt_rate(r.rps), latency, f"{added:+.2f}", str(r.errors)])
                    time.sleep(0.5)
    finally:
        gateway.stop()
    headers = ["surface", "answer", "clients", "req/s", "p50 / p99 ms", "p50 vs chat ms", "errors"]
    title = "The same call through each inbound surface (translation's cost; an OpenAI-format upstream):"
    return "\n".join([title, "", table(headers, rows)]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 s per row")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per row (default 6, quick 1)")
    args = parser.parse_args()
    out = BENCH / "results" / time.strftime("%Y%m%d-%H%M%S-surfaces")
    out.mkdir(parents=True, exist_ok=True)
    load = Load.detect()
    with contextlib.ExitStack() as stack:
        fast_port = free_port()
        stack.callback(start_upstream(fast_port).stop)
        portal = Portal()
        stack.callback(shutil.rmtree, portal.workdir, ignore_errors=True)
        fast_url = f"http://127.0.0.1:{fast_port}/v1"
        portal.create(fast_url, fast_url)
        report = surfaces_table(load, portal, args.seconds or (1.0 if args.quick else 6.0), out)
    print(report, flush=True)
    (out / "tables.md").write_text(report)


if __name__ == "__main__":
    main()
