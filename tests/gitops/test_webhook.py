"""Inbound: GitLab push events on POST /api/v1/gitops/gitlab/webhook. A person's push changes the portal; the
portal's own commit coming back changes nothing; a wrong token, an unknown project and invalid files are refused
with the database unchanged."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.gitops.models import GitLabConnection, SyncRun
from apps.gitops.services import definitions_export
from apps.gitops.services.sync_inbound import sync_review_apply
from apps.gitops.services.sync_outbound import sync_out
from apps.providers.models import Route
from tests.gitops.gitlab_fixtures import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db
URL = "/api/v1/gitops/gitlab/webhook"
CHEAP = "definitions/routes/cheap.yaml"


def _post(payload, token=WEBHOOK_SECRET, **headers):
    return APIClient().post(
        URL, payload, format="json", HTTP_X_GITLAB_TOKEN=token, HTTP_X_GITLAB_EVENT="Push Hook", **headers
    )


@pytest.fixture
def pushed(fake_gitlab, synced_tenant, django_capture_on_commit_callbacks):
    """The tenant synced out, then a person's commit on main changing the cheap route: (before, after)."""
    sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)
    before = fake_gitlab.branches["main"]
    text = fake_gitlab.files()[CHEAP].replace("retries: 2", "retries: 5")
    assert text != fake_gitlab.files()[CHEAP]
    fake_gitlab.seed({CHEAP: text}, message="More retries for cheap")
    return before, fake_gitlab.branches["main"]


def test_a_push_by_a_person_changes_the_portal(fake_gitlab, synced_tenant, pushed, django_capture_on_commit_callbacks):
    before, after = pushed

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(fake_gitlab.push_event(before, after))

    assert response.status_code == 202, response.content
    assert response.json() == {"status": "queued", "commit": after}
    assert Route.objects.get(tenant=synced_tenant, alias="cheap").retries == 5
    run = SyncRun.objects.get(tenant=synced_tenant, direction=SyncRun.Direction.IN)
    assert (run.status, run.trigger, run.commit_sha) == (SyncRun.Status.SUCCEEDED, SyncRun.Trigger.WEBHOOK, after)
    assert run.commit_url == f"{fake_gitlab.web_url}/-/commit/{after}"
    assert run.files_changed == [{"action": "update", "path": "routes/cheap.yaml"}]
    assert GitLabConnection.objects.get(tenant=synced_tenant).last_synced_commit == after
    # The change came from GitLab: no sync goes back to it, and the repository and the portal now agree.
    assert fake_gitlab.branches["main"] == after
    assert definitions_export(tenant=synced_tenant) == {
        p.removeprefix("definitions/"): t for p, t in fake_gitlab.files().items() if p.startswith("definitions/")
    }


def test_the_portals_own_commit_coming_back_changes_nothing(
    fake_gitlab, synced_tenant, django_capture_on_commit_callbacks
):
    start = fake_gitlab.branches["main"]
    route = Route.objects.get(tenant=synced_tenant, alias="cheap")
    route.description = "only in the database"
    route.save()  # not through a service: a later pull must not be what restores it
    out = sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)
    Route.objects.filter(pk=route.pk).update(description="changed after the sync")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _post(fake_gitlab.push_event(start, out.commit_sha))

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert callbacks == []
    assert not SyncRun.objects.filter(direction=SyncRun.Direction.IN).exists()
    assert Route.objects.get(pk=route.pk).description == "changed after the sync"


def test_a_forged_trailer_does_not_hide_a_commit(
    fake_gitlab, synced_tenant, pushed, django_capture_on_commit_callbacks
):
    before, _ = pushed
    text = fake_gitlab.files()[CHEAP].replace("retries: 5", "retries: 4")
    forged = fake_gitlab.seed({CHEAP: text}, message="Sneaky\n\nPortal-Sync: 1")

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(fake_gitlab.push_event(before, forged.id))

    assert response.status_code == 202
    assert Route.objects.get(tenant=synced_tenant, alias="cheap").retries == 4


def test_a_wrong_token_is_refused_with_401(fake_gitlab, synced_tenant, pushed):
    response = _post(fake_gitlab.push_event(*pushed), token="not-the-secret")

    assert response.status_code == 401
    assert response.json() == {"message": "Invalid X-Gitlab-Token."}
    assert Route.objects.get(tenant=synced_tenant, alias="cheap").retries == 2


