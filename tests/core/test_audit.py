"""The audit trail: one event per change through the API or the admin (who, from where, what changed), append-only,
and readable by admins through a filterable API."""

from __future__ import annotations

import pytest

from apps.access.models import ApiKey
from apps.core.models import AppendOnlyError, AuditEvent
from apps.tenants.models import Membership, Role
from tests.factories import UserFactory
from tests.helpers import API, assert_field_error

pytestmark = pytest.mark.django_db

ACME = f"{API}/tenants/acme"
IP = "203.0.113.7"


def _changes(members, issued_key):
    """(id, method, path, body, action, object_type, expected changes ⊆ event.changes)."""
    key = issued_key[0]
    dev = members[Role.DEVELOPER]
    return {
        "key-issue": ("post", f"{ACME}/apps/billing-bot/keys/", {"name": "ci", "scopes": ["gateway"]},
                      "api_key.issue", "access.apikey", {"app": "billing-bot", "scopes": ["gateway"]}),
        "key-revoke": ("post", f"{ACME}/apps/billing-bot/keys/{key.pk}/revoke/", None,
                       "api_key.revoke", "access.apikey", {}),
        "app-create": ("post", f"{ACME}/apps/", {"slug": "new-app", "name": "New app"},
                       "app.create", "access.app", {"slug": "new-app", "name": "New app"}),
        "app-delete": ("delete", f"{ACME}/apps/billing-bot/", None,
                       "app.delete", "access.app", {"keys": [key.prefix]}),
        "member-add": ("post", f"{ACME}/members/", {"username": "newbie", "role": "developer"},
                       "membership.add", "tenants.membership", {"role": [None, "developer"]}),
        "member-change": ("patch", f"{ACME}/members/{dev.pk}/", {"role": "admin"},
                          "membership.change_role", "tenants.membership", {"role": ["developer", "admin"]}),
        "member-remove": ("delete", f"{ACME}/members/{dev.pk}/", None,
                          "membership.remove", "tenants.membership", {"role": ["developer", None]}),
    }  # fmt: skip


@pytest.mark.parametrize(
    "change", ["key-issue", "key-revoke", "app-create", "app-delete", "member-add", "member-change", "member-remove"]
)
def test_each_api_change_writes_exactly_one_event(members, app, issued_key, tenant, api_client_for, change):
    UserFactory(username="newbie")
    method, path, body, action, object_type, expected = _changes(members, issued_key)[change]
    before = set(AuditEvent.objects.values_list("pk", flat=True))
    client = api_client_for(members[Role.OWNER].user)
    response = getattr(client, method)(path, body, format="json", REMOTE_ADDR=IP)
    assert response.status_code in (200, 201, 204), response.content
    new = list(AuditEvent.objects.exclude(pk__in=before))
    assert len(new) == 1, [e.action for e in new]
    event = new[0]
    assert (event.action, event.object_type, event.source) == (action, object_type, "api")
    assert (event.actor, event.actor_label, event.ip_address) == (members[Role.OWNER].user, "owner-user", IP)
    assert event.tenant == tenant
    assert event.object_id
    assert expected.items() <= event.changes.items()
    if change == "key-revoke":
        assert event.changes["revoked_at"][0] is None
        assert event.changes["revoked_at"][1]


def test_a_refused_change_writes_no_event(members, app, api_client_for):
    before = AuditEvent.objects.count()
    client = api_client_for(members[Role.VIEWER].user)
    assert client.delete(f"{ACME}/apps/billing-bot/").status_code == 403
    assert client.post(f"{ACME}/apps/", {"slug": "x", "name": "x"}, format="json").status_code == 403
    assert AuditEvent.objects.count() == before


def test_a_membership_changed_in_the_admin_is_audited_as_admin(superuser_client, members, tenant):
    membership = members[Role.VIEWER]
    before = AuditEvent.objects.count()
    form = {"user": membership.user_id, "tenant": tenant.pk, "role": "developer", "_save": "Save"}
    response = superuser_client.post(
        f"/admin/tenants/membership/{membership.pk}/change/", form, REMOTE_ADDR="198.51.100.4"
    )
    assert response.status_code == 302, response.content[:2000]
    assert Membership.objects.get(pk=membership.pk).role == Role.DEVELOPER
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.first()
    assert (event.source, event.actor_label, event.ip_address) == ("admin", "root", "198.51.100.4")
    assert (event.action, event.object_id, event.tenant) == ("membership.update", str(membership.pk), tenant)
    assert event.changes == {"role": ["viewer", "developer"]}


