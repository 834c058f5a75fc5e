"""Bad input to the access API (apps, keys, personal tokens): a 400 or 409 naming the field, never a 500, and
nothing half-written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.tenants.models import Role
from tests.helpers import API, assert_field_error, row_counts

pytestmark = pytest.mark.django_db

APPS = f"{API}/tenants/acme/apps/"
KEYS = f"{APPS}billing-bot/keys/"
TOKENS = f"{API}/me/tokens/"
PAST = (timezone.now() - timedelta(days=1)).isoformat()

BAD_INPUT = [  # (id, method, path, body, field)
    ("app-no-slug", "post", APPS, {"name": "x"}, "slug"),
    ("app-no-name", "post", APPS, {"slug": "x"}, "name"),
    ("app-upper-slug", "post", APPS, {"slug": "Billing", "name": "x"}, "slug"),
    ("app-space-slug", "post", APPS, {"slug": "my app", "name": "x"}, "slug"),
    ("app-long-slug", "post", APPS, {"slug": "a" * 51, "name": "x"}, "slug"),
    ("app-slug-type", "post", APPS, {"slug": 12.5, "name": "x"}, "slug"),
    ("app-name-type", "post", APPS, {"slug": "x", "name": ["x"]}, "name"),
    ("app-description-type", "post", APPS, {"slug": "x", "name": "x", "description": {"a": 1}}, "description"),
    ("app-duplicate-slug", "post", APPS, {"slug": "billing-bot", "name": "Again"}, "slug"),
    ("app-blank-name", "patch", f"{APPS}billing-bot/", {"name": ""}, "name"),
    ("app-long-name", "patch", f"{APPS}billing-bot/", {"name": "n" * 101}, "name"),
    ("manager-no-username", "post", f"{APPS}billing-bot/managers/", {}, "username"),
    ("key-no-name", "post", KEYS, {}, "name"),
    ("key-blank-name", "post", KEYS, {"name": "   "}, "name"),
    ("key-name-type", "post", KEYS, {"name": {"a": 1}}, "name"),
    ("key-unknown-scope", "post", KEYS, {"name": "k", "scopes": ["gateway", "root"]}, "scopes"),
    ("key-scopes-not-a-list", "post", KEYS, {"name": "k", "scopes": "gateway"}, "scopes"),
    ("key-no-scopes", "post", KEYS, {"name": "k", "scopes": []}, "scopes"),
    ("key-expiry-past", "post", KEYS, {"name": "k", "expires_at": PAST}, "expires_at"),
    ("key-expiry-garbage", "post", KEYS, {"name": "k", "expires_at": "next tuesday"}, "expires_at"),
    ("key-expiry-type", "post", KEYS, {"name": "k", "expires_at": 1700000000}, "expires_at"),
    ("token-no-name", "post", TOKENS, {}, "name"),
    ("token-expiry-past", "post", TOKENS, {"name": "t", "expires_at": PAST}, "expires_at"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUT]
)
def test_bad_input_names_the_field_and_writes_nothing(members, app, api_client_for, method, path, body, field):
    before = row_counts()
    response = getattr(api_client_for(members[Role.OWNER].user), method)(path, body, format="json")
    assert_field_error(response, field, statuses=(400, 409))
    assert row_counts() == before
    app.refresh_from_db()
    assert (app.name, app.description) == ("Billing bot", "")


def test_duplicate_app_slug_is_a_conflict(members, app, api_client_for):
    response = api_client_for(members[Role.ADMIN].user).post(APPS, {"slug": "billing-bot", "name": "x"}, format="json")
    assert_field_error(response, "slug", statuses=(409,))


@pytest.mark.parametrize("path", [APPS, KEYS, TOKENS, f"{APPS}billing-bot/managers/"])
def test_a_body_that_is_not_json_is_a_400_with_a_message(members, app, api_client_for, path):
    before = row_counts()
    response = api_client_for(members[Role.OWNER].user).post(path, data="name=x", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("JSON parse error")
    assert row_counts() == before


@pytest.mark.parametrize("body", ["[1, 2]", '"a string"', "null"])
def test_a_json_body_that_is_not_an_object_is_a_400(members, app, api_client_for, body):
    before = row_counts()
    response = api_client_for(members[Role.OWNER].user).post(KEYS, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"]
    assert row_counts() == before


def test_a_form_encoded_body_is_refused_cleanly(members, app, api_client_for):
    response = api_client_for(members[Role.OWNER].user).post(APPS, data="slug=x", content_type="text/plain")
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["message"]


@pytest.mark.parametrize("key_id", ["abc", "²", "99999999999999999999"])
def test_odd_key_and_token_ids_are_404_not_500(members, app, api_client_for, key_id):
    client = api_client_for(members[Role.OWNER].user)
    assert client.get(f"{KEYS}{key_id}/").status_code == 404
    assert client.post(f"{KEYS}{key_id}/revoke/").status_code == 404
    assert client.delete(f"{TOKENS}{key_id}/").status_code == 404
