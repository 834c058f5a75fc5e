"""The load generator the runs use (wrk, or bench/loadgen.py when wrk cannot be had) and the table format."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import orjson
from harness import BENCH, LOAD_CPU, pinned
from loadgen import LoadResult, chat_body
from wrk import ensure_wrk, run_wrk

TIMEOUT = 10.0  # seconds; an answer that takes longer counts as an error


@dataclass
class Load:
    wrk: str | None

    @classmethod
    def detect(cls) -> Load:
        return cls(ensure_wrk())

    @property
    def name(self) -> str:
        return "wrk (1 thread)" if self.wrk else "bench/loadgen.py (wrk not available)"

    def run(
        self,
        url: str,
        model: str,
        clients: int,
        *,
        seconds: float,
        total: int | None = None,
        key: str | None = None,
        stream: bool = False,
        unique: bool = False,
        body: bytes | None = None,
    ) -> LoadResult:
        """`clients` connections for `seconds`, or until `total` answers (then `seconds` only bounds the run)."""
        body = body if body is not None else chat_body(model, stream, unique)
        if self.wrk:
            return run_wrk(
                self.wrk, url, body, concurrency=clients, duration=seconds, total=total, key=key, stream=stream,
                timeout=TIMEOUT, cpus=LOAD_CPU, unique=unique,
            )  # fmt: skip
        command = [sys.executable, str(BENCH / "loadgen.py"), url, "--concurrency", str(clients)]
        command += ["--model", model, "--timeout", str(TIMEOUT)]
        command += ["--total", str(total)] if total else ["--duration", str(seconds)]
        command += ["--key", key] if key else []
        command += ["--stream"] if stream else []
        command += ["--unique"] if unique else []
        command += ["--body", body.decode()]
        out = subprocess.run(pinned(LOAD_CPU, command), capture_output=True, text=True, check=True).stdout
        return LoadResult(**orjson.loads(out.strip().splitlines()[-1]))


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def fmt_ms(value: float) -> str:
    if value < 10:
        return f"{value:.2f}"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