def test_keys_revoked_with_the_admin_action_are_audited_as_admin(superuser_client, issued_key, tenant):
    key = issued_key[0]
    before = AuditEvent.objects.count()
    response = superuser_client.post("/admin/access/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert response.status_code == 302
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.first()
    assert (event.source, event.actor_label, event.action, event.tenant) == ("admin", "root", "api_key.revoke", tenant)


def test_keys_deleted_in_the_admin_are_audited(superuser_client, issued_key, tenant):
    key = issued_key[0]
    form = {"action": "delete_selected", "_selected_action": [key.pk], "post": "yes"}
    assert superuser_client.post("/admin/access/apikey/", form).status_code == 302
    assert not ApiKey.objects.filter(pk=key.pk).exists()
    event = AuditEvent.objects.first()
    assert (event.source, event.object_id, event.tenant) == ("admin", str(key.pk), tenant)
    assert event.action.endswith(".delete")


def test_the_trail_is_append_only(members, app, api_client_for):
    api_client_for(members[Role.OWNER].user).post(f"{ACME}/apps/", {"slug": "a1", "name": "A1"}, format="json")
    event = AuditEvent.objects.get(action="app.create")
    event.action = "app.nothing-happened"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="app.nothing-happened")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "app.create"


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("developer", 403), ("admin", 200), ("owner", 200)])
def test_only_admins_and_owners_read_the_trail(members, api_client_for, role, expected):
    response = api_client_for(members[role].user).get(f"{ACME}/audit/")
    assert response.status_code == expected
    if expected == 403:
        assert "admin role" in response.json()["message"]


@pytest.fixture
def trail(members, app, other_app, issued_key, mallory, api_client_for):
    """Events from the API by two people, plus one in the other tenant that must never show."""
    owner = api_client_for(members[Role.OWNER].user)
    owner.post(f"{ACME}/apps/", {"slug": "from-owner", "name": "x"}, format="json")
    owner.post(f"{ACME}/apps/billing-bot/keys/{issued_key[0].pk}/revoke/")
    api_client_for(members[Role.ADMIN].user).post(f"{ACME}/apps/", {"slug": "from-admin", "name": "x"}, format="json")
    api_client_for(mallory).post(f"{API}/tenants/globex/apps/", {"slug": "theirs", "name": "x"}, format="json")


def _listed(client, query: str = "") -> list[tuple[str, str]]:
    response = client.get(f"{ACME}/audit/{query}")
    assert response.status_code == 200, response.content
    return [(row["action"], row["actor_label"]) for row in response.json()["results"]]


def test_the_trail_lists_the_tenants_events_newest_first(trail, members, api_client_for):
    listed = _listed(api_client_for(members[Role.ADMIN].user))
    assert listed[:3] == [("app.create", "admin-user"), ("api_key.revoke", "owner-user"), ("app.create", "owner-user")]
    assert "mallory" not in {actor for _, actor in listed}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?action=app.create", {("app.create", "owner-user"), ("app.create", "admin-user")}),
        ("?actor=admin", {("app.create", "admin-user")}),
        ("?object_type=access.apikey", {("api_key.issue", "system"), ("api_key.revoke", "owner-user")}),
        ("?source=api&actor=owner", {("app.create", "owner-user"), ("api_key.revoke", "owner-user")}),
        ("?source=admin", set()),
        ("?date_from=2000-01-01&date_to=2000-12-31", set()),
    ],
)
def test_the_trail_filters(trail, members, api_client_for, query, expected):
    assert set(_listed(api_client_for(members[Role.OWNER].user), query)) == expected


def test_the_trail_date_range_includes_today(trail, members, api_client_for):
    from django.utils import timezone

    today = timezone.now().date().isoformat()
    assert len(_listed(api_client_for(members[Role.OWNER].user), f"?date_from={today}&date_to={today}")) >= 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?date_from=2024-03-02&date_to=2024-03-01", "date_to"),
        ("?date_from=2024-02-30", "date_from"),
        ("?date_to=yesterday", "date_to"),
        ("?source=telepathy", "source"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_field(members, api_client_for, query, field):
    assert_field_error(api_client_for(members[Role.ADMIN].user).get(f"{ACME}/audit/{query}"), field)
