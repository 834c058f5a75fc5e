"""manage.py gitops connect and gitops sync against the fake GitLab."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from apps.core.models import AuditEvent
from apps.gitops.models import GitLabConnection, SyncRun
from tests.gitops.conftest import build_rich_tenant

pytestmark = pytest.mark.django_db


def _run(*args, **env):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("gitops", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def rich(db):
    return build_rich_tenant()


def _connect(fake, monkeypatch, *extra):
    monkeypatch.setenv("GL_TOKEN", fake.token)
    monkeypatch.setenv("GL_HOOK", "hook-secret-42")
    return _run(
        "connect",
        "--tenant",
        "rich",
        "--gitlab-url",
        fake.url,
        "--project",
        fake.project_path,
        "--token-env",
        "GL_TOKEN",
        "--webhook-secret-env",
        "GL_HOOK",
        *extra,
    )


def test_connect_checks_the_project_and_stores_the_token_encrypted(fake_gitlab, rich, monkeypatch):
    code, out, _ = _connect(fake_gitlab, monkeypatch)

    assert code == 0
    assert f"Tenant rich is connected to acme/definitions@main on {fake_gitlab.url}." in out
    connection = GitLabConnection.objects.get(tenant=rich)
    assert connection.token() == fake_gitlab.token
    assert connection.webhook_secret() == "hook-secret-42"
    assert fake_gitlab.token not in connection.token_encrypted
    assert fake_gitlab.token not in out
    event = AuditEvent.objects.get(action="gitops.connect")
    assert event.source == "cli"
    assert fake_gitlab.token not in str(event.changes)
    assert fake_gitlab.requests[-2].headers["PRIVATE-TOKEN"] == fake_gitlab.token


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("status:401", "--token: GitLab check failed: GitLab refused the access token (401 Unauthorized)"),
        ("status:404", "--project: GitLab check failed: GitLab has no project acme/definitions"),
    ],
)
def test_connect_refuses_a_project_it_cannot_reach_and_saves_nothing(fake_gitlab, rich, monkeypatch, mode, words):
    fake_gitlab.script(mode)

    with pytest.raises(CommandError) as caught:
        _connect(fake_gitlab, monkeypatch)

    assert words in str(caught.value)
    assert not GitLabConnection.objects.exists()


def test_connect_refuses_a_missing_branch(fake_gitlab, rich, monkeypatch):
    with pytest.raises(CommandError, match=r"^--branch: The project has no branch 'develop'\.$"):
        _connect(fake_gitlab, monkeypatch, "--branch", "develop")


def test_connect_refuses_an_internal_address_the_operator_did_not_allow(fake_gitlab, rich, monkeypatch, settings):
    settings.GITLAB_ALLOW_PRIVATE_NETWORKS = []

    with pytest.raises(CommandError, match=r"^--gitlab-url: 127\.0\.0\.1 is an internal address"):
        _connect(fake_gitlab, monkeypatch)

    assert fake_gitlab.requests == []


def test_connect_needs_the_token_variable(fake_gitlab, rich, monkeypatch):
    monkeypatch.delenv("EMPTY_VAR", raising=False)

    with pytest.raises(CommandError, match="The variable EMPTY_VAR is empty or unset"):
        _run(
            "connect",
            "--tenant",
            "rich",
            "--gitlab-url",
            fake_gitlab.url,
            "--project",
            "x/y",
            "--token-env",
            "EMPTY_VAR",
        )


def test_sync_wait_prints_the_commit_then_that_nothing_changed(fake_gitlab, rich, monkeypatch):
    _connect(fake_gitlab, monkeypatch)

    code, out, _ = _run("sync", "--tenant", "rich", "--wait")

    head = fake_gitlab.branches["main"]
    assert code == 0
    assert out.startswith(f"Committed {head} (")
    assert f"{fake_gitlab.web_url}/-/commit/{head}" in out

    code, out, _ = _run("sync", "--tenant", "rich", "--wait")

    assert code == 0
    assert out == "Nothing changed: GitLab already holds tenant rich's definitions.\n"


@pytest.mark.parametrize(
    ("modes", "words"),
    [
        (["status:403"], "may not do this in acme/definitions (403 Forbidden)"),
        (["ok", "ok", "status:409"], "GitLab reported a conflict (409)"),
        (["status:503"] * 3, "GitLab failed (503): 503 Service Unavailable (after 3 attempts)"),
        (["status:429:0"] * 3, "GitLab is rate-limiting the portal (429 Too Many Requests)"),
        (["hang"] * 3, "GitLab did not answer within 0.3 s"),
    ],
)
def test_sync_failures_are_clear_errors_in_the_output(fake_gitlab, rich, monkeypatch, settings, modes, words):
    _connect(fake_gitlab, monkeypatch)
    settings.GITLAB_TIMEOUT_SECONDS = 0.3
    fake_gitlab.script(*modes)

    code, _, err = _run("sync", "--tenant", "rich", "--wait")

    assert code == 1
    assert err.startswith("Sync of tenant rich failed: ")
    assert words in err
    assert SyncRun.objects.get().error in err


def test_sync_without_wait_queues_the_task(fake_gitlab, rich, monkeypatch):
    _connect(fake_gitlab, monkeypatch)

    code, out, _ = _run("sync", "--tenant", "rich")

    assert code == 0
    assert out.startswith("Sync of tenant rich queued (task ")
    # Tests run tasks eagerly: the commit is there.
    assert SyncRun.objects.get().commit_sha == fake_gitlab.branches["main"]


def test_sync_of_an_unknown_tenant(db):
    with pytest.raises(CommandError, match="No tenant 'nope'"):
        _run("sync", "--tenant", "nope", "--wait")
