"""Gateway workers for tests: the portal's ASGI application under uvicorn as OS processes (lifespan on, as in
production), each on its own port so a test knows which worker answers, working on the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from tests.celery_workers import database_url


@dataclass
class GatewayWorker:
    process: subprocess.Popen
    url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(worker: GatewayWorker, timeout: float = 60) -> None:
    """uvicorn answers only once the lifespan start-up is complete (the first snapshot is built by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"gateway worker {worker.url} exited with {worker.process.returncode}")
        try:
            if httpx.get(f"{worker.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"gateway worker {worker.url} did not start")


@contextmanager
def gateway_workers(count: int, **extra_env: str) -> Iterator[list[GatewayWorker]]:
    """`count` workers for a transactional test (they see only committed rows); `extra_env` overrides
    settings (REDIS_URL="" for the embedded mode without Redis)."""
    env = {**os.environ, "DATABASE_URL": database_url(), "EMBEDDED_BEAT": "false", **extra_env}
    workers = []
    try:
        for _ in range(count):
            port = _free_port()
            command = [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1"]
            command += ["--port", str(port), "--lifespan", "on", "--log-level", "warning", "--no-access-log"]
            process = subprocess.Popen(command, env=env)  # noqa: S603 - our own interpreter and arguments
            workers.append(GatewayWorker(process=process, url=f"http://127.0.0.1:{port}"))
        for worker in workers:
            _wait_until_serving(worker)
        yield workers
    finally:
        for worker in workers:
            worker.process.terminate()
        for worker in workers:
            try:
                worker.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait(timeout=5)
