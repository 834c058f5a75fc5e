"""GitOps mode: an edit of a service, plan, prompt or route made in the web UI becomes a merge request (a branch,
one commit of exactly the changed files, a readable description) instead of a write, and the page says so; merging
it lets the push event apply it. Outside GitOps mode, or when the edit changes no file, pages save as before."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from rest_framework.test import APIClient

from apps.core.models import AuditEvent, ConfigVersion
from apps.gitops.models import GitLabConnection, SyncRun
from apps.gitops.services import definitions_export
from apps.gitops.services.sync_outbound import sync_out
from apps.prompts.models import PromptTemplate
from apps.providers.models import Route
from apps.tenants.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.gitops.gitlab_fixtures import WEBHOOK_SECRET
from tests.gitops.helpers import counts, gitops

pytestmark = pytest.mark.django_db
CHEAP = "definitions/routes/cheap.yaml"


@pytest.fixture
def gitops_mode(fake_gitlab, synced_tenant):
    """The rich tenant synced to the fake's main, its connection in GitOps mode."""
    sync_out(tenant=synced_tenant, trigger=SyncRun.Trigger.MANUAL)
    GitLabConnection.objects.filter(tenant=synced_tenant).update(gitops_mode=True)
    return synced_tenant


@pytest.fixture
def admin(gitops_mode, client):
    user = UserFactory(username="ada", first_name="Ada", last_name="Lovelace")
    client.force_login(MembershipFactory(tenant=gitops_mode, role=Role.ADMIN, user=user).user)
    return client


def _route_form(route: Route, **changes: str) -> dict[str, str]:
    form = {
        "description": route.description,
        "deadline_seconds": str(route.deadline_seconds),
        "retries": str(route.retries),
        "cache_ttl_seconds": str(route.cache_ttl_seconds or ""),
        "enabled": "on" if route.enabled else "",
    }
    return {**form, **changes}


def _state():
    config = ConfigVersion.objects.filter(name="gateway").values_list("version", flat=True).first()
    return counts(), AuditEvent.objects.count(), config


