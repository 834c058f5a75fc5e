"""The GitLab page of a tenant (admins): connect with a write-only token, sync now, the history with commit links,
durations and errors, and applying an inbound commit that waits for review."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.gitops.models import GitLabConnection, SyncRun
from apps.gitops.services.sync_outbound import sync_out
from apps.providers.models import Route
from apps.tenants.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.gitops.gitlab_fixtures import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db
PAGE = "/tenant/gitlab/"


@pytest.fixture
def rich_admin(synced_tenant, client):
    client.force_login(MembershipFactory(tenant=synced_tenant, role=Role.ADMIN, user=UserFactory()).user)
    return client


def _form(fake, **extra):
    return {
        "gitlab_url": fake.url,
        "project": fake.project_path,
        "branch": "main",
        "directory": "definitions",
        "token": fake.token,
        "webhook_secret": "a-new-secret",
        "enabled": "on",
        **extra,
    }


def test_an_admin_connects_and_the_token_is_never_shown_again(fake_gitlab, tenant, members, client):
    client.force_login(members[Role.ADMIN].user)

    response = client.post(PAGE, _form(fake_gitlab))

    assert response.status_code == 302
    connection = GitLabConnection.objects.get(tenant=tenant)
    assert connection.token() == fake_gitlab.token
    page = client.get(PAGE)
    html = page.content.decode()
    assert page.status_code == 200
    assert fake_gitlab.token not in html
    assert "a-new-secret" not in html
    assert 'value="http://testserver/api/v1/gitops/gitlab/webhook"' in html
    assert "acme/definitions" in html

    # Saving again with the token field empty keeps the stored token.
    assert client.post(PAGE, _form(fake_gitlab, token="", branch="main")).status_code == 302
    assert GitLabConnection.objects.get(tenant=tenant).token() == fake_gitlab.token


def test_a_token_gitlab_refuses_is_an_error_at_its_field(fake_gitlab, tenant, members, client):
    client.force_login(members[Role.ADMIN].user)

    response = client.post(PAGE, _form(fake_gitlab, token="wrong"))

    assert response.status_code == 400
    assert "GitLab refused the access token (401 Unauthorized)" in response.context["form"].errors["token"][0]
    assert "wrong" not in response.content.decode().replace("wrong, expired", "")
    assert not GitLabConnection.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("gitlab_url", "not a url"), ("project", ""), ("branch", "")])
def test_bad_input_names_its_field(fake_gitlab, tenant, members, client, field, value):
    client.force_login(members[Role.ADMIN].user)

    response = client.post(PAGE, _form(fake_gitlab, **{field: value}))

    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not GitLabConnection.objects.exists()


def test_developers_may_not_see_the_page(tenant, members, client):
    client.force_login(members[Role.DEVELOPER].user)

    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}sync/").status_code == 403


def test_sync_now_commits_and_the_history_links_the_commit(fake_gitlab, synced_tenant, rich_admin):
    response = rich_admin.post(f"{PAGE}sync/")

    assert response.status_code == 302
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.SUCCEEDED
    html = rich_admin.get(PAGE).content.decode()
    assert f'href="{fake_gitlab.web_url}/-/commit/{run.commit_sha}"' in html
    assert "Portal → GitLab" in html
    assert " s</td>" in html  # the duration


def test_a_failed_sync_shows_its_error(fake_gitlab, synced_tenant, rich_admin):
    fake_gitlab.script("status:403")

    rich_admin.post(f"{PAGE}sync/")

    html = rich_admin.get(PAGE).content.decode()
    assert "may not do this in acme/definitions (403 Forbidden)" in html
    assert "Failed" in html


def test_an_admin_applies_a_commit_waiting_for_review(
    fake_gitlab, synced_tenant, rich_admin, other_tenant, django_capture_on_commit_callbacks
):
    GitLabConnection.objects.filter(tenant=synced_tenant).update(review_mode=True)
    sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)
    # In review mode the portal's own sync waits in a merge request: merge it as GitLab would, then push a change.
    source = fake_gitlab.merge_requests[0]["source_branch"]
    fake_gitlab.branches["main"] = fake_gitlab.branches[source]
    cheap = fake_gitlab.files()["definitions/routes/cheap.yaml"]
    before = fake_gitlab.branches["main"]
    after = fake_gitlab.seed({"definitions/routes/cheap.yaml": cheap.replace("retries: 2", "retries: 3")}).id
    with django_capture_on_commit_callbacks(execute=True):
        APIClient().post(
            "/api/v1/gitops/gitlab/webhook",
            fake_gitlab.push_event(before, after),
            format="json",
            HTTP_X_GITLAB_TOKEN=WEBHOOK_SECRET,
        )
    run = SyncRun.objects.get(direction=SyncRun.Direction.IN)
    html = rich_admin.get(PAGE).content.decode()
    assert "Awaiting review" in html
    assert "retries: 3" in html  # the plan

    other = SyncRun.objects.create(
        tenant=other_tenant,
        direction="in",
        trigger="webhook",
        started_at=run.started_at,
        status=SyncRun.Status.AWAITING_REVIEW,
        commit_sha=after,
    )
    assert rich_admin.post(f"{PAGE}runs/{other.pk}/apply/").status_code == 404

    response = rich_admin.post(f"{PAGE}runs/{run.pk}/apply/")

    assert response.status_code == 302
    assert Route.objects.get(tenant=synced_tenant, alias="cheap").retries == 3
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.SUCCEEDED


def test_the_comparison_lists_what_differs_between_the_portal_and_the_branch(fake_gitlab, synced_tenant, rich_admin):
    sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)
    cheap = "definitions/routes/cheap.yaml"
    fake_gitlab.seed(
        {cheap: fake_gitlab.files()[cheap] + "# edited in GitLab\n", "definitions/routes/x.yaml": "a: 1\n"}
    )
    Route.objects.filter(tenant=synced_tenant, alias="cheap").update(description="edited here")
    head, commits = fake_gitlab.branches["main"], len(fake_gitlab.commits)

    html = rich_admin.get(f"{PAGE}drift/").content.decode()

    assert "The portal and <code>main</code> differ" in html
    assert "2 files differ." in html
    assert "<code>definitions/routes/cheap.yaml</code>: different" in html
    assert "<code>definitions/routes/x.yaml</code>: only in GitLab" in html
    assert (fake_gitlab.branches["main"], len(fake_gitlab.commits)) == (head, commits)  # nothing written

    rich_admin.post(f"{PAGE}sync/")

    assert "hold the same definitions" in rich_admin.get(f"{PAGE}drift/").content.decode()


def test_a_comparison_gitlab_refuses_says_why(fake_gitlab, synced_tenant, rich_admin):
    fake_gitlab.script("status:401")

    html = rich_admin.get(f"{PAGE}drift/").content.decode()

    assert "The comparison failed: GitLab refused the access token (401 Unauthorized)" in html
