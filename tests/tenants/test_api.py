"""Tenants and members through the REST API: who may do what (role by action), the last-owner rule, bad input."""

from __future__ import annotations

import pytest

from apps.core.models import ConfigVersion
from apps.core.services import GATEWAY_CONFIG
from apps.tenants.models import Membership, Role, Tenant
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import API, assert_field_error, row_counts

pytestmark = pytest.mark.django_db

TENANT = f"{API}/tenants/acme/"
MEMBERS = f"{API}/tenants/acme/members/"
ROLES = [Role.VIEWER, Role.DEVELOPER, Role.ADMIN, Role.OWNER]


def test_tenant_list_gives_each_tenant_with_the_callers_role(members, other_tenant, api_client_for):
    response = api_client_for(members[Role.DEVELOPER].user).get(f"{API}/tenants/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row == {
        "slug": "acme",
        "name": "Acme",
        "require_internal_subscriptions": False,
        "limits_fail_open": True,
        "role": "developer",
        "created_at": row["created_at"],
    }


def test_any_user_creates_a_tenant_and_becomes_its_owner(api_client_for):
    user = UserFactory(username="founder")
    response = api_client_for(user).post(f"{API}/tenants/", {"slug": "newco", "name": "NewCo"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["role"] == "owner"
    assert Membership.objects.get(tenant__slug="newco").user == user


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("developer", 403), ("admin", 200), ("owner", 200)])
def test_only_admins_and_owners_rename_the_tenant(members, tenant, api_client_for, role, expected):
    response = api_client_for(members[role].user).patch(TENANT, {"name": "Acme Ltd"}, format="json")
    assert response.status_code == expected, response.content
    tenant.refresh_from_db()
    assert tenant.name == ("Acme Ltd" if expected == 200 else "Acme")


def config_version() -> int:
    return ConfigVersion.objects.filter(name=GATEWAY_CONFIG).values_list("version", flat=True).first() or 0


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("developer", 403), ("admin", 200), ("owner", 200)])
def test_owners_and_admins_choose_whether_limits_fail_open(members, tenant, api_client_for, role, expected):
    before = config_version()
    response = api_client_for(members[role].user).patch(TENANT, {"limits_fail_open": False}, format="json")
    assert response.status_code == expected, response.content
    tenant.refresh_from_db()
    assert tenant.limits_fail_open is (expected != 200)
    # The gateway reads the setting from its snapshot: the configuration version counts the change.
    assert config_version() == before + (expected == 200)


def test_limits_fail_open_must_be_a_boolean(members, tenant, api_client_for):
    response = api_client_for(members[Role.OWNER].user).patch(TENANT, {"limits_fail_open": "perhaps"}, format="json")
    assert_field_error(response, "limits_fail_open")
    tenant.refresh_from_db()
    assert tenant.limits_fail_open is True


def test_another_tenant_cannot_change_whether_limits_fail_open(members, tenant, mallory, api_client_for):
    response = api_client_for(mallory).patch(TENANT, {"limits_fail_open": False}, format="json")
    assert response.status_code == 404
    tenant.refresh_from_db()
    assert tenant.limits_fail_open is True


@pytest.mark.parametrize("role", ROLES)
def test_every_member_reads_the_member_list(members, api_client_for, role):
    response = api_client_for(members[role].user).get(MEMBERS)
    assert response.status_code == 200
    assert sorted(row["role"] for row in response.json()["results"]) == sorted(ROLES)
    one = api_client_for(members[role].user).get(f"{MEMBERS}{members[Role.OWNER].pk}/")
    assert one.json()["username"] == "owner-user"


ADD_CASES = [  # (actor, role granted, status)
    ("viewer", "viewer", 403),
    ("developer", "viewer", 403),
    ("admin", "developer", 201),
    ("admin", "admin", 201),
    ("admin", "owner", 403),
    ("owner", "owner", 201),
]


@pytest.mark.parametrize(("actor", "role", "expected"), ADD_CASES)
def test_adding_a_member(members, tenant, api_client_for, actor, role, expected):
    UserFactory(username="newbie")
    response = api_client_for(members[actor].user).post(MEMBERS, {"username": "newbie", "role": role}, format="json")
    assert response.status_code == expected, response.content
    added = Membership.objects.filter(tenant=tenant, user__username="newbie")
    assert list(added.values_list("role", flat=True)) == ([role] if expected == 201 else [])


CHANGE_CASES = [  # (actor, target's role, new role, status)
    ("viewer", "developer", "admin", 403),
    ("developer", "viewer", "developer", 403),
    ("admin", "developer", "admin", 200),
    ("admin", "viewer", "developer", 200),
    ("admin", "viewer", "owner", 403),
    ("admin", "owner", "viewer", 403),
    ("admin", "owner", "owner", 403),  # a no-op is still an owner-role decision
    ("owner", "admin", "owner", 200),
    ("owner", "developer", "viewer", 200),
]


@pytest.mark.parametrize(("actor", "target", "new_role", "expected"), CHANGE_CASES)
def test_changing_a_role(members, api_client_for, actor, target, new_role, expected):
    membership = members[target]
    url = f"{MEMBERS}{membership.pk}/"
    response = api_client_for(members[actor].user).patch(url, {"role": new_role}, format="json")
    assert response.status_code == expected, response.content
    membership.refresh_from_db()
    assert membership.role == (new_role if expected == 200 else target)


