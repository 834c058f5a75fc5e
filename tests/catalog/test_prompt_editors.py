"""Prompt editors of a service: its managers grant the change-prompt right to a member of its tenant and revoke it,
on the manage page (revoke asks first) and through the API, each change audited; nobody else may. The catalog page
of a prompt API links its prompt, with the live version and A/B split, for the members of its tenant only."""

from __future__ import annotations

import pytest
from guardian.shortcuts import get_user_perms

from apps.catalog.services import service_create, service_prompt_editor_grant, service_set_lifecycle
from apps.core.errors import ApplicationError, NotPermitted
from apps.core.models import AuditEvent
from apps.prompts.services import prompt_ab_set, prompt_service_create, prompt_version_create
from apps.tenants.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import API
from tests.prompts.inputs import VERSION_1, version_input

pytestmark = pytest.mark.django_db

MANAGE = "/catalog/summarize/manage/"
EDITORS_API = f"{API}/tenants/acme/services/summarize/prompt-editors/"


@pytest.fixture
def summarize(tenant, members, route):
    """A published, public prompt API of acme (other tenants see its catalog page), v2 a draft."""
    service = prompt_service_create(
        tenant=tenant,
        actor_membership=None,
        slug="summarize",
        name="Summarize",
        route=route,
        visibility="public",
        approval_mode="auto",
        **VERSION_1,
    )
    service.plans.create(slug="standard", name="Standard", is_default=True)
    service_set_lifecycle(service=service, lifecycle="published", actor_membership=None)
    prompt_version_create(template=service.prompt, author=None, **version_input(user_template="Gist: {{ text }}"))
    return service


@pytest.fixture
def pia(tenant):
    """A viewer of acme: the product person."""
    return MembershipFactory(tenant=tenant, role=Role.VIEWER, user=UserFactory(username="pia")).user


def _holds(user, service) -> bool:
    return "change_prompt" in get_user_perms(user, service)


def test_the_manage_page_lists_holders_and_offers_the_members_who_are_not(summarize, owner, pia, client_for):
    service_prompt_editor_grant(service=summarize, username="developer-user", actor_membership=None)
    page = client_for(owner).get(MANAGE).content.decode()
    panel = page[page.index('id="prompt-editors"') :]
    assert "developer-user" in panel[: panel.index('<form method="post" action="/catalog/summarize/prompt-editors/"')]
    assert 'data-confirm="Take the prompt right on Summarize away from developer-user?"' in panel
    options = panel[panel.index("<select") : panel.index("</select>")]
    assert 'value="pia"' in options
    assert 'value="developer-user"' not in options
    assert 'value="admin-user"' not in options  # owners and admins edit and publish every prompt already


def test_an_owner_grants_and_revokes_on_the_manage_page_audited(summarize, owner, pia, client_for):
    client = client_for(owner)
    response = client.post("/catalog/summarize/prompt-editors/", {"username": "pia"})
    assert (response.status_code, response["Location"]) == (302, f"{MANAGE}#prompt-editors")
    assert _holds(pia, summarize)
    granted = AuditEvent.objects.filter(action="service.prompt_editor_grant").get()
    assert (granted.changes, granted.actor) == ({"prompt_editor": [None, "pia"]}, owner)
    # pia now edits and publishes the prompt
    assert client_for(pia).get("/prompts/summarize/edit/").status_code == 200
    client = client_for(owner)
    response = client.post("/catalog/summarize/prompt-editors/revoke/", {"username": "pia"})
    assert response.status_code == 302
    assert not _holds(pia, summarize)
    revoked = AuditEvent.objects.filter(action="service.prompt_editor_revoke").get()
    assert revoked.changes == {"prompt_editor": ["pia", None]}
    assert client_for(pia).get("/prompts/summarize/edit/").status_code == 403


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.VIEWER])
def test_members_below_admin_may_not_grant_or_revoke(summarize, members, pia, client_for, role):
    service_prompt_editor_grant(service=summarize, username="pia", actor_membership=None)
    audited = AuditEvent.objects.count()
    client = client_for(members[role].user)
    assert client.post("/catalog/summarize/prompt-editors/", {"username": "viewer-user"}).status_code == 403
    assert client.post("/catalog/summarize/prompt-editors/revoke/", {"username": "pia"}).status_code == 403
    assert _holds(pia, summarize)
    assert not _holds(members[Role.VIEWER].user, summarize)
    assert AuditEvent.objects.count() == audited


