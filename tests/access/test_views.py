from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.access.models import ApiKey, App, PersonalAccessToken
from apps.access.selectors import api_key_authenticate, personal_token_authenticate
from apps.access.services import personal_token_issue
from apps.core.models import AuditEvent
from apps.core.tokens import token_matches
from apps.tenants.models import Role
from apps.tenants.web import SESSION_KEY
from tests.factories import AppFactory
from tests.helpers import tenant_state

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
API_KEY = re.compile(r"gwk_[a-z0-9]{12}_[A-Za-z0-9_-]{43,}")
PERSONAL_TOKEN = re.compile(r"gwp_[a-z0-9]{12}_[A-Za-z0-9_-]{43,}")


def _key_form(**overrides) -> dict:
    return {"name": "production", "scopes": ["gateway", "catalog"], **overrides}


def test_dashboard_counts_apps_active_keys_and_members(client_for, owner, app, issued_key):
    AppFactory(tenant=app.tenant, slug="second-app")
    ApiKey.objects.create(
        tenant=app.tenant,
        app=app,
        name="old",
        lookup_id="x" * 12,
        pepper_id="1",
        digest="0" * 64,
        revoked_at=timezone.now(),
    )
    response = client_for(owner).get("/")
    assert response.status_code == 200
    assert (response.context["app_count"], response.context["active_key_count"]) == (2, 1)
    assert response.context["member_count"] == 4


def test_dashboard_without_apps_invites_to_create_one(client_for, members):
    html = client_for(members[Role.DEVELOPER].user).get("/").content.decode()
    assert "Create your first app" in html


def test_app_list_shows_the_tenants_apps_and_keys_only(client_for, owner, app, issued_key, other_app):
    key, _ = issued_key
    html = client_for(owner).get("/apps/").content.decode()
    assert app.name in html
    assert key.prefix in html
    assert other_app.name not in html


def test_creating_an_app_opens_its_page(client_for, members, tenant):
    client = client_for(members[Role.DEVELOPER].user)
    response = client.post("/apps/", {"slug": "chat-bot", "name": "Chat bot", "description": "Answers questions"})
    assert response.status_code == 302
    assert response["Location"] == "/apps/chat-bot/"
    assert App.objects.get(tenant=tenant, slug="chat-bot").created_by == members[Role.DEVELOPER].user
    assert "Chat bot" in client.get("/apps/chat-bot/").content.decode()


def test_a_duplicate_app_slug_is_a_conflict_on_the_slug_field(client_for, owner, app):
    response = client_for(owner).post("/apps/", {"slug": app.slug, "name": "Again"})
    assert response.status_code == 409
    assert "already exists" in response.context["form"].errors["slug"][0]


def test_a_malformed_app_slug_is_a_400_naming_the_field(client_for, owner, tenant):
    response = client_for(owner).post("/apps/", {"slug": "Not A Slug", "name": "x"})
    assert response.status_code == 400
    assert "lowercase letters" in response.context["form"].errors["slug"][0]
    assert not App.objects.filter(tenant=tenant).exists()


def test_issuing_a_key_shows_its_secret_once(client_for, owner, app):
    client = client_for(owner)
    response = client.post(f"/apps/{app.slug}/keys/", _key_form(), headers=HTMX)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "will not be shown again" in html
    secret = API_KEY.search(html).group()
    key = ApiKey.objects.get(app=app)
    assert token_matches(secret, pepper_id=key.pepper_id, digest=key.digest)
    assert api_key_authenticate(plaintext=secret) == key
    assert key.scopes == ["catalog", "gateway"]
    assert secret not in client.get(f"/apps/{app.slug}/").content.decode()
    assert secret not in str(dict(client.session))


def test_issuing_a_key_without_htmx_renders_the_whole_page_with_the_secret(client_for, owner, app):
    response = client_for(owner).post(f"/apps/{app.slug}/keys/", _key_form(expires_on="2999-12-31"))
    assert response.status_code == 200
    assert f"<title>App {app.name} · AI Gateway</title>" in response.content.decode()
    assert API_KEY.search(response.content.decode())
    assert ApiKey.objects.get(app=app).expires_at.date().isoformat() == "3000-01-01"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (_key_form(name=""), "name", "This field is required."),
        (_key_form(scopes=[]), "scopes", "Pick at least one scope."),
        (_key_form(scopes=["root"]), "scopes", "Select a valid choice."),
        (_key_form(expires_on="2020-01-01"), "expires_on", "cannot be in the past"),
        (_key_form(expires_on="2024-02-30"), "expires_on", "Enter a valid date."),
    ],
)
def test_invalid_key_input_is_a_400_with_the_field_error(client_for, owner, app, data, field, message):
    response = client_for(owner).post(f"/apps/{app.slug}/keys/", data, headers=HTMX)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not ApiKey.objects.filter(app=app).exists()
    assert not API_KEY.search(response.content.decode())


def test_revoking_a_key_answers_with_its_revoked_row(client_for, owner, app, issued_key):
    key, plaintext = issued_key
    response = client_for(owner).post(f"/apps/{app.slug}/keys/{key.pk}/revoke/", headers=HTMX)
    assert response.status_code == 200
    assert 'class="badge badge-revoked"' in response.content.decode()
    assert api_key_authenticate(plaintext=plaintext) is None
    assert AuditEvent.objects.filter(action="api_key.revoke", object_id=str(key.pk), actor_label="owner-user").exists()


def test_revoking_a_revoked_key_is_a_409_in_the_row(client_for, owner, app, issued_key):
    key, _ = issued_key
    client = client_for(owner)
    client.post(f"/apps/{app.slug}/keys/{key.pk}/revoke/", headers=HTMX)
    response = client.post(f"/apps/{app.slug}/keys/{key.pk}/revoke/", headers=HTMX)
    assert response.status_code == 409
    assert "already revoked" in response.content.decode()


