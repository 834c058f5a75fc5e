"""Credentials on the management API: a personal access token cannot mint tokens (a leaked one would outlive its
own revocation through its offspring), and an app key is told it belongs to the gateway."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.access.models import PersonalAccessToken
from apps.access.services import personal_token_issue, token_revoke
from tests.helpers import API

pytestmark = pytest.mark.django_db

TOKENS = f"{API}/me/tokens/"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_a_token_cannot_create_a_token(owner):
    token, secret = personal_token_issue(user=owner, name="leaked")
    response = bearer(secret).post(TOKENS, {"name": "persistence"}, format="json")
    assert response.status_code == 403
    assert "A personal access token cannot create tokens" in response.json()["message"]
    assert list(PersonalAccessToken.objects.values_list("name", flat=True)) == ["leaked"]
    token_revoke(token=token)
    assert bearer(secret).get(TOKENS).status_code == 401  # revoked, and nothing it made survives it


def test_a_token_still_reads_and_revokes_tokens(owner):
    """Cleaning up with a token stays possible: listing and revoking need no session."""
    _, secret = personal_token_issue(user=owner, name="ci")
    other, _ = personal_token_issue(user=owner, name="old")
    client = bearer(secret)
    assert {row["name"] for row in client.get(TOKENS).json()["results"]} == {"ci", "old"}
    assert client.delete(f"{TOKENS}{other.pk}/").status_code == 204


def test_a_logged_in_session_creates_tokens(client_for, owner):
    response = client_for(owner).post(TOKENS, {"name": "from the browser"}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["secret"].startswith("gwp_")


@pytest.mark.parametrize("path", ["/tenants/", "/me/tokens/", "/tenants/acme/apps/"])
def test_an_app_key_on_the_management_api_is_told_what_it_is_for(issued_key, path):
    response = bearer(issued_key[1]).get(f"{API}{path}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    message = response.json()["message"]
    assert message.startswith("App keys (gwk_…) are for the gateway")
    assert "personal access token (gwp_…)" in message


def test_an_app_key_still_reads_the_catalog(issued_key):
    assert bearer(issued_key[1]).get(f"{API}/services/").status_code == 200
