"""PostgreSQL for the analytics benchmarks (bench/rollup.py, bench/dashboard.py): a given database, or a
throwaway server started the way scripts/test.sh does, and Django set up on it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def throwaway_postgres(database_url: str | None = None) -> Iterator[str]:
    """`database_url`, else DATABASE_URL, else a server in a temporary directory on a free port, stopped and
    removed on exit."""
    given = database_url or os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions or not (versions[-1] / "initdb").exists():
        sys.exit("PostgreSQL server binaries not found: install them (Debian: postgresql) or set DATABASE_URL.")
    pg_bin = versions[-1]
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    data = workdir / "pg"
    as_pg: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        workdir.chmod(0o755)
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    quiet = {"cwd": "/", "check": True, "stdout": subprocess.DEVNULL}
    subprocess.run([*as_pg, pg_bin / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"], **quiet)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off -c synchronous_commit=off"
    ctl = [*as_pg, pg_bin / "pg_ctl", "-D", data, "-w"]
    subprocess.run([*ctl, "-l", data / "server.log", "start", "-o", options], **quiet)
    try:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-qc", "CREATE DATABASE portal"], **quiet
        )
        yield f"postgres://postgres@127.0.0.1:{port}/portal"
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], cwd="/", stdout=subprocess.DEVNULL, check=False)
        shutil.rmtree(workdir, ignore_errors=True)


def setup_django(database_url: str, **environ: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.update(environ)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("DEBUG", "false")  # as in production: no query log kept in memory
    os.environ.setdefault("API_KEY_PEPPERS", "1:bench-only-pepper")
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "YmVuY2gtb25seS1maWVsZC1rZXktMzItYnl0ZXMtISE=")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