def test_a_missing_token_is_refused_with_401(fake_gitlab, synced_tenant, pushed):
    response = APIClient().post(URL, fake_gitlab.push_event(*pushed), format="json")

    assert response.status_code == 401


def test_an_unknown_project_is_404_naming_no_tenant(fake_gitlab, synced_tenant, pushed):
    payload = fake_gitlab.push_event(*pushed)
    payload["project_id"] = payload["project"]["id"] = 999
    payload["project"]["path_with_namespace"] = "someone/else"

    response = _post(payload)

    assert response.status_code == 404
    assert response.json() == {"message": "No connection for this project."}
    assert b"rich" not in response.content


def test_a_body_that_is_not_an_event_is_a_400(synced_tenant):
    response = APIClient().post(URL, [1, 2], format="json", HTTP_X_GITLAB_TOKEN=WEBHOOK_SECRET)

    assert response.status_code == 400


def test_invalid_files_leave_the_database_unchanged_and_the_errors_in_the_run(
    fake_gitlab, synced_tenant, pushed, django_capture_on_commit_callbacks
):
    before, _ = pushed
    bad = fake_gitlab.seed(
        {
            "definitions/routes/broken.yaml": "apiVersion: portal/v1\nkind: Route\nalias: [unclosed\n",
            "definitions/routes/fast.yaml": "apiVersion: gateway.portal/v1\nkind: Gizmo\nalias: fast\n",
        },
        message="Broken files",
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(fake_gitlab.push_event(before, bad.id))

    assert response.status_code == 202
    assert Route.objects.get(tenant=synced_tenant, alias="cheap").retries == 2  # the valid change is not applied
    run = SyncRun.objects.get(direction=SyncRun.Direction.IN)
    assert run.status == SyncRun.Status.FAILED
    assert "routes/broken.yaml" in run.error
    assert "routes/fast.yaml" in run.error
    assert "kind" in run.error


def test_another_branch_or_event_is_ignored(fake_gitlab, synced_tenant, pushed, django_capture_on_commit_callbacks):
    payload = fake_gitlab.push_event(*pushed)
    other_branch = {**payload, "ref": "refs/heads/feature"}
    tag = {**payload, "object_kind": "tag_push", "event_name": "tag_push"}

    with django_capture_on_commit_callbacks(execute=True):
        answers = [_post(other_branch), _post(tag)]

    assert [a.json() for a in answers] == [{"status": "ignored"}] * 2
    assert not SyncRun.objects.filter(direction=SyncRun.Direction.IN).exists()


def test_review_mode_keeps_the_plan_for_an_admin(
    fake_gitlab, synced_tenant, pushed, members, django_capture_on_commit_callbacks
):
    GitLabConnection.objects.filter(tenant=synced_tenant).update(review_mode=True)

    with django_capture_on_commit_callbacks(execute=True):
        _post(fake_gitlab.push_event(*pushed))

    run = SyncRun.objects.get(direction=SyncRun.Direction.IN)
    assert run.status == SyncRun.Status.AWAITING_REVIEW
    assert "routes/cheap.yaml" in run.plan
    assert "+  retries: 5" in run.plan or "+retries: 5" in run.plan
    assert Route.objects.get(tenant=synced_tenant, alias="cheap").retries == 2

    applied = sync_review_apply(run=run, actor_user=members["admin"].user)

    assert applied.status == SyncRun.Status.SUCCEEDED
    assert Route.objects.get(tenant=synced_tenant, alias="cheap").retries == 5


def test_files_naming_another_tenant_are_refused(
    fake_gitlab, synced_tenant, other_tenant, pushed, django_capture_on_commit_callbacks
):
    before, _ = pushed
    tenant_file = fake_gitlab.files()["definitions/tenant.yaml"]
    hijack = fake_gitlab.seed({"definitions/tenant.yaml": tenant_file.replace("slug: rich", "slug: globex")})

    with django_capture_on_commit_callbacks(execute=True):
        _post(fake_gitlab.push_event(before, hijack.id))

    run = SyncRun.objects.get(direction=SyncRun.Direction.IN)
    assert run.status == SyncRun.Status.FAILED
    assert "the files define tenant 'globex', not 'rich'" in run.error
    assert Route.objects.filter(tenant=other_tenant).count() == 0
    other_tenant.refresh_from_db()
    assert other_tenant.name == "Globex"
