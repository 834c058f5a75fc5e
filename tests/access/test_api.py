"""Apps, app managers and API keys through the REST API: who may do what, the secret shown once, revocation."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from apps.access.models import ApiKey, App
from apps.access.selectors import api_key_authenticate
from apps.tenants.models import Role
from tests.helpers import API

pytestmark = pytest.mark.django_db

APPS = f"{API}/tenants/acme/apps/"
APP = f"{APPS}billing-bot/"
KEYS = f"{APP}keys/"


def _app_actions(key_id: int):
    """(name, method, path, body, success status, "did it happen?" check) on `app`, made by the owner."""
    return {
        "update": (
            "patch",
            APP,
            {"name": "Renamed"},
            200,
            lambda: App.objects.get(slug="billing-bot").name == "Renamed",
        ),
        "delete": ("delete", APP, None, 204, lambda: not App.objects.filter(slug="billing-bot").exists()),
        "issue-key": ("post", KEYS, {"name": "new"}, 201, lambda: ApiKey.objects.filter(name="new").exists()),
        "revoke-key": ("post", f"{KEYS}{key_id}/revoke/", None, 200, lambda: ApiKey.objects.get(pk=key_id).revoked_at),
    }


ACTION_MATRIX = [  # (role, action, allowed): only admins and owners manage an app someone else created
    (role, action, role in (Role.ADMIN, Role.OWNER))
    for role in (Role.VIEWER, Role.DEVELOPER, Role.ADMIN, Role.OWNER)
    for action in ("update", "delete", "issue-key", "revoke-key")
]


@pytest.mark.parametrize(("role", "action", "allowed"), ACTION_MATRIX)
def test_who_manages_an_app_they_did_not_create(members, app, issued_key, api_client_for, role, action, allowed):
    method, path, body, ok, happened = _app_actions(issued_key[0].pk)[action]
    response = getattr(api_client_for(members[role].user), method)(path, body, format="json")
    assert response.status_code == (ok if allowed else 403), response.content
    assert bool(happened()) is allowed


@pytest.mark.parametrize(
    ("method", "path"), [("post", APPS), ("patch", APP), ("post", KEYS), ("post", f"{APP}managers/")]
)
def test_a_viewer_is_refused_before_the_input_is_read(members, app, api_client_for, method, path):
    client = api_client_for(members[Role.VIEWER].user)
    response = getattr(client, method)(path, {"name": ["not", "a", "name"]}, format="json")
    assert response.status_code == 403, response.content
    assert "developer role" in response.json()["message"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.ADMIN, Role.OWNER])
def test_every_member_reads_apps_and_keys(members, app, issued_key, api_client_for, role):
    client = api_client_for(members[role].user)
    assert [row["slug"] for row in client.get(APPS).json()["results"]] == ["billing-bot"]
    assert client.get(APP).json()["active_keys"] == 1
    assert client.get(f"{KEYS}{issued_key[0].pk}/").json()["prefix"] == issued_key[0].prefix


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("developer", 201), ("admin", 201), ("owner", 201)])
def test_developers_and_up_create_apps(members, tenant, api_client_for, role, expected):
    response = api_client_for(members[role].user).post(APPS, {"slug": "new-app", "name": "New"}, format="json")
    assert response.status_code == expected, response.content
    assert App.objects.filter(tenant=tenant, slug="new-app").exists() is (expected == 201)


def test_a_developer_manages_the_app_they_created(members, api_client_for):
    client = api_client_for(members[Role.DEVELOPER].user)
    assert client.post(APPS, {"slug": "mine", "name": "Mine"}, format="json").json()["created_by"] == "developer-user"
    assert client.patch(f"{APPS}mine/", {"description": "my bot"}, format="json").status_code == 200
    issued = client.post(f"{APPS}mine/keys/", {"name": "k"}, format="json")
    assert issued.status_code == 201
    assert client.post(f"{APPS}mine/keys/{issued.json()['id']}/revoke/").status_code == 200
    assert client.delete(f"{APPS}mine/").status_code == 204
    assert not App.objects.filter(slug="mine").exists()


def test_a_developer_manages_another_app_only_while_granted(members, app, api_client_for):
    developer = api_client_for(members[Role.DEVELOPER].user)
    admin = api_client_for(members[Role.ADMIN].user)
    rename = lambda name: developer.patch(APP, {"name": name}, format="json")  # noqa: E731
    assert rename("Before grant").status_code == 403
    assert admin.post(f"{APP}managers/", {"username": "developer-user"}, format="json").status_code == 204
    assert rename("Granted").status_code == 200
    assert admin.delete(f"{APP}managers/developer-user/").status_code == 204
    assert rename("After revoke").status_code == 403
    assert App.objects.get(pk=app.pk).name == "Granted"


def test_a_grant_on_one_app_does_not_reach_another(members, app, api_client_for, tenant):
    App.objects.create(tenant=tenant, slug="second", name="Second")
    assign_perm("access.manage_app", members[Role.DEVELOPER].user, app)
    response = api_client_for(members[Role.DEVELOPER].user).patch(f"{APPS}second/", {"name": "x"}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("developer", 403), ("admin", 204), ("owner", 204)])
def test_only_admins_and_owners_grant_app_management(members, app, api_client_for, role, expected):
    client = api_client_for(members[role].user)
    response = client.post(f"{APP}managers/", {"username": "developer-user"}, format="json")
    assert response.status_code == expected, response.content
    assert members[Role.DEVELOPER].user.has_perm("access.manage_app", app) is (expected == 204)


@pytest.mark.parametrize("username", ["viewer-user", "mallory", "nobody"])
def test_app_management_goes_only_to_developers_of_the_tenant(members, app, mallory, api_client_for, username):
    response = api_client_for(members[Role.OWNER].user).post(f"{APP}managers/", {"username": username}, format="json")
    assert response.status_code == 400
    assert "username" in response.json()["errors"]


def test_deleting_an_app_leaves_no_permission_behind(members, api_client_for):
    from guardian.models import UserObjectPermission

    client = api_client_for(members[Role.DEVELOPER].user)
    client.post(APPS, {"slug": "short-lived", "name": "Short"}, format="json")
    assert UserObjectPermission.objects.count() == 1
    assert client.delete(f"{APPS}short-lived/").status_code == 204
    assert UserObjectPermission.objects.count() == 0


def test_issuing_a_key_shows_the_secret_once(members, app, api_client_for):
    client = api_client_for(members[Role.ADMIN].user)
    issued = client.post(KEYS, {"name": "ci", "scopes": ["gateway"]}, format="json")
    assert issued.status_code == 201, issued.content
    secret = issued.json()["secret"]
    key = api_key_authenticate(plaintext=secret)
    assert key is not None
    assert (key.pk, key.scopes, issued.json()["prefix"]) == (issued.json()["id"], ["gateway"], key.prefix)
    for response in (client.get(KEYS), client.get(f"{KEYS}{key.pk}/"), client.get(APP), client.get(APPS)):
        assert response.status_code == 200
        assert secret not in response.content.decode()
        assert secret.split("_", 2)[2] not in response.content.decode()
        assert key.digest not in response.content.decode()
    listed = client.get(KEYS).json()["results"][0]
    assert "secret" not in listed
    assert "digest" not in listed
    assert "secret" not in client.get(f"{KEYS}{key.pk}/").json()


def test_revoking_a_key_twice_is_a_conflict(members, issued_key, api_client_for):
    client = api_client_for(members[Role.ADMIN].user)
    url = f"{KEYS}{issued_key[0].pk}/revoke/"
    first = client.post(url)
    assert first.status_code == 200
    assert first.json()["state"] == "revoked"
    revoked_at = ApiKey.objects.get(pk=issued_key[0].pk).revoked_at
    second = client.post(url)
    assert second.status_code == 409
    assert second.json() == {"message": "This key is already revoked."}
    assert ApiKey.objects.get(pk=issued_key[0].pk).revoked_at == revoked_at
    assert api_key_authenticate(plaintext=issued_key[1]) is None
