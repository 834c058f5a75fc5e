"""Celery beat for the embedded default: with no broker, tasks run eagerly, so the web process runs the
periodic ones itself — in one process only (a file lock picks which of the uvicorn workers), in a thread.

With Redis, `celery beat` does this job and EMBEDDED_BEAT is off."""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from pathlib import Path
from typing import Any

from celery import current_app
from django.db import close_old_connections

logger = logging.getLogger(__name__)

# Tasks that need Redis, where the embedded default has none.
NEEDS_BROKER = frozenset({"analytics.call_logs_ingest"})


class EmbeddedBeat:
    def __init__(self, *, schedule: dict[str, dict[str, Any]], lock_path: Path, tick_seconds: float = 1.0) -> None:
        self._entries = [
            (name, entry["task"], float(entry["schedule"]), tuple(entry.get("args", ())))
            for name, entry in schedule.items()
            if entry["task"] not in NEEDS_BROKER
        ]
        self._lock_path = lock_path
        self._tick = tick_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file = None

    def start(self) -> bool:
        """Run the schedule in a thread if no other process does; False when another one holds the lock."""
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock_file = self._lock_path.open("w")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return False
        self._lock_file = lock_file  # held, and the lock with it, until this process ends
        self._thread = threading.Thread(target=self._loop, name="embedded-beat", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _loop(self) -> None:
        # The project's Celery app is the current one (portal/__init__.py makes it at start-up); core does not
        # import the project package.
        app = current_app
        app.loader.import_default_modules()
        due = {name: time.monotonic() for name, *_ in self._entries}  # each runs once at start-up
        while not self._stop.is_set():
            for name, task, interval, args in self._entries:
                if time.monotonic() >= due[name] and not self._stop.is_set():
                    due[name] = time.monotonic() + interval
                    self._run(app, task, args)
            self._stop.wait(self._tick)

    @staticmethod
    def _run(app, task: str, args: tuple) -> None:
        try:
            app.tasks[task].apply(args=args, throw=True)
        except Exception:
            logger.exception("embedded beat: task %s failed", task)
        finally:
            close_old_connections()
