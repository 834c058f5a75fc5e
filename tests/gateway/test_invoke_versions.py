"""Prompt versioning through the management API — create, publish, A/B, rollback, diff — and the next
invocation uses the right version, as the fake upstream sees it."""

from __future__ import annotations

import httpx
import pytest
from rest_framework.test import APIClient

from apps.catalog.models import Service
from apps.prompts.ab import choose_version
from apps.tenants.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.gateway.conftest import refresh_snapshot

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


@pytest.fixture
def admin_api(gateway_setup):
    user = UserFactory(username="prompt-admin")
    MembershipFactory(user=user, tenant=gateway_setup.tenant, role=Role.ADMIN)
    client = APIClient()
    client.force_authenticate(user)
    return client


def call(api, method: str, path: str, data=None, status: int = 200):
    response = getattr(api, method)(f"/api/v1/tenants/acme/{path}", data, format="json")
    assert response.status_code == status, response.content
    refresh_snapshot()
    return response.json() if response.content else None


def invoke(live_gateway, secret, conversation: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {secret}"} | ({"X-Conversation-Id": conversation} if conversation else {})
    response = httpx.post(f"{live_gateway}/api/v1/services/echo-prompt/invoke", json={"text": "hi"}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_publish_ab_rollback_and_diff_steer_the_next_invocation(admin_api, gateway_setup, live_gateway, fake_upstream):
    secret = gateway_setup.secret
    call(
        admin_api,
        "post",
        "prompt-services/",
        {
            "slug": "echo-prompt",
            "name": "Echo prompt",
            "route": "smart",
            "user_template": "one: {{ text }}",
            "variables_schema": SCHEMA,
            "visibility": "private",
            "approval_mode": "auto",
        },
        status=201,
    )
    call(admin_api, "post", "services/echo-prompt/publish/")

    def sent() -> str:
        return fake_upstream.requests[-1].body["messages"][-1]["content"]

    assert invoke(live_gateway, secret)["version"] == 1
    assert sent() == "one: hi"

    call(
        admin_api,
        "post",
        "services/echo-prompt/prompt/versions/",
        {"user_template": "two: {{ text }}", "variables_schema": SCHEMA, "change_note": "shorter"},
        status=201,
    )
    assert invoke(live_gateway, secret)["version"] == 1  # a new version is not live until published

    call(admin_api, "post", "services/echo-prompt/prompt/versions/2/publish/")
    assert invoke(live_gateway, secret)["version"] == 2
    assert sent() == "two: hi"

    diff = call(admin_api, "get", "services/echo-prompt/prompt/diff/?a=1&b=2")
    assert "-one: {{ text }}" in diff["user_template"]
    assert "+two: {{ text }}" in diff["user_template"]

    call(admin_api, "post", "services/echo-prompt/prompt/rollback/", {"version": 1})
    assert invoke(live_gateway, secret)["version"] == 1
    assert sent() == "one: hi"

    call(
        admin_api,
        "put",
        "services/echo-prompt/prompt/ab/",
        {"split": [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}], "sticky_by": "conversation"},
    )
    service_id = Service.objects.get(slug="echo-prompt").pk
    split, seen = [(1, 50), (2, 50)], set()
    for conversation in (f"c{n}" for n in range(20)):
        expected = choose_version(live=1, split=split, sticky_key=f"{service_id}:conversation:{conversation}")
        assert invoke(live_gateway, secret, conversation)["version"] == expected
        assert sent() == ("one: hi" if expected == 1 else "two: hi")
        seen.add(expected)
    assert seen == {1, 2}  # both arms of the split were exercised