REMOVE_CASES = [("viewer", "developer", 403), ("developer", "viewer", 403), ("admin", "developer", 204)]
REMOVE_CASES += [("admin", "admin", 204), ("admin", "owner", 403), ("owner", "admin", 204)]


@pytest.mark.parametrize(("actor", "target", "expected"), REMOVE_CASES)
def test_removing_a_member(members, api_client_for, actor, target, expected):
    response = api_client_for(members[actor].user).delete(f"{MEMBERS}{members[target].pk}/")
    assert response.status_code == expected, response.content
    assert Membership.objects.filter(pk=members[target].pk).exists() is (expected != 204)


def test_the_last_owner_cannot_be_demoted(members, api_client_for):
    url = f"{MEMBERS}{members[Role.OWNER].pk}/"
    response = api_client_for(members[Role.OWNER].user).patch(url, {"role": "admin"}, format="json")
    assert_field_error(response, "role")
    assert "at least one owner" in response.json()["message"]
    assert Membership.objects.get(pk=members[Role.OWNER].pk).role == Role.OWNER


def test_the_last_owner_cannot_be_removed(members, api_client_for):
    response = api_client_for(members[Role.OWNER].user).delete(f"{MEMBERS}{members[Role.OWNER].pk}/")
    assert_field_error(response, "role")
    assert Membership.objects.filter(pk=members[Role.OWNER].pk).exists()


def test_an_owner_may_step_down_when_another_owner_remains(members, tenant, api_client_for):
    MembershipFactory(tenant=tenant, role=Role.OWNER, user=UserFactory(username="co-owner"))
    url = f"{MEMBERS}{members[Role.OWNER].pk}/"
    response = api_client_for(members[Role.OWNER].user).patch(url, {"role": "admin"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "admin"


TENANT_BAD_INPUT = [  # (body, field)
    ({"name": "No slug"}, "slug"),
    ({"slug": "no-name"}, "name"),
    ({"slug": "Acme2", "name": "Upper"}, "slug"),
    ({"slug": "has space", "name": "Space"}, "slug"),
    ({"slug": "-dash-", "name": "Dashes"}, "slug"),
    ({"slug": "a" * 51, "name": "Long"}, "slug"),
    ({"slug": ["list"], "name": "Type"}, "slug"),
    ({"slug": "typed", "name": {"a": 1}}, "name"),
    ({"slug": "acme", "name": "Duplicate"}, "slug"),
]


@pytest.mark.parametrize(("body", "field"), TENANT_BAD_INPUT)
def test_bad_tenant_input_names_the_field_and_writes_nothing(tenant, owner, api_client_for, body, field):
    before = row_counts()
    response = api_client_for(owner).post(f"{API}/tenants/", body, format="json")
    assert_field_error(response, field, statuses=(400, 409))
    assert row_counts() == before


MEMBER_BAD_INPUT = [  # (method, path suffix, body, field)
    ("post", "", {"role": "viewer"}, "username"),
    ("post", "", {"username": "newbie"}, "role"),
    ("post", "", {"username": "newbie", "role": "superuser"}, "role"),
    ("post", "", {"username": "newbie", "role": 3}, "role"),
    ("post", "", {"username": "nobody-here", "role": "viewer"}, "username"),
    ("post", "", {"username": "viewer-user", "role": "viewer"}, "username"),  # already a member
    ("patch", "{pk}/", {"role": "boss"}, "role"),
    ("patch", "{pk}/", {}, "role"),
    ("patch", "{pk}/", {"role": None}, "role"),
]


@pytest.mark.parametrize(("method", "suffix", "body", "field"), MEMBER_BAD_INPUT)
def test_bad_member_input_names_the_field_and_writes_nothing(members, api_client_for, method, suffix, body, field):
    UserFactory(username="newbie")
    before = row_counts()
    url = MEMBERS + suffix.format(pk=members[Role.DEVELOPER].pk)
    response = getattr(api_client_for(members[Role.OWNER].user), method)(url, body, format="json")
    assert_field_error(response, field, statuses=(400, 409))
    assert row_counts() == before
    assert Membership.objects.get(pk=members[Role.DEVELOPER].pk).role == Role.DEVELOPER


@pytest.mark.parametrize(("method", "path"), [("post", f"{API}/tenants/"), ("post", MEMBERS), ("patch", TENANT)])
def test_a_body_that_is_not_json_is_a_400_with_a_message(members, api_client_for, method, path):
    before = row_counts()
    client = api_client_for(members[Role.OWNER].user)
    response = getattr(client, method)(path, data='{"slug": "x", ', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["message"]
    assert row_counts() == before
    assert Tenant.objects.get(slug="acme").name == "Acme"


@pytest.mark.parametrize("pk", ["abc", "²", "99999999999999999999", "0"])
def test_odd_member_ids_are_404_not_500(members, api_client_for, pk):
    response = api_client_for(members[Role.OWNER].user).get(f"{MEMBERS}{pk}/")
    assert response.status_code == 404