def test_another_tenant_gets_404(summarize, mallory, client_for):
    client = client_for(mallory)
    assert client.post("/catalog/summarize/prompt-editors/", {"username": "mallory"}).status_code == 404
    assert not _holds(mallory, summarize)


def test_only_members_of_the_tenant_can_be_granted(summarize, owner, mallory, client_for):
    response = client_for(owner).post("/catalog/summarize/prompt-editors/", {"username": "mallory"})
    assert response.status_code == 400
    assert not _holds(mallory, summarize)
    assert not AuditEvent.objects.filter(action="service.prompt_editor_grant").exists()


def test_revoking_someone_who_holds_nothing_is_shown_in_the_panel(summarize, owner, client_for):
    response = client_for(owner).post("/catalog/summarize/prompt-editors/revoke/", {"username": "viewer-user"})
    assert response.status_code == 400
    assert "&#x27;viewer-user&#x27; holds no prompt right on Summarize." in response.content.decode()


def test_the_services_refuse_non_managers_model_apis_and_a_second_grant(summarize, tenant, members, route, pia):
    with pytest.raises(NotPermitted):
        service_prompt_editor_grant(service=summarize, username="pia", actor_membership=members[Role.DEVELOPER])
    service_prompt_editor_grant(service=summarize, username="pia", actor_membership=members[Role.ADMIN])
    with pytest.raises(ApplicationError, match="may already change the prompt"):
        service_prompt_editor_grant(service=summarize, username="pia", actor_membership=members[Role.ADMIN])
    model_api = service_create(
        tenant=tenant,
        actor_membership=None,
        slug="chat",
        name="Chat",
        kind="model",
        route=route,
        visibility="private",
        approval_mode="auto",
    )
    with pytest.raises(ApplicationError, match="it has no prompt"):
        service_prompt_editor_grant(service=model_api, username="pia", actor_membership=None)


def test_the_api_grants_lists_and_revokes(summarize, owner, pia, api_client_for):
    api = api_client_for(owner)
    created = api.post(EDITORS_API, {"username": "pia"}, format="json")
    assert (created.status_code, created.json()) == (
        201,
        {"username": "pia", "name": pia.get_full_name(), "role": "viewer"},
    )
    assert [e["username"] for e in api.get(EDITORS_API).json()] == ["pia"]
    assert api.delete(f"{EDITORS_API}pia/").status_code == 204
    assert api.get(EDITORS_API).json() == []
    assert sorted(
        AuditEvent.objects.filter(action__startswith="service.prompt_editor").values_list("action", flat=True)
    ) == [
        "service.prompt_editor_grant",
        "service.prompt_editor_revoke",
    ]


def test_the_api_refuses_developers_and_hides_from_other_tenants(summarize, members, mallory, api_client_for):
    response = api_client_for(members[Role.DEVELOPER].user).post(
        EDITORS_API, {"username": "viewer-user"}, format="json"
    )
    assert response.status_code == 403
    assert api_client_for(mallory).get(EDITORS_API).status_code == 404
    assert not _holds(members[Role.VIEWER].user, summarize)


def test_the_catalog_page_links_the_prompt_for_members_of_its_tenant_only(summarize, members, mallory, client_for):
    page = client_for(members[Role.VIEWER].user).get("/catalog/summarize/").content.decode()
    assert 'hx-get="/prompts/summarize/panel/"' in page
    assert '<a href="/prompts/summarize/">Prompt →</a>' in page
    outsider = client_for(mallory).get("/catalog/summarize/")
    assert outsider.status_code == 200  # public and published: Globex reads its documentation
    assert "/prompts/summarize/" not in outsider.content.decode()


def test_the_panel_shows_the_live_version_and_the_split(summarize, members, client_for):
    prompt_ab_set(
        template=summarize.prompt,
        split=[{"version": 1, "weight": 3}, {"version": 2, "weight": 1}],
        sticky_by="app",
        actor_membership=None,
    )
    panel = client_for(members[Role.VIEWER].user).get("/prompts/summarize/panel/").content.decode()
    assert "Live: <strong>v1</strong>" in panel
    assert "A/B split: v1 75%, v2 25%" in panel
    assert '<a href="/prompts/summarize/">Prompt →</a>' in panel
