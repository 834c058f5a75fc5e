"""Loaded first (`-p tests.xdist_isolation` in pyproject.toml): when the suite runs on several pytest-xdist
workers, each gets a Redis database of its own, as pytest-django gives each its own PostgreSQL database.

Streams, Celery queues, limiter keys and caches then never meet across workers; the processes a test starts
(Celery workers, uvicorn) inherit the variable. It runs before Django reads its settings."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", … in a worker; absent otherwise
if _worker.startswith("gw") and os.environ.get("REDIS_URL"):
    parts = urlsplit(os.environ["REDIS_URL"])
    os.environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{int(_worker[2:]) + 1}"))
