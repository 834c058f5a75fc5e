"""Outbound sync against the fake GitLab: one commit of exactly the changed files under the connection's folder,
nothing when nothing changed, a branch and a merge request in review mode, and never a secret in the repository."""

from __future__ import annotations

import pytest

from apps.gitops.models import GitLabConnection, SyncRun
from apps.gitops.services import definitions_export
from apps.gitops.services.sync_outbound import SyncFailed, sync_out
from apps.providers import services as providers
from apps.providers.models import Provider, Route

pytestmark = pytest.mark.django_db

PROVIDER_KEY = "sk-live-secret-provider-key-123"


def _definitions(fake, ref="main"):
    return {p.removeprefix("definitions/"): t for p, t in fake.files(ref).items() if p.startswith("definitions/")}


def test_the_first_sync_commits_every_definition_file_in_one_commit(fake_gitlab, synced_tenant):
    before = len(fake_gitlab.commits_on("main"))

    run = sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)

    commits = fake_gitlab.commits_on("main")
    assert len(commits) == before + 1
    assert _definitions(fake_gitlab) == definitions_export(tenant=synced_tenant)
    # The files beside the folder are the team's: untouched.
    assert fake_gitlab.files()["README.md"] == "# Definitions\n"
    assert ".gitlab-ci.yml" in fake_gitlab.files()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.commit_sha == commits[0].id
    assert run.commit_url == f"{fake_gitlab.web_url}/-/commit/{commits[0].id}"
    assert commits[0].message.endswith(f"\n\nPortal-Sync: {run.pk}")
    assert commits[0].author_name == "AI Gateway Portal"
    assert {f["action"] for f in run.files_changed} == {"create"}
    assert run.finished_at is not None
    assert run.duration_seconds >= 0
    assert GitLabConnection.objects.get(tenant=synced_tenant).last_synced_commit == commits[0].id


def test_a_second_sync_without_a_change_makes_no_commit(fake_gitlab, synced_tenant):
    sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)
    head = fake_gitlab.branches["main"]
    seen = len(fake_gitlab.requests)

    run = sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)

    assert fake_gitlab.branches["main"] == head
    assert run.status == SyncRun.Status.UNCHANGED
    assert run.commit_sha == head
    # The branch and its tree were read (blob ids compared): no file downloaded, no commit posted.
    paths = [(r.method, r.path.rsplit("/", 2)[-2:]) for r in fake_gitlab.requests[seen:]]
    assert paths == [("GET", ["branches", "main"]), ("GET", ["repository", "tree"])]


def _changed(before, after):
    return {p for p in set(before) | set(after) if before.get(p) != after.get(p)}


def test_a_change_reaches_gitlab_as_one_commit_of_exactly_the_changed_files(fake_gitlab, synced_tenant):
    sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)
    before, commits = fake_gitlab.files(), len(fake_gitlab.commits)
    route = Route.objects.get(tenant=synced_tenant, alias="cheap")
    providers.route_update(route=route, actor_membership=None, data={"description": "Cheapest first", "retries": 3})
    fresh = providers.route_create(tenant=synced_tenant, actor_membership=None, alias="fresh", description="New")

    run = sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)

    after = fake_gitlab.files()
    assert len(fake_gitlab.commits) == commits + 1
    assert {(f["action"], f["path"]) for f in run.files_changed} == {
        ("update", "definitions/routes/cheap.yaml"),
        ("create", "definitions/routes/fresh.yaml"),
    }
    assert _changed(before, after) == {f["path"] for f in run.files_changed}
    assert "Cheapest first" in after["definitions/routes/cheap.yaml"]
    assert fake_gitlab.commits_on("main")[0].changes == {
        "definitions/routes/cheap.yaml": "modified",
        "definitions/routes/fresh.yaml": "added",
    }

    providers.route_delete(route=fresh, actor_membership=None)
    run = sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)

    assert run.files_changed == [{"action": "delete", "path": "definitions/routes/fresh.yaml"}]
    assert fake_gitlab.commits_on("main")[0].changes == {"definitions/routes/fresh.yaml": "removed"}
    assert _definitions(fake_gitlab) == definitions_export(tenant=synced_tenant)


