"""The change-prompt right (catalog.change_prompt on one service, apps/prompts/permissions.py): a viewer who holds it
on a service does there what developers and admins do on every prompt — save drafts, run test cases, publish, roll
back — in the web UI and through the API with a personal token; on any other service it gives nothing. The matrix
also pins the roles' own rights and another tenant's 404, and that a refusal changes nothing."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from apps.access.services import personal_token_issue
from apps.catalog.models import Service
from apps.catalog.services import service_prompt_editor_grant
from apps.core.models import AuditEvent
from apps.prompts.models import PromptTemplate, PromptTestRun
from apps.prompts.permissions import may_edit_prompt, may_publish_prompt
from apps.prompts.services import (
    prompt_service_create,
    prompt_test_case_create,
    prompt_version_create,
    prompt_version_publish,
)
from apps.tenants.models import Membership, Role
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import API
from tests.prompts.inputs import VERSION_1, version_input

pytestmark = pytest.mark.django_db

PROMPT = f"{API}/tenants/acme/services/summarize/prompt"
EDIT_FIELDS = {
    "system_template": "You summarize text.",
    "user_template": "Summarize: {{ text }}",
    "variables_schema": '{"type": "object", "properties": {"text": {"type": "string"}}}',
    "examples": "[]",
    "parameters": "{}",
    "sample_variables": '{"text": "hello"}',
}
# action: (web (path, data), API (method, path, body), needs publishing rather than editing)
ACTIONS = {
    "save-draft": (("/prompts/summarize/edit/", EDIT_FIELDS), ("post", f"{PROMPT}/versions/", version_input()), False),
    "run-test-cases": (
        ("/prompts/summarize/test-runs/", {"version": 3}),
        ("post", f"{PROMPT}/versions/3/test-runs/", None),
        False,
    ),
    "publish": (("/prompts/summarize/versions/3/publish/", {}), ("post", f"{PROMPT}/versions/3/publish/", None), True),
    "rollback": (
        ("/prompts/summarize/rollback/", {"version": 1}),
        ("post", f"{PROMPT}/rollback/", {"version": 1}),
        True,
    ),
}
# actor: what each may do ("edit" covers drafts and test runs, "publish" covers publish and rollback)
ACTORS = {
    "viewer": set(),
    "viewer-with-right-here": {"edit", "publish"},
    "viewer-with-right-elsewhere": set(),
    "developer": {"edit"},
    "admin": {"edit", "publish"},
    "other-tenant": None,  # not a member: 404
}


@pytest.fixture
def summarize(tenant, members, route):
    """Prompt API `summarize`: v1, v2 live, v3 a draft, one test case; and a second prompt API, `translate`."""
    service = prompt_service_create(
        tenant=tenant,
        actor_membership=None,
        slug="summarize",
        name="Summarize",
        route=route,
        visibility="private",
        approval_mode="manual",
        **VERSION_1,
    )
    template = service.prompt
    prompt_version_create(template=template, author=None, **version_input(user_template="Short: {{ text }}"))
    prompt_version_publish(template=template, version_number=2, actor_membership=None)
    prompt_version_create(template=template, author=None, **version_input(user_template="Gist: {{ text }}"))
    prompt_test_case_create(
        template=template, actor_membership=None, name="cat", variables={"text": "a cat"}, checks=[]
    )
    prompt_service_create(
        tenant=tenant,
        actor_membership=None,
        slug="translate",
        name="Translate",
        route=route,
        visibility="private",
        approval_mode="manual",
        **VERSION_1,
    )
    return service


@pytest.fixture
def actor(request, tenant, members, mallory, summarize) -> object:
    """The user playing the actor named by the test's parameter."""
    name = request.param
    if name == "other-tenant":
        return mallory
    if name in ("developer", "admin", "viewer"):
        return members[name].user
    viewer = MembershipFactory(tenant=tenant, role=Role.VIEWER, user=UserFactory(username=name))
    slug = "summarize" if name == "viewer-with-right-here" else "translate"
    service_prompt_editor_grant(service=Service.objects.get(slug=slug), username=name, actor_membership=None)
    return viewer.user


def _state() -> tuple:
    template = PromptTemplate.objects.get(service__slug="summarize")
    return (
        template.live_version.number,
        template.ab_split,
        template.versions.count(),
        PromptTestRun.objects.count(),
        AuditEvent.objects.count(),
    )


