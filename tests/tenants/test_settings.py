"""portal/settings.py and portal/env.py: strict env parsing, a production configuration that passes
`check --deploy`, and a clear refusal to start without the secrets production needs."""

from __future__ import annotations

import json
import os
import secrets
import stat
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
    dropped = {"DEBUG", "SECRET_KEY_FILE", "HTTPS", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE", "VAR_DIR", "SITE_URL"}
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


def test_https_hardening_is_on_only_when_https_is_declared(tmp_path):
    assert _settings_values(_env(**PRODUCTION)) == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
    }
    dev = _settings_values(_env(DEBUG="true", SECRET_KEY=None, API_KEY_PEPPERS=None, VAR_DIR=str(tmp_path)))
    assert dev == {
        "DEBUG": True,
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
    }


PRODUCTION_REFUSAL = "is required when DEBUG is off and DATABASE_URL names a server database"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": None}, f"SECRET_KEY {PRODUCTION_REFUSAL}"),
        ({"SECRET_KEY": ""}, f"SECRET_KEY {PRODUCTION_REFUSAL}"),
        ({"API_KEY_PEPPERS": None}, f"API_KEY_PEPPERS {PRODUCTION_REFUSAL}"),
        ({"FIELD_ENCRYPTION_KEYS": None}, f"FIELD_ENCRYPTION_KEYS {PRODUCTION_REFUSAL}"),
        ({"DEBUG": "maybe"}, "DEBUG must be true or false, got 'maybe'"),
        ({"SITE_URL": "portal.example.com"}, "SITE_URL must start with http:// or https://"),
    ],
)
def test_production_refuses_to_start_without_what_it_needs(overrides, message, tmp_path):
    """Production is a server database (the test suite's PostgreSQL) with DEBUG off: no secret is ever made up."""
    result = _run(["-c", "import portal.settings"], _env(VAR_DIR=str(tmp_path), **overrides))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
    assert not list(tmp_path.iterdir())  # nothing generated


def _embedded_env(workdir: Path) -> dict[str, str]:
    """The embedded default (SQLite) with no secret set; its file and var/ in `workdir`."""
    return _env(
        SECRET_KEY=None,
        API_KEY_PEPPERS=None,
        FIELD_ENCRYPTION_KEYS=None,
        DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
        VAR_DIR=str(workdir / "var"),
    )


FINGERPRINT = (
    "import hashlib; from portal import settings as s; "
    "print(hashlib.sha256(repr((s.SECRET_KEY, s.API_KEY_PEPPERS, s.FIELD_ENCRYPTION_KEYS)).encode()).hexdigest())"
)


def test_processes_starting_together_on_the_embedded_default_agree_on_one_set_of_secrets(tmp_path):
    """uvicorn's workers start at once: every one must end up with the same secrets, made by exactly one of them."""
    processes = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", FINGERPRINT],
            cwd=BASE_DIR,
            env=_embedded_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    assert len({stdout for stdout, _ in outputs}) == 1
    announcements = "".join(stderr for _, stderr in outputs)
    for name, file in [("SECRET_KEY", "secret-key"), ("API_KEY_PEPPERS", "api-key-peppers")]:
        assert announcements.count(f"made {name} for this installation") == 1  # one maker, the others read it
        assert stat.S_IMODE((tmp_path / "var" / file).stat().st_mode) == 0o600
    assert sorted(path.name for path in (tmp_path / "var").iterdir()) == [
        "api-key-peppers",
        "field-encryption-keys",
        "secret-key",
    ]  # no temporary file left behind


def test_an_empty_secret_file_is_refused_rather_than_used(tmp_path):
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret-key").write_text("\n")
    result = _run(["-c", "import portal.settings"], _embedded_env(tmp_path))
    assert result.returncode != 0
    assert "secret-key is empty" in result.stderr


def test_the_embedded_default_serves_static_files_from_the_source_with_debug_off(tmp_path):
    code = (
        "import json; from portal import settings as s; "
        "print(json.dumps([s.DEBUG, s.EMBEDDED, s.WHITENOISE_USE_FINDERS, s.STORAGES['staticfiles']['BACKEND']]))"
    )
    result = _run(["-c", code], _embedded_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [False, True, True, "django.contrib.staticfiles.storage.StaticFilesStorage"]
    production = _run(["-c", code], _env())
    assert json.loads(production.stdout) == [
        False,
        False,
        False,
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
    ]


def test_collectstatic_succeeds_in_production(tmp_path):
    """The README's production step. The vendored Chart.js once named a source map that is not in the repository,
    and the manifest storage refused it (MissingFileError): no manifest, and every page answered 500."""
    result = _run(["manage.py", "collectstatic", "--noinput"], _env(STATIC_ROOT=str(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    for path in ["vendor/chartjs/chart.umd.min.js", "vendor/htmx/htmx.min.js", "css/portal.css"]:
        assert path in manifest