def test_no_secret_reaches_the_repository(fake_gitlab, synced_tenant):
    provider = Provider.objects.get(tenant=synced_tenant, slug="echo")
    provider.set_api_key(PROVIDER_KEY)
    provider.save()

    sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)

    stored = "\n".join(
        commit.message + "".join(d.decode() for d in commit.tree.values()) for commit in fake_gitlab.commits.values()
    )
    assert "credential:echo" in stored  # the file names where the key is kept
    for secret in (PROVIDER_KEY, fake_gitlab.token, "whsec-test-1234"):
        assert secret not in stored
    # Nor in the history the UI shows.
    assert not SyncRun.objects.filter(error__contains=fake_gitlab.token).exists()


def test_review_mode_pushes_a_branch_and_opens_a_merge_request(fake_gitlab, synced_tenant):
    GitLabConnection.objects.filter(tenant=synced_tenant).update(review_mode=True)
    head = fake_gitlab.branches["main"]

    run = sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)

    assert fake_gitlab.branches["main"] == head  # the default branch waits for the review
    source = f"portal-sync/rich-{run.pk}"
    assert _definitions(fake_gitlab, source) == definitions_export(tenant=synced_tenant)
    (mr,) = fake_gitlab.merge_requests
    assert (mr["source_branch"], mr["target_branch"], mr["state"]) == (source, "main", "opened")
    assert mr["title"].startswith("Portal sync of rich:")
    assert run.merge_request_url == mr["web_url"]
    assert run.status == SyncRun.Status.SUCCEEDED


def test_an_empty_project_gets_its_first_branch(fake_gitlab, synced_tenant):
    fake_gitlab.commits.clear()
    fake_gitlab.branches.clear()

    run = sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert _definitions(fake_gitlab) == definitions_export(tenant=synced_tenant)


@pytest.mark.parametrize(
    ("modes", "words"),
    [
        (["status:401"], "GitLab refused the access token (401 Unauthorized)"),
        (["status:403"], "may not do this in acme/definitions (403 Forbidden)"),
        (["status:404"], "GitLab has no project acme/definitions, or the token may not see it (404 Not Found)"),
        (["ok", "ok", "status:409"], "GitLab reported a conflict (409): 409 Conflict"),
        (["status:500"] * 3, "GitLab failed (500): 500 Internal Server Error (after 3 attempts)"),
        (["status:429:0"] * 3, "GitLab is rate-limiting the portal (429 Too Many Requests) (after 3 attempts)"),
        (["hang"] * 3, "GitLab did not answer within 0.3 s (after 3 attempts)"),
    ],
)
def test_each_gitlab_failure_is_a_clear_error_in_the_run(fake_gitlab, synced_tenant, settings, modes, words):
    settings.GITLAB_TIMEOUT_SECONDS = 0.3
    head = fake_gitlab.branches["main"]
    fake_gitlab.script(*modes)

    with pytest.raises(SyncFailed) as caught:
        sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)

    run = SyncRun.objects.get(tenant=synced_tenant)
    assert run.status == SyncRun.Status.FAILED
    assert words in run.error
    assert caught.value.message == run.error
    assert caught.value.retryable == (modes[0] in ("status:500", "status:429:0", "hang"))
    assert fake_gitlab.token not in run.error
    assert fake_gitlab.branches["main"] == head


def test_a_failure_then_a_success_after_a_retry_with_retry_after(fake_gitlab, synced_tenant):
    fake_gitlab.script("status:429:0", "status:502")

    run = sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)

    assert run.status == SyncRun.Status.SUCCEEDED


def test_a_tenant_without_a_connection_is_told_so(tenant):
    with pytest.raises(SyncFailed, match="acme has no enabled GitLab connection"):
        sync_out(tenant=tenant, trigger=SyncRun.Trigger.MANUAL)
