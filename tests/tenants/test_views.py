from __future__ import annotations

import pytest
from django.utils import timezone

from apps.core.models import AuditEvent
from apps.tenants.models import Membership, Role
from apps.tenants.web import SESSION_KEY
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _event(tenant, action: str, object_repr: str) -> AuditEvent:
    return AuditEvent(
        tenant=tenant,
        actor_label="script",
        source="cli",
        action=action,
        object_type="access.app",
        object_id="1",
        object_repr=object_repr,
    )


def test_login_page_renders_a_username_and_password_form(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Log in · AI Gateway</title>" in html
    assert 'name="username"' in html
    assert 'name="password"' in html


def test_login_with_the_right_password_lands_on_the_dashboard(client, owner, tenant):
    response = client.post("/accounts/login/", {"username": owner.username, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert response.context["user"] == owner
    assert f"Dashboard of {tenant.name}" in response.content.decode()


def test_login_with_a_wrong_password_stays_on_the_form_with_an_error(client, owner):
    response = client.post("/accounts/login/", {"username": owner.username, "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", ["/", "/apps/", "/members/", "/audit/", "/account/tokens/"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={url}")


def test_log_out_is_a_post_that_ends_the_session(client_for, owner):
    client = client_for(owner)
    assert 'action="/accounts/logout/"' in client.get("/").content.decode()
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


def test_a_user_in_no_tenant_is_told_to_ask_for_an_invitation(client_for, db):
    client = client_for(UserFactory(username="newcomer"))
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == "/no-tenant/"
    assert "not a member of any tenant yet" in response.content.decode()


def test_switching_to_an_own_tenant_changes_the_working_tenant(client_for, owner, tenant, other_tenant):
    MembershipFactory(user=owner, tenant=other_tenant, role=Role.VIEWER)
    client = client_for(owner)
    client.get("/")
    assert client.session[SESSION_KEY] == tenant.pk

    response = client.post("/tenant/switch/", {"tenant": other_tenant.slug})

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == other_tenant.pk
    assert f"Dashboard of {other_tenant.name}" in client.get("/").content.decode()


def test_switching_to_a_foreign_tenant_is_404_and_changes_nothing(client_for, owner, tenant, other_tenant):
    client = client_for(owner)
    client.get("/")

    response = client.post("/tenant/switch/", {"tenant": other_tenant.slug})

    assert response.status_code == 404
    assert client.session[SESSION_KEY] == tenant.pk
    assert f"Dashboard of {tenant.name}" in client.get("/").content.decode()


def test_the_switcher_lists_only_the_users_own_tenants(client_for, owner, tenant, other_tenant, mallory):
    third = MembershipFactory(user=owner, role=Role.VIEWER).tenant
    html = client_for(owner).get("/").content.decode()
    assert f'value="{tenant.slug}"' in html
    assert f'value="{third.slug}"' in html
    assert f'value="{other_tenant.slug}"' not in html


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
@pytest.mark.parametrize("url", ["/members/", "/audit/"])
def test_members_and_audit_pages_are_for_owners_and_admins(client_for, members, role, url):
    client = client_for(members[role].user)
    assert client.get(url).status_code == 403
    assert 'href="/members/"' not in client.get("/").content.decode()


def test_member_list_shows_every_member_with_a_role_picker(client_for, members):
    response = client_for(members[Role.ADMIN].user).get("/members/")
    html = response.content.decode()
    assert response.status_code == 200
    for role, membership in members.items():
        assert membership.user.username in html
        # Admins manage developers and viewers, and other admins; owners are out of their reach.
        assert (f"/members/{membership.pk}/role/" in html) == (role != Role.OWNER)


def test_inviting_an_existing_user_adds_them_with_the_role(client_for, members, tenant):
    newcomer = UserFactory(username="newcomer")
    response = client_for(members[Role.ADMIN].user).post("/members/", {"username": "newcomer", "role": Role.VIEWER})
    assert response.status_code == 302
    assert Membership.objects.get(tenant=tenant, user=newcomer).role == Role.VIEWER
    assert AuditEvent.objects.filter(tenant=tenant, action="membership.add", actor_label="admin-user").exists()


def test_inviting_an_unknown_user_is_a_field_error(client_for, members, tenant):
    before = Membership.objects.filter(tenant=tenant).count()
    response = client_for(members[Role.ADMIN].user).post("/members/", {"username": "ghost", "role": Role.VIEWER})
    assert response.status_code == 400
    assert response.context["form"].errors["username"] == ["No active user named 'ghost'."]
    assert "No active user named" in response.content.decode()
    assert Membership.objects.filter(tenant=tenant).count() == before


def test_inviting_a_member_twice_is_a_conflict_on_the_username(client_for, members):
    response = client_for(members[Role.OWNER].user).post("/members/", {"username": "viewer-user", "role": "admin"})
    assert response.status_code == 409
    assert "already a member" in response.context["form"].errors["username"][0]


def test_changing_a_role_inline_answers_with_the_updated_row(client_for, members):
    developer = members[Role.DEVELOPER]
    response = client_for(members[Role.ADMIN].user).post(
        f"/members/{developer.pk}/role/", {"role": Role.VIEWER}, headers=HTMX
    )
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith(f'<tr id="member-{developer.pk}"')
    developer.refresh_from_db()
    assert developer.role == Role.VIEWER


def test_an_admin_cannot_make_an_owner_and_the_row_says_why(client_for, members):
    developer = members[Role.DEVELOPER]
    response = client_for(members[Role.ADMIN].user).post(
        f"/members/{developer.pk}/role/", {"role": Role.OWNER}, headers=HTMX
    )
    assert response.status_code == 403
    assert "Only an owner can grant or remove the owner role." in response.content.decode()
    developer.refresh_from_db()
    assert developer.role == Role.DEVELOPER


def test_the_last_owner_cannot_step_down(client_for, members):
    owner = members[Role.OWNER]
    response = client_for(owner.user).post(f"/members/{owner.pk}/role/", {"role": Role.ADMIN}, headers=HTMX)
    assert response.status_code == 400
    assert "at least one owner" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_removing_a_member_with_htmx_deletes_the_row(client_for, members, tenant):
    viewer = members[Role.VIEWER]
    response = client_for(members[Role.ADMIN].user).post(f"/members/{viewer.pk}/remove/", headers=HTMX)
    assert response.status_code == 200
    assert response.content == b""
    assert not Membership.objects.filter(pk=viewer.pk).exists()


def test_audit_page_lists_the_tenants_events_only(client_for, members, app, other_app):
    AuditEvent.objects.bulk_create(
        [_event(app.tenant, "app.create", "Billing bot"), _event(other_app.tenant, "app.create", "Globex bot")]
    )
    html = client_for(members[Role.ADMIN].user).get("/audit/").content.decode()
    assert "Billing bot" in html
    assert "Globex bot" not in html


def test_audit_filters_narrow_the_list(client_for, members, tenant):
    AuditEvent.objects.bulk_create(
        _event(tenant, action, f"obj-{action}") for action in ("app.create", "api_key.issue")
    )
    today = timezone.localdate().isoformat()
    response = client_for(members[Role.ADMIN].user).get("/audit/", {"action": "api_key", "date_from": today})
    assert response.status_code == 200
    assert [event.action for event in response.context["page"]] == ["api_key.issue"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"date_from": "2024-02-30"}, "date_from", "Enter a valid date."),
        ({"date_to": "not-a-date"}, "date_to", "Enter a valid date."),
        ({"date_from": "2024-03-02", "date_to": "2024-03-01"}, "date_to", "must not be before the start date"),
        ({"source": "telepathy"}, "source", "Select a valid choice."),
    ],
)
def test_invalid_audit_filters_are_a_400_with_the_field_error(client_for, members, query, field, message):
    response = client_for(members[Role.ADMIN].user).get("/audit/", query)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert message in response.content.decode()


def test_audit_is_paginated_by_50(client_for, members, tenant):
    AuditEvent.objects.bulk_create(_event(tenant, "app.update", f"app {n}") for n in range(55))
    client = client_for(members[Role.ADMIN].user)
    first = client.get("/audit/")
    assert len(first.context["page"].object_list) == 50
    assert "?page=2" in first.content.decode()
    assert len(client.get("/audit/", {"page": 2}).context["page"].object_list) == 5
    assert client.get("/audit/", {"page": "999"}).status_code == 200  # out of range: the last page, not a 500


def test_dashboard_shows_recent_events_to_admins_only(client_for, members, tenant):
    _event(tenant, "tenant.update", "Acme").save()
    assert "tenant.update" in client_for(members[Role.ADMIN].user).get("/").content.decode()
    assert "tenant.update" not in client_for(members[Role.DEVELOPER].user).get("/").content.decode()


def test_leaving_the_tenant_sends_htmx_to_the_dashboard(client_for, members):
    admin = members[Role.ADMIN]
    response = client_for(admin.user).post(f"/members/{admin.pk}/remove/", headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/"
    assert not Membership.objects.filter(pk=admin.pk).exists()
