"""portal/settings.py and portal/env.py: strict env parsing, a production configuration that passes
`check --deploy`, and a clear refusal to start without the secrets production needs."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_list

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw", ["maybe", "ture", "2", "enabled"])
def test_env_bool_rejects_anything_but_a_boolean(monkeypatch, raw):
    monkeypatch.setenv("SOME_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match=f"SOME_FLAG must be true or false, got '{raw}'"):
        env_bool("SOME_FLAG")


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), (" TRUE ", True), ("false", False)])
def test_env_bool_reads_booleans(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG", default=not expected) is expected


def test_env_bool_falls_back_to_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("SOME_FLAG", raising=False)
    assert env_bool("SOME_FLAG", default=True) is True


def test_env_int_and_env_list(monkeypatch):
    monkeypatch.setenv("SOME_INT", "12x")
    with pytest.raises(ImproperlyConfigured, match="SOME_INT must be an integer"):
        env_int("SOME_INT", default=1)
    monkeypatch.setenv("SOME_LIST", " a, b ,,c ")
    assert env_list("SOME_LIST") == ["a", "b", "c"]


def _env(**overrides: str | None) -> dict[str, str]:
    """The test process's environment (DATABASE_URL, REDIS_URL, …) with DEBUG and the secrets replaced."""
    # DJANGO_ALLOW_ASYNC_UNSAFE is the test harness's (for Playwright), never production's.
    dropped = {"DEBUG", "SECRET_KEY_FILE", "HTTPS", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env["API_KEY_PEPPERS"] = f"1:{secrets.token_urlsafe(32)}"
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120, check=False
    )


PRODUCTION = {"HTTPS": "true", "ALLOWED_HOSTS": "portal.example.com"}


def test_a_production_configuration_passes_check_deploy_without_warnings():
    assert os.environ.get("DATABASE_URL"), "make test provides DATABASE_URL"
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _env(**PRODUCTION))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_check_deploy_does_catch_a_production_served_over_plain_http():
    """The test above can fail: without HTTPS=true the same configuration draws the security warnings."""
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _env(HTTPS="false"))
    assert result.returncode != 0
    assert "security.W008" in result.stderr  # SECURE_SSL_REDIRECT
    assert "security.W012" in result.stderr  # SESSION_COOKIE_SECURE


def _settings_values(env: dict[str, str]) -> dict:
    names = ["DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS"]
    code = f"import json; from portal import settings as s; print(json.dumps({{n: getattr(s, n) for n in {names}}}))"
    result = _run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_https_hardening_is_on_only_when_https_is_declared():
    assert _settings_values(_env(**PRODUCTION)) == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
    }
    dev = _settings_values(_env(DEBUG="true", SECRET_KEY=None, API_KEY_PEPPERS=None))
    assert dev == {
        "DEBUG": True,
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is required when DEBUG is off"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is required when DEBUG is off"),
        ({"API_KEY_PEPPERS": None}, "API_KEY_PEPPERS is required when DEBUG is off"),
        ({"DEBUG": "maybe"}, "DEBUG must be true or false, got 'maybe'"),
    ],
)
def test_settings_refuse_to_load_without_what_production_needs(overrides, message):
    result = _run(["-c", "import portal.settings"], _env(**overrides))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