def _expected(actor_name: str, action: str) -> str:
    allowed = ACTORS[actor_name]
    if allowed is None:
        return "404"
    return "ok" if ("publish" if ACTIONS[action][2] else "edit") in allowed else "403"


def _pat_client(user) -> APIClient:
    _, secret = personal_token_issue(user=user, name="cli")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", ACTORS, indirect=True)
def test_web_matrix(request, actor, action, client_for):
    actor_name = request.node.callspec.params["actor"]
    path, data = ACTIONS[action][0]
    before = _state()
    response = client_for(actor).post(path, data)
    expected = _expected(actor_name, action)
    if expected == "ok":
        assert response.status_code == 302, response.content.decode()[:2000]
        assert _state() != before
        return
    assert response.status_code == int(expected)
    assert _state() == before
    if expected == "403":
        page = response.content.decode()
        role = "admin" if ACTIONS[action][2] else "developer"
        assert f"This page needs the {role} role in Acme or the right to change the prompt of Summarize" in page


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", ACTORS, indirect=True)
def test_api_matrix_with_a_personal_token(request, actor, action):
    actor_name = request.node.callspec.params["actor"]
    method, path, body = ACTIONS[action][1]
    client = _pat_client(actor)
    before = _state()
    response = getattr(client, method)(path, body, format="json")
    expected = _expected(actor_name, action)
    if expected == "ok":
        assert response.status_code in (200, 201, 202), response.content
        assert _state() != before
        return
    assert response.status_code == int(expected), response.content
    assert _state() == before
    if expected == "403":
        assert "the right to change the prompt of Summarize" in response.json()["message"]


def test_a_refusal_comes_before_the_body_is_read(summarize, members, api_client_for):
    """A viewer's bad body is a 403, not a 400: what they may not do is not validated for them."""
    response = api_client_for(members[Role.VIEWER].user).post(f"{PROMPT}/rollback/", {"version": "x"}, format="json")
    assert response.status_code == 403


def test_the_right_counts_only_in_its_service_s_tenant(summarize, mallory, other_tenant):
    """Held by someone outside the tenant (granted directly, as the admin could), it allows nothing."""
    assign_perm("catalog.change_prompt", mallory, summarize)
    membership = Membership.objects.get(user=mallory, tenant=other_tenant)
    assert not may_edit_prompt(membership=membership, service=summarize)
    assert not may_publish_prompt(membership=membership, service=summarize)


def test_the_right_gives_nothing_else(tenant, summarize, client_for, api_client_for):
    """A viewer holding it may not manage the service, its plans or its prompt editors, nor create services."""
    viewer = MembershipFactory(tenant=tenant, role=Role.VIEWER, user=UserFactory(username="pia")).user
    service_prompt_editor_grant(service=summarize, username="pia", actor_membership=None)
    client = client_for(viewer)
    assert client.get("/catalog/summarize/manage/").status_code == 403
    assert client.post("/catalog/summarize/prompt-editors/", {"username": "pia"}).status_code == 403
    assert client.get("/prompts/translate/edit/").status_code == 403
    api = api_client_for(viewer)
    assert api.post(f"{API}/tenants/acme/services/summarize/plans/", {"slug": "x", "name": "X"}).status_code == 403
    body = {"slug": "other", "name": "Other", "route": "smart", **VERSION_1}
    assert api.post(f"{API}/tenants/acme/prompt-services/", body, format="json").status_code == 403


@pytest.mark.parametrize(
    ("who", "edit", "publish"),
    [("viewer", False, False), ("pia", True, True), ("developer", True, False), ("admin", True, True)],
)
def test_the_prompt_pages_show_the_buttons_the_rule_allows(tenant, members, summarize, client_for, who, edit, publish):
    if who == "pia":
        user = MembershipFactory(tenant=tenant, role=Role.VIEWER, user=UserFactory(username="pia")).user
        service_prompt_editor_grant(service=summarize, username="pia", actor_membership=None)
    else:
        user = members[who].user
    client = client_for(user)
    page = client.get("/prompts/summarize/").content.decode()
    assert ("Edit prompt" in page, "Playground</a>" in page) == (edit, edit)
    assert ("Publish v3" in page, "Roll back to v1" in page, 'id="ab"' in page) == (publish, publish, publish)
    cases = client.get("/prompts/summarize/test-cases/").content.decode()
    assert ('id="run-cases"' in cases) == edit
    panel = client.get("/prompts/summarize/panel/").content.decode()
    assert ("Edit prompt" in panel) == edit
