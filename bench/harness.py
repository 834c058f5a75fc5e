"""Processes for the benchmark: a throwaway portal database, the fake upstreams and the gateway, each pinned
to its core, plus what is read about them from /proc."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
GATEWAY_CPU, LOAD_CPU = "0", "1"  # the gateway alone on core 0; load generator and fake upstreams on core 1


def raise_fd_limit() -> int:
    """1,000 clients are 1,000 sockets in the load generator, 2,000 in the gateway (client + upstream side):
    lift the soft limit to the hard one for this process and every process it starts."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def somaxconn() -> int:
    """The kernel's cap on every listen backlog: the servers here ask for 4,096 so that 1,000 clients
    connecting at once are not refused; a lower cap shows as connection errors in the slow row."""
    return int(Path("/proc/sys/net/core/somaxconn").read_text())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, *, headers: dict[str, str] | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout:g} s") from None
            time.sleep(0.1)


def pinned(cpus: str, command: list[str]) -> list[str]:
    return ["taskset", "-c", cpus, *command]


@dataclass
class Portal:
    """A migrated SQLite portal database in a temporary directory, seeded by bench/seed.py."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="portal-bench-")))
    key: str = ""

    @property
    def env(self) -> dict[str, str]:
        # Only what the run needs: DEBUG for the development defaults (secrets), a database of its own, and
        # the GATEWAY_* settings at their defaults (call logging on, flushed every second). The worker does not
        # run the periodic tasks as the embedded default's may: in production Celery beat and workers do.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        return env | {
            "DATABASE_URL": f"sqlite:///{self.workdir / 'portal.sqlite3'}",
            "DEBUG": "true",
            "EMBEDDED_BEAT": "false",
            "PYTHONPATH": str(ROOT),
        }

    def create(self, fast_url: str, slow_url: str) -> None:
        run = {"cwd": ROOT, "env": self.env, "check": True, "capture_output": True, "text": True}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], **run)
        self.key = subprocess.run([sys.executable, str(BENCH / "seed.py"), fast_url, slow_url], **run).stdout.strip()

    def call_logs(self) -> int:
        code = "from apps.analytics.models import CallLog; print(CallLog.objects.count())"
        out = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return int(out.stdout.strip().splitlines()[-1])


class Process:
    """A child process in its own process group, stopped with SIGTERM (then SIGKILL) on exit."""

    def __init__(self, command: list[str], *, env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.log = log
        output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
        self.popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start_upstream(port: int, *, delay: float = 0.0, impl: str = "raw") -> Process:
    command = [sys.executable, str(BENCH / "fake_upstream.py"), "--port", str(port), "--delay", str(delay)]
    process = Process(pinned(LOAD_CPU, [*command, "--impl", impl]))
    wait_for(f"http://127.0.0.1:{port}/v1/models")
    return process


def gateway_command(server: str, port: int) -> list[str]:
    """The production command of each ASGI server, one worker (scripts/run.sh runs the winner)."""
    if server == "uvicorn":
        return [
            str(BIN / "uvicorn"), "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--backlog", "4096",
        ]  # fmt: skip
    return [
        str(BIN / "granian"), "portal.asgi:application", "--interface", "asgi", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1", "--loop", "uvloop", "--no-ws", "--backlog", "4096",
        "--log-level", "warning",
    ]  # fmt: skip


def start_gateway(portal: Portal, server: str, port: int, log: Path) -> Process:
    process = Process(pinned(GATEWAY_CPU, gateway_command(server, port)), env=portal.env, log=log)
    wait_for(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {portal.key}"}, timeout=60)
    return process


def worker_pid(process: Process) -> int:
    """The process that serves requests: uvicorn's own, or granian's single worker (its child)."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    return int(children[0]) if children else process.pid


def memory_mb(pid: int, field_name: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field_name)