def _notices(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_a_route_edit_becomes_one_merge_request_and_merging_it_applies_it(
    fake_gitlab, gitops_mode, admin, django_capture_on_commit_callbacks
):
    route = Route.objects.get(tenant=gitops_mode, alias="cheap")
    before, main, exported = _state(), fake_gitlab.branches["main"], definitions_export(tenant=gitops_mode)

    response = admin.post("/routes/cheap/", _route_form(route, retries="5"))

    assert response.status_code == 302
    assert response["Location"] == "/routes/cheap/"
    assert _notices(response) == [
        f'Your change is proposed in merge request <a href="{fake_gitlab.web_url}/-/merge_requests/1">!1</a>: '
        "it applies once merged."
    ]
    # Nothing written: not the route, not its audit entry, not the data plane's version.
    assert Route.objects.get(pk=route.pk).retries == 2
    assert _state() == before
    assert definitions_export(tenant=gitops_mode) == exported
    # One merge request, from a new branch holding one commit of exactly the changed file.
    (mr,) = fake_gitlab.merge_requests
    assert (mr["target_branch"], mr["state"]) == ("main", "opened")
    assert mr["source_branch"].startswith(f"portal-edit/{gitops_mode.slug}-")
    assert fake_gitlab.branches["main"] == main
    (commit, parent) = fake_gitlab.commits_on(mr["source_branch"])[:2]
    assert parent.id == main
    assert "Portal-Sync" not in commit.message  # merged, it is applied like a person's commit
    proposed, on_main = fake_gitlab.files(mr["source_branch"]), fake_gitlab.files("main")
    assert [path for path in proposed.keys() | on_main.keys() if proposed.get(path) != on_main.get(path)] == [CHEAP]
    assert "retries: 5" in proposed[CHEAP]
    assert mr["title"] == "Portal edit by Ada Lovelace: route cheap changed"
    assert "Proposed by **Ada Lovelace** on the portal's page `/routes/cheap/`" in mr["description"]
    assert "-retries: 2\n+retries: 5" in mr["description"]

    # Merged (the branch's commit reaches main), GitLab sends the push event: the portal applies it.
    old = fake_gitlab.branches["main"]
    fake_gitlab.seed({CHEAP: proposed[CHEAP]}, message=f"Merge branch '{mr['source_branch']}' into 'main'")
    with django_capture_on_commit_callbacks(execute=True):
        hook = APIClient().post(
            "/api/v1/gitops/gitlab/webhook",
            fake_gitlab.push_event(old, fake_gitlab.branches["main"]),
            format="json",
            HTTP_X_GITLAB_TOKEN=WEBHOOK_SECRET,
            HTTP_X_GITLAB_EVENT="Push Hook",
        )
    assert hook.status_code == 202, hook.content
    assert Route.objects.get(pk=route.pk).retries == 5
    assert sync_out(tenant=gitops_mode, trigger=SyncRun.Trigger.MANUAL).status == SyncRun.Status.UNCHANGED


def test_a_prompt_publish_proposes_the_prompt_file_only(fake_gitlab, gitops_mode, admin):
    template = PromptTemplate.objects.get(service__slug="rich-summary")
    live = template.live_version.number

    response = admin.post("/prompts/rich-summary/versions/1/publish/")

    assert response.status_code == 302
    assert "Your change is proposed in merge request" in _notices(response)[0]
    assert PromptTemplate.objects.get(pk=template.pk).live_version.number == live
    (mr,) = fake_gitlab.merge_requests
    proposed, on_main = fake_gitlab.files(mr["source_branch"]), fake_gitlab.files("main")
    changed = sorted(path for path in proposed.keys() | on_main.keys() if proposed.get(path) != on_main.get(path))
    assert changed == ["definitions/prompts/rich-summary/prompt.yaml"]


def test_a_refused_edit_shows_its_error_and_opens_nothing(fake_gitlab, gitops_mode, admin):
    route = Route.objects.get(tenant=gitops_mode, alias="cheap")

    response = admin.post("/routes/cheap/", _route_form(route, retries="9"))

    assert response.status_code == 400
    assert response.context["form"].errors["retries"]
    assert fake_gitlab.merge_requests == []


def test_when_gitlab_refuses_the_change_is_not_saved_and_the_page_says_why(fake_gitlab, gitops_mode, admin):
    route = Route.objects.get(tenant=gitops_mode, alias="cheap")
    before = _state()
    fake_gitlab.script("status:403")

    response = admin.post("/routes/cheap/", _route_form(route, retries="5"))

    assert response.status_code == 302
    (notice,) = _notices(response)
    assert notice.startswith("Your change is not saved: GitLab refused the merge request:")
    assert Route.objects.get(pk=route.pk).retries == 2
    assert _state() == before


def test_without_gitops_mode_the_page_saves_directly(fake_gitlab, gitops_mode, admin):
    GitLabConnection.objects.filter(tenant=gitops_mode).update(gitops_mode=False)
    route = Route.objects.get(tenant=gitops_mode, alias="cheap")

    response = admin.post("/routes/cheap/", _route_form(route, retries="5"))

    assert _notices(response) == ["Route cheap saved."]
    assert Route.objects.get(pk=route.pk).retries == 5
    assert fake_gitlab.merge_requests == []


def test_gitops_mode_is_set_on_the_gitlab_page_and_by_the_command(fake_gitlab, gitops_mode, admin, monkeypatch):
    GitLabConnection.objects.filter(tenant=gitops_mode).update(gitops_mode=False)
    form = {
        "gitlab_url": fake_gitlab.url,
        "project": fake_gitlab.project_path,
        "branch": "main",
        "directory": "definitions",
        "gitops_mode": "on",
        "enabled": "on",
    }
    assert admin.post("/tenant/gitlab/", form).status_code == 302
    assert GitLabConnection.objects.get(tenant=gitops_mode).gitops_mode is True
    assert (
        "GitOps mode</strong>: edits in the portal open merge requests" in admin.get("/tenant/gitlab/").content.decode()
    )

    monkeypatch.setenv("GL_TOKEN", fake_gitlab.token)
    args = ["connect", "--tenant", gitops_mode.slug, "--gitlab-url", fake_gitlab.url]
    args += ["--project", fake_gitlab.project_path, "--token-env", "GL_TOKEN"]
    assert gitops(*args)[0] == 0
    assert GitLabConnection.objects.get(tenant=gitops_mode).gitops_mode is False
    code, out, _ = gitops(*args, "--gitops-mode")
    assert code == 0
    assert "GitOps mode: edits in the web UI open merge requests instead of saving." in out
    assert GitLabConnection.objects.get(tenant=gitops_mode).gitops_mode is True


def test_an_htmx_deployment_change_reloads_the_page_instead_of_showing_the_unsaved_section(
    fake_gitlab, gitops_mode, admin
):
    deployment = Route.objects.get(tenant=gitops_mode, alias="cheap").deployments.get()
    form = {"weight": "7", "priority": "0", "timeout_seconds": "60", "enabled": "on"}
    page = "http://testserver/routes/cheap/"

    response = admin.post(
        f"/routes/cheap/deployments/{deployment.pk}/", form, headers={"HX-Request": "true", "HX-Current-URL": page}
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == page
    assert response.content == b""  # not the section as the rolled-back change left it
    assert type(deployment).objects.get(pk=deployment.pk).weight == deployment.weight
    (mr,) = fake_gitlab.merge_requests
    assert "weight: 7" in fake_gitlab.files(mr["source_branch"])[CHEAP]
