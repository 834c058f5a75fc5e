"""`make run` as a new user meets it: scripts/run.sh serves the embedded default, and every command the README
shows works from a second shell with no variable set.

The portal runs for real (scripts/run.sh: migrate, seed_demo, uvicorn) in a temporary directory: its SQLite file and
its var/ are put there (DATABASE_URL=sqlite:///…, VAR_DIR), so the clone's own are never touched."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.celery_workers import wait_until
from tests.gateway.policies.conftest import wait_for_room

BASE_DIR = Path(__file__).resolve().parents[2]
SECRET_FILES = ("secret-key", "api-key-peppers", "field-encryption-keys")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(workdir: Path) -> dict[str, str]:
    """A shell with nothing set but where this clone keeps its database and var/ (in `workdir`, for the test)."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "VAR_DIR": str(workdir / "var"),
    }


def manage(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=clean_env(workdir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """The portal as `make run` serves it; yields (base URL, workdir, what run.sh printed so far)."""
    workdir = tmp_path_factory.mktemp("embedded")
    port = _free_port()
    log = workdir / "run.log"
    env = {**clean_env(workdir), "PORT": str(port)}  # as many workers as run.sh chooses
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - the script of this clone
            [str(BASE_DIR / "scripts" / "run.sh")],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, f"scripts/run.sh exited:\n{log.read_text()}"
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, timeout=120, interval=0.5, what="scripts/run.sh to serve")
        yield base, workdir, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_the_embedded_default_makes_its_secrets_once_keeps_them_private_and_never_prints_them(portal):
    _, workdir, log = portal
    output = log.read_text()
    for name in SECRET_FILES:
        path = workdir / "var" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        assert f"kept in {path}" in output  # it says where they are…
        assert path.read_text().strip() not in output  # …never what they are
    before = {name: (workdir / "var" / name).read_text() for name in SECRET_FILES}
    check = manage(workdir, "check")
    assert check.returncode == 0, check.stderr
    assert {name: (workdir / "var" / name).read_text() for name in SECRET_FILES} == before  # made once, then kept


def test_a_key_made_in_a_second_shell_calls_the_running_portal(portal):
    """The README's flow: `make run` in one shell, `python manage.py create_api_key …` in another, then /v1."""
    base, workdir, log = portal
    assert "python manage.py create_api_key --tenant demo --app demo-app" in log.read_text()
    assert f"log in at {base}/accounts/login/" in log.read_text()  # SITE_URL follows PORT
    result = manage(workdir, "create_api_key", "--tenant", "demo", "--app", "demo-app")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith("gwk_")
    body = {"model": "echo", "messages": [{"role": "user", "content": "Hello"}]}
    answer = httpx.post(
        f"{base}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "Hello"


def test_a_mistyped_url_gets_the_portals_404_page_not_the_debug_page(portal):
    base, _, _ = portal
    response = httpx.get(f"{base}/catalgo/", timeout=10)
    assert response.status_code == 404
    assert "URLconf" not in response.text
    assert "Django tried these URL patterns" not in response.text
    assert "Not found" in response.text
    assert "/static/vendor/pico/pico.min.css" in response.text  # base.html, styled


def test_static_files_and_the_api_docs_are_served_by_the_portal_itself(portal):
    base, _, _ = portal
    assert httpx.get(f"{base}/static/vendor/pico/pico.min.css", timeout=10).status_code == 200
    docs = httpx.get(f"{base}/api/docs/", timeout=10)
    assert docs.status_code == 200
    assert "https://" not in docs.text  # no CDN: the page works offline
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert bundle in docs.text
    assert "SwaggerUIBundle" in httpx.get(f"{base}{bundle}", timeout=10).text


LIMIT_A_KEY = """
from apps.access.models import ApiKey
from apps.access.services.limits import limit_set_create
key = ApiKey.objects.get(lookup_id="{lookup_id}")
limit_set_create(tenant=key.tenant, actor_membership=None, api_key=key, requests_per_day=3)
"""


def test_a_limit_holds_exactly_on_the_embedded_default(portal):
    """Without Redis the counters live in the process: `make run` must not serve several processes that would
    each admit the whole limit."""
    base, workdir, _ = portal
    key = manage(workdir, "create_api_key", "--tenant", "demo", "--app", "demo-app").stdout.strip()
    result = manage(workdir, "shell", "-c", LIMIT_A_KEY.format(lookup_id=key.split("_")[1]))
    assert result.returncode == 0, result.stderr
    body = {"model": "echo", "messages": [{"role": "user", "content": "Hello"}]}

    def call() -> httpx.Response:  # a new connection each time, as separate clients would come
        return httpx.post(f"{base}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})

    wait_for_room("day", 30)  # the quota's day must not end halfway
    # The limit reaches the serving processes within a second; the call that first shows it is counted.
    wait_until(lambda: call().headers.get("x-ratelimit-limit-requests") == "3", timeout=30, what="the limit")
    time.sleep(1.5)  # every other process too
    statuses = [call().status_code for _ in range(8)]
    assert statuses == [200, 200] + [429] * 6, statuses