def test_deleting_an_app_removes_it_and_its_keys(client_for, owner, app, issued_key):
    response = client_for(owner).post(f"/apps/{app.slug}/delete/", headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/apps/"
    assert not App.objects.filter(pk=app.pk).exists()
    assert not ApiKey.objects.filter(pk=issued_key[0].pk).exists()


def test_a_developer_who_does_not_manage_the_app_sees_no_write_buttons_and_gets_403(client_for, members, app):
    client = client_for(members[Role.DEVELOPER].user)
    html = client.get(f"/apps/{app.slug}/").content.decode()
    assert "Issue key" not in html
    assert "Delete app" not in html
    response = client.post(f"/apps/{app.slug}/keys/", _key_form(), headers=HTMX)
    assert response.status_code == 403
    assert not ApiKey.objects.filter(app=app).exists()


def test_viewer_sees_no_write_buttons(client_for, members, app, issued_key):
    client = client_for(members[Role.VIEWER].user)
    detail = client.get(f"/apps/{app.slug}/").content.decode()
    assert issued_key[0].prefix in detail
    for button in ("Issue key", "Revoke", "Delete app"):
        assert button not in detail
    assert "Create app" not in client.get("/apps/").content.decode()


def _write_requests(app, key, members) -> dict[str, tuple[str, dict]]:
    """Every write of the tenant's pages: {name: (url, data)}."""
    return {
        "app-create": ("/apps/", {"slug": "new-app", "name": "New"}),
        "app-delete": (f"/apps/{app.slug}/delete/", {}),
        "key-create": (f"/apps/{app.slug}/keys/", _key_form()),
        "key-revoke": (f"/apps/{app.slug}/keys/{key.pk}/revoke/", {}),
        "member-add": ("/members/", {"username": "mallory", "role": Role.ADMIN}),
        "member-role": (f"/members/{members[Role.DEVELOPER].pk}/role/", {"role": Role.ADMIN}),
        "member-remove": (f"/members/{members[Role.DEVELOPER].pk}/remove/", {}),
    }


WRITES = ["app-create", "app-delete", "key-create", "key-revoke", "member-add", "member-role", "member-remove"]


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_viewer_gets_403_on_every_write_and_nothing_changes(
    client_for, members, app, issued_key, mallory, tenant, write, htmx
):
    url, data = _write_requests(app, issued_key[0], members)[write]
    before = tenant_state(tenant)
    response = client_for(members[Role.VIEWER].user).post(url, data, headers=HTMX if htmx else {})
    assert response.status_code == 403
    assert tenant_state(tenant) == before


@pytest.mark.parametrize("write", [w for w in WRITES if w not in {"app-create", "member-add"}])
@pytest.mark.parametrize("session_points_at_tenant", [False, True], ids=["own-session", "tampered-session"])
def test_another_tenants_member_gets_404_for_every_object_and_nothing_changes(
    client_for, members, app, issued_key, mallory, other_app, tenant, write, session_points_at_tenant
):
    url, data = _write_requests(app, issued_key[0], members)[write]
    client = client_for(mallory)
    if session_points_at_tenant:  # even a session naming tenant A cannot make Mallory work in it
        session = client.session
        session[SESSION_KEY] = tenant.pk
        session.save()
    before = tenant_state(tenant)
    assert client.post(url, data, headers=HTMX).status_code == 404
    assert tenant_state(tenant) == before


def test_another_tenants_member_cannot_even_see_that_an_app_exists(client_for, app, mallory):
    client = client_for(mallory)
    assert client.get(f"/apps/{app.slug}/").status_code == 404
    assert app.name not in client.get("/apps/").content.decode()


def test_personal_token_is_shown_once_and_authenticates(client_for, owner):
    client = client_for(owner)
    response = client.post("/account/tokens/", {"name": "GitLab CI"}, headers=HTMX)
    assert response.status_code == 200
    secret = PERSONAL_TOKEN.search(response.content.decode()).group()
    token = PersonalAccessToken.objects.get(user=owner)
    assert personal_token_authenticate(plaintext=secret) == token
    assert secret not in client.get("/account/tokens/").content.decode()


def test_personal_token_with_a_past_expiry_is_a_field_error(client_for, owner):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = client_for(owner).post("/account/tokens/", {"name": "ci", "expires_on": yesterday})
    assert response.status_code == 400
    assert response.context["form"].errors["expires_on"]
    assert not PersonalAccessToken.objects.exists()


def test_revoking_a_personal_token_stops_it(client_for, owner):
    token, secret = personal_token_issue(user=owner, name="ci")
    response = client_for(owner).post(f"/account/tokens/{token.pk}/revoke/", headers=HTMX)
    assert response.status_code == 200
    assert "Revoked" in response.content.decode()
    assert personal_token_authenticate(plaintext=secret) is None


def test_nobody_revokes_someone_elses_personal_token(client_for, owner, mallory):
    token, secret = personal_token_issue(user=owner, name="ci")
    assert client_for(mallory).post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert personal_token_authenticate(plaintext=secret) == token


def test_deleting_an_app_one_does_not_manage_is_refused_in_place(client_for, members, app):
    response = client_for(members[Role.DEVELOPER].user).post(f"/apps/{app.slug}/delete/", headers=HTMX)
    assert response.status_code == 403
    assert "You may not manage this app" in response.content.decode()
    assert App.objects.filter(pk=app.pk).exists()


def test_an_unknown_app_is_a_404_page_that_says_so(client_for, owner, tenant):
    response = client_for(owner).get("/apps/no-such-app/")
    assert response.status_code == 404
    assert "<title>Not found · AI Gateway</title>" in response.content.decode()
