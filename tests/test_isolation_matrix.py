"""Every endpoint and method of tenant A ("acme"), called by someone who must not reach it.

Mallory owns tenant B ("globex") and nothing else: she gets 404 everywhere in A (existence does not leak) and
changes nothing. Anonymous callers and dead personal tokens (of A's owner) get 401 and change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from apps.access.models import PersonalAccessToken
from apps.access.services import personal_token_issue, token_revoke
from apps.tenants.models import Role
from tests.helpers import API, tenant_state

pytestmark = pytest.mark.django_db

A = f"{API}/tenants/acme"
B = f"{API}/tenants/globex"

# (id, method, path, body); {member}, {key}, {token} are ids of tenant A's rows.
ENDPOINTS = [
    ("tenant-retrieve", "get", f"{A}/", None),
    ("tenant-update", "patch", f"{A}/", {"name": "Pwned"}),
    ("member-list", "get", f"{A}/members/", None),
    ("member-retrieve", "get", f"{A}/members/{{member}}/", None),
    ("member-create", "post", f"{A}/members/", {"username": "mallory", "role": "owner"}),
    ("member-update", "patch", f"{A}/members/{{member}}/", {"role": "viewer"}),
    ("member-delete", "delete", f"{A}/members/{{member}}/", None),
    ("audit-list", "get", f"{A}/audit/", None),
    ("app-list", "get", f"{A}/apps/", None),
    ("app-create", "post", f"{A}/apps/", {"slug": "evil", "name": "Evil"}),
    ("app-retrieve", "get", f"{A}/apps/billing-bot/", None),
    ("app-update", "patch", f"{A}/apps/billing-bot/", {"name": "Pwned", "description": "x"}),
    ("app-delete", "delete", f"{A}/apps/billing-bot/", None),
    ("app-manager-add", "post", f"{A}/apps/billing-bot/managers/", {"username": "viewer-user"}),
    ("app-manager-remove", "delete", f"{A}/apps/billing-bot/managers/developer-user/", None),
    ("key-list", "get", f"{A}/apps/billing-bot/keys/", None),
    ("key-create", "post", f"{A}/apps/billing-bot/keys/", {"name": "evil"}),
    ("key-retrieve", "get", f"{A}/apps/billing-bot/keys/{{key}}/", None),
    ("key-revoke", "post", f"{A}/apps/billing-bot/keys/{{key}}/revoke/", None),
    ("token-delete", "delete", f"{API}/me/tokens/{{token}}/", None),
    # A's rows reached through B's URLs, where Mallory is an owner: the row ids must not cross tenants.
    ("via-b-member-retrieve", "get", f"{B}/members/{{member}}/", None),
    ("via-b-member-update", "patch", f"{B}/members/{{member}}/", {"role": "viewer"}),
    ("via-b-member-delete", "delete", f"{B}/members/{{member}}/", None),
    ("via-b-app-retrieve", "get", f"{B}/apps/billing-bot/", None),
    ("via-b-app-delete", "delete", f"{B}/apps/billing-bot/", None),
    ("via-b-key-retrieve", "get", f"{B}/apps/globex-bot/keys/{{key}}/", None),
    ("via-b-key-revoke", "post", f"{B}/apps/globex-bot/keys/{{key}}/revoke/", None),
]
ENDPOINT_PARAMS = [pytest.param(method, path, body, id=name) for name, method, path, body in ENDPOINTS]


@pytest.fixture
def world(tenant, members, app, other_app, issued_key, mallory):
    """Tenant A fully populated (a key, a granted app manager, an owner's token) next to Mallory's tenant B."""
    assign_perm("access.manage_app", members[Role.DEVELOPER].user, app)
    token, _ = personal_token_issue(user=members[Role.OWNER].user, name="ci")
    return {"member": members[Role.ADMIN].pk, "key": issued_key[0].pk, "token": token.pk}


def call(client: APIClient, method: str, path: str, body, ids: dict):
    return getattr(client, method)(path.format(**ids), body, format="json")


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINT_PARAMS)
def test_member_of_another_tenant_gets_404_and_changes_nothing(
    world, tenant, mallory, api_client_for, method, path, body
):
    before = tenant_state(tenant)
    response = call(api_client_for(mallory), method, path, body, world)
    assert response.status_code == 404, response.content
    assert response.json() == {"message": "Not found."}
    assert tenant_state(tenant) == before


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINT_PARAMS)
def test_anonymous_caller_gets_401_and_changes_nothing(world, tenant, method, path, body):
    before = tenant_state(tenant)
    response = call(APIClient(), method, path, body, world)
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert tenant_state(tenant) == before


def _kill(token: PersonalAccessToken, how: str) -> None:
    if how == "revoked":
        token_revoke(token=token)
    else:
        PersonalAccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.parametrize("how", ["revoked", "expired"])
@pytest.mark.parametrize(("method", "path", "body"), ENDPOINT_PARAMS)
def test_dead_personal_token_of_the_owner_gets_401_and_changes_nothing(world, tenant, owner, how, method, path, body):
    token, secret = personal_token_issue(user=owner, name="dead")
    _kill(token, how)
    before = tenant_state(tenant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = call(client, method, path, body, world)
    assert response.status_code == 401, response.content
    assert response.json() == {"message": "Invalid, expired or revoked token."}
    assert tenant_state(tenant) == before


def test_the_owner_reaches_every_read_endpoint_the_matrix_covers(world, owner, api_client_for):
    """Guards the matrix itself: its paths are real routes, so the 404s above come from scoping, not typos."""
    client = api_client_for(owner)
    for name, method, path, body in ENDPOINTS:
        if method == "get" and not name.startswith("via-b"):
            assert call(client, method, path, body, world).status_code == 200, name


def test_404_for_a_foreign_tenant_is_indistinguishable_from_a_missing_one(tenant, mallory, api_client_for):
    client = api_client_for(mallory)
    for suffix in ["/", "/members/", "/apps/", "/audit/"]:
        foreign = client.get(f"{A}{suffix}")
        missing = client.get(f"{API}/tenants/no-such-tenant{suffix}")
        assert (foreign.status_code, foreign.content) == (missing.status_code, missing.content)


def test_tenant_list_shows_only_the_callers_tenants(tenant, other_tenant, mallory, api_client_for):
    response = api_client_for(mallory).get(f"{API}/tenants/")
    assert response.status_code == 200
    assert [row["slug"] for row in response.json()["results"]] == ["globex"]


def test_token_list_shows_only_the_callers_tokens(world, mallory, api_client_for):
    personal_token_issue(user=mallory, name="mine")
    response = api_client_for(mallory).get(f"{API}/me/tokens/")
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["mine"]
