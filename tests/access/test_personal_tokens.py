"""Personal access tokens: issued once through the API, used as `Authorization: Bearer gwp_…` with the person's
roles, revoked, and never stored in the clear."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from apps.access.models import App, PersonalAccessToken
from apps.access.services import personal_token_issue
from apps.core.models import AuditEvent
from apps.tenants.models import Role
from tests.helpers import API

pytestmark = pytest.mark.django_db

TOKENS = f"{API}/me/tokens/"
APPS = f"{API}/tenants/acme/apps/"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def issue_through_api(user, api_client_for, **body) -> dict:
    response = api_client_for(user).post(TOKENS, {"name": "ci", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_token_lifecycle_create_use_revoke(members, api_client_for):
    user = members[Role.DEVELOPER].user
    issued = issue_through_api(user, api_client_for)
    assert issued["secret"].startswith("gwp_")
    assert issued["secret"].startswith(f"{issued['prefix']}_")
    client = bearer(issued["secret"])
    listed = client.get(f"{API}/tenants/")
    assert listed.status_code == 200
    assert [(t["slug"], t["role"]) for t in listed.json()["results"]] == [("acme", "developer")]
    assert api_client_for(user).delete(f"{TOKENS}{issued['id']}/").status_code == 204
    refused = client.get(f"{API}/tenants/")
    assert refused.status_code == 401
    assert refused.json() == {"message": "Invalid, expired or revoked token."}


def test_a_token_acts_with_its_owners_roles(members, api_client_for):
    developer = bearer(issue_through_api(members[Role.DEVELOPER].user, api_client_for)["secret"])
    viewer = bearer(issue_through_api(members[Role.VIEWER].user, api_client_for)["secret"])
    created = developer.post(APPS, {"slug": "from-ci", "name": "From CI"}, format="json")
    assert created.status_code == 201
    assert created.json()["created_by"] == "developer-user"
    assert viewer.post(APPS, {"slug": "nope", "name": "Nope"}, format="json").status_code == 403
    assert viewer.get(APPS).status_code == 200
    assert list(App.objects.values_list("slug", flat=True)) == ["from-ci"]


def test_changes_made_with_a_token_name_the_person_and_the_token(members, api_client_for):
    issued = issue_through_api(members[Role.DEVELOPER].user, api_client_for)
    bearer(issued["secret"]).post(APPS, {"slug": "audited", "name": "Audited"}, format="json")
    event = AuditEvent.objects.get(action="app.create")
    assert event.actor == members[Role.DEVELOPER].user
    assert event.actor_label == f"developer-user (token {issued['prefix']})"


def test_the_database_never_holds_the_plaintext(members, api_client_for):
    secret = issue_through_api(members[Role.OWNER].user, api_client_for)["secret"]
    bearer(secret).get(f"{API}/tenants/")  # a use writes last_used_at
    dumped = ""
    for table in ("access_personalaccesstoken", "core_auditevent"):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            dumped += repr(cursor.fetchall())
    assert secret not in dumped
    assert secret.split("_", 2)[2] not in dumped
    token = PersonalAccessToken.objects.get()
    assert len(token.digest) == 64
    assert token.last_used_at is not None


def test_list_never_shows_the_secret_or_digest(members, api_client_for):
    secret = issue_through_api(members[Role.OWNER].user, api_client_for)["secret"]
    response = api_client_for(members[Role.OWNER].user).get(TOKENS)
    row = response.json()["results"][0]
    assert row["state"] == "active"
    assert "secret" not in row
    assert "digest" not in row
    assert secret.split("_", 2)[2] not in response.content.decode()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-2] + ("xx" if not s.endswith("xx") else "yy"),
        lambda s: "gwp_" + "a" * 12 + "_" + s.split("_", 2)[2],
        lambda s: s.rsplit("_", 1)[0],
    ],
    ids=["wrong-secret", "unknown-lookup", "truncated"],
)
def test_a_mangled_token_is_401(owner, mangle):
    _, secret = personal_token_issue(user=owner, name="ci")
    assert bearer(mangle(secret)).get(f"{API}/tenants/").status_code == 401


def test_an_expired_token_is_401(owner):
    token, secret = personal_token_issue(user=owner, name="ci", expires_at=timezone.now() + timedelta(hours=1))
    assert bearer(secret).get(f"{API}/tenants/").status_code == 200
    PersonalAccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(secret).get(f"{API}/tenants/").status_code == 401


def test_a_deactivated_users_token_is_401(owner):
    _, secret = personal_token_issue(user=owner, name="ci")
    owner.is_active = False
    owner.save()
    assert bearer(secret).get(f"{API}/tenants/").status_code == 401


def test_an_api_key_is_not_a_management_credential(issued_key):
    response = bearer(issued_key[1]).get(f"{API}/tenants/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_revoking_someone_elses_token_is_404(members, api_client_for):
    token, secret = personal_token_issue(user=members[Role.OWNER].user, name="theirs")
    response = api_client_for(members[Role.ADMIN].user).delete(f"{TOKENS}{token.pk}/")
    assert response.status_code == 404
    assert bearer(secret).get(f"{API}/tenants/").status_code == 200
