"""The plain git remote target against a real bare repository: one commit of exactly the changed files under the
folder the portal owns, nothing when nothing changed, files beside the folder untouched."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.gitops.models import GitRemote, SyncRun
from apps.gitops.services import definitions_export
from apps.gitops.services.sync_outbound import SyncFailed, sync_out
from apps.providers import services as providers
from apps.providers.models import Route
from tests.gitops.conftest import build_rich_tenant

pytestmark = pytest.mark.django_db


def git(*args, cwd=None):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout  # noqa: S603, S607


@pytest.fixture
def bare(tmp_path):
    """A bare repository whose main branch holds a README and a CI file, as a team's repository would."""
    remote = tmp_path / "definitions.git"
    git("init", "--quiet", "--bare", "--initial-branch", "main", str(remote))
    work = tmp_path / "seed"
    git("clone", "--quiet", str(remote), str(work))
    (work / "README.md").write_text("# Definitions\n")
    (work / ".gitlab-ci.yml").write_text("stages: [validate]\n")
    git("add", ".", cwd=work)
    git("-c", "user.name=Ada", "-c", "user.email=ada@example.com", "commit", "--quiet", "-m", "start", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    return remote


def _files_at(remote: Path, tmp_path: Path) -> tuple[dict[str, str], list[str]]:
    """The files of main under definitions/ (and every file), and the commit subjects, newest first."""
    clone = tmp_path / "check"
    subprocess.run(["rm", "-rf", str(clone)], check=True)  # noqa: S603, S607
    git("clone", "--quiet", str(remote), str(clone))
    files = {
        p.relative_to(clone).as_posix(): p.read_text()
        for p in clone.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }
    return files, git("log", "--format=%B%x00", cwd=clone).split("\x00")


@pytest.fixture
def connected(bare):
    tenant = build_rich_tenant()
    out = io.StringIO()
    call_command("gitops", "connect", "--tenant", "rich", "--git-remote", str(bare), stdout=out)
    assert out.getvalue() == f"Tenant rich syncs to the git remote {bare}@main.\n"
    return tenant


def test_a_sync_pushes_one_commit_of_the_definitions(connected, bare, tmp_path):
    run = sync_out(tenant=connected, trigger=SyncRun.Trigger.MANUAL)

    files, messages = _files_at(bare, tmp_path)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert {p.removeprefix("definitions/"): t for p, t in files.items() if p.startswith("definitions/")} == (
        definitions_export(tenant=connected)
    )
    assert files["README.md"] == "# Definitions\n"
    assert ".gitlab-ci.yml" in files
    assert messages[0].strip().endswith(f"Portal-Sync: {run.pk}")
    assert run.commit_sha == git("rev-parse", "main", cwd=bare).strip()
    assert GitRemote.objects.get(tenant=connected).last_synced_commit == run.commit_sha


def test_only_what_changed_is_committed_and_nothing_when_nothing_did(connected, bare, tmp_path):
    sync_out(tenant=connected, trigger=SyncRun.Trigger.MANUAL)
    head = git("rev-parse", "main", cwd=bare).strip()

    unchanged = sync_out(tenant=connected, trigger=SyncRun.Trigger.MANUAL)

    assert unchanged.status == SyncRun.Status.UNCHANGED
    assert unchanged.commit_sha == head
    assert git("rev-parse", "main", cwd=bare).strip() == head

    route = Route.objects.get(tenant=connected, alias="cheap")
    providers.route_update(route=route, actor_membership=None, data={"description": "via git"})
    fresh = providers.route_create(tenant=connected, actor_membership=None, alias="fresh")
    run = sync_out(tenant=connected, trigger=SyncRun.Trigger.MANUAL)

    assert {(f["action"], f["path"]) for f in run.files_changed} == {
        ("update", "definitions/routes/cheap.yaml"),
        ("create", "definitions/routes/fresh.yaml"),
    }
    assert git("rev-list", "--count", f"{head}..main", cwd=bare).strip() == "1"

    providers.route_delete(route=fresh, actor_membership=None)
    run = sync_out(tenant=connected, trigger=SyncRun.Trigger.MANUAL)

    assert run.files_changed == [{"action": "delete", "path": "definitions/routes/fresh.yaml"}]
    files, _ = _files_at(bare, tmp_path)
    assert "definitions/routes/fresh.yaml" not in files


def test_an_empty_remote_gets_its_first_branch(tmp_path):
    remote = tmp_path / "empty.git"
    git("init", "--quiet", "--bare", "--initial-branch", "main", str(remote))
    tenant = build_rich_tenant()
    call_command("gitops", "connect", "--tenant", "rich", "--git-remote", str(remote), stdout=io.StringIO())

    run = sync_out(tenant=tenant, trigger=SyncRun.Trigger.MANUAL)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert "definitions/tenant.yaml" in _files_at(remote, tmp_path)[0]


def test_a_remote_that_does_not_answer_is_refused_and_a_vanished_one_fails_the_run(connected, bare, tmp_path):
    with pytest.raises(CommandError, match="--git-remote: The remote does not answer: git ls-remote failed"):
        call_command("gitops", "connect", "--tenant", "rich", "--git-remote", str(tmp_path / "nope.git"))
    with pytest.raises(CommandError, match="--git-remote: Give the remote as"):
        call_command("gitops", "connect", "--tenant", "rich", "--git-remote", "ext::sh -c touch% /tmp/pwned")

    subprocess.run(["rm", "-rf", str(bare)], check=True)  # noqa: S603, S607
    with pytest.raises(SyncFailed, match="git ls-remote failed"):
        sync_out(tenant=connected, trigger=SyncRun.Trigger.MANUAL)

    assert SyncRun.objects.get().status == SyncRun.Status.FAILED


def test_gitops_sync_wait_prints_the_pushed_commit(connected, bare):
    out = io.StringIO()

    call_command("gitops", "sync", "--tenant", "rich", "--wait", stdout=out)

    run = SyncRun.objects.get()
    assert out.getvalue() == f"Committed {run.commit_sha} ({len(run.files_changed)} files)\n"
    assert run.commit_sha == git("rev-parse", "main", cwd=bare).strip()
