"""Real Celery workers for tests: `celery -A portal worker` as OS processes on the real Redis, working on the
test database, so a test can kill one mid-batch and start another."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote

import redis
from django.conf import settings
from django.db import connection

from portal.celery import app as celery_app

# How a test finds its workers' database sessions: per xdist worker, so a test never touches another's.
WORKER_APPLICATION_NAME = f"celery-test-worker-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def database_params(**override: str) -> dict[str, str]:
    """libpq parameters of the test database (another `dbname` for an admin session)."""
    db = connection.settings_dict
    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "dbname": db["NAME"]}
    if db["PASSWORD"]:
        params["password"] = db["PASSWORD"]
    return {**params, **override}


def database_url() -> str:
    """The test database as a DATABASE_URL, for processes started by a test."""
    params = database_params()
    credentials = quote(params["user"], safe="")
    if "password" in params:
        credentials += f":{quote(params['password'], safe='')}"
    return f"postgres://{credentials}@{params['host']}:{params['port']}/{params['dbname']}"


@dataclass
class WorkerPool:
    """Workers on one private queue and one private call stream."""

    queue: str
    stream: str
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self) -> subprocess.Popen:
        command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--loglevel=WARNING"]
        command += ["-Q", self.queue, "-n", f"{self.queue}-{len(self.processes)}@%h"]
        command += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
        process = subprocess.Popen(command, env=self.env)  # noqa: S603 - our own interpreter and arguments
        self.processes.append(process)
        return process

    def send(self, task, *args):
        return task.apply_async(args=args, queue=self.queue)

    def run(self, task, *args, timeout: float = 60):
        """Send a task and wait for its result (the first one also waits for the worker to be up)."""
        return self.send(task, *args).get(timeout=timeout)

    def kill(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.kill(process)


@contextmanager
def celery_worker_pool(**extra_env: str) -> Iterator[WorkerPool]:
    """Workers for a transactional test (they see only committed rows). Tasks sent from the test go to the
    broker instead of running eagerly while the pool is open."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "PGAPPNAME": WORKER_APPLICATION_NAME,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "EMBEDDED_BEAT": "false",
        "GATEWAY_CALL_SINK": "redis",
        "ANALYTICS_CALL_STREAM": f"{name}:calls",
        **extra_env,
    }
    pool = WorkerPool(queue=name, stream=env["ANALYTICS_CALL_STREAM"], env=env)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        yield pool
    finally:
        celery_app.conf.task_always_eager = eager
        pool.stop_all()
        client.delete(pool.stream, pool.queue)


def wait_until(predicate, *, timeout: float = 30, interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
