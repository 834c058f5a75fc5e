"""Every endpoint and method of tenant A ("acme"), called by someone who must not reach it.

Mallory owns tenant B ("globex") and nothing else: she gets 404 everywhere in A (existence does not leak) and
changes nothing. Anonymous callers and dead personal tokens (of A's owner) get 401 and change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from apps.access.models import PersonalAccessToken, SubscriptionStatus
from apps.access.services import personal_token_issue, token_revoke
from apps.analytics.models import Alert
from apps.core.models import Notification
from apps.tenants.models import Role
from tests.factories import (
    AlertRuleFactory,
    CallLogFactory,
    PlanFactory,
    PromptTemplateFactory,
    PromptVersionFactory,
    SubscriptionFactory,
)
from tests.helpers import API, tenant_state

pytestmark = pytest.mark.django_db

A = f"{API}/tenants/acme"
B = f"{API}/tenants/globex"

PROMPT_A = f"{A}/services/summarize/prompt"
EVIL_PROMPT = {
    "route": "smart",
    "user_template": "Pwned {{ text }}",
    "variables_schema": {"type": "object", "properties": {"text": {"type": "string"}}},
}

ASK_SUMMARIZE = {"app": "billing-bot", "service": "summarize", "plan": "standard", "purpose": "pwned"}
EVIL_ALERT_RULE = {"name": "evil", "metric": "error_rate", "threshold": "0", "webhook_url": "https://evil.example"}

# (id, method, path, body); {member}, {key}, {token}, {model}, {deployment}, {subscription}, {notification},
# {alert_rule}, {alert} are ids of tenant A's rows; {call} is the request id of one of its calls.
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
    ("provider-list", "get", f"{A}/providers/", None),
    ("provider-create", "post", f"{A}/providers/", {"slug": "evil", "name": "Evil", "kind": "echo"}),
    ("provider-retrieve", "get", f"{A}/providers/echo/", None),
    ("provider-update", "patch", f"{A}/providers/echo/", {"name": "Pwned", "api_key": "sk-evil", "enabled": False}),
    ("provider-delete", "delete", f"{A}/providers/echo/", None),
    ("provider-test", "post", f"{A}/providers/echo/test/", None),
    ("provider-sync-models", "post", f"{A}/providers/echo/sync-models/", None),
    ("model-list", "get", f"{A}/models/", None),
    ("model-create", "post", f"{A}/models/", {"provider": "echo", "name": "evil", "upstream_id": "evil"}),
    ("model-retrieve", "get", f"{A}/models/{{model}}/", None),
    ("model-update", "patch", f"{A}/models/{{model}}/", {"input_price_per_mtok": "99"}),
    ("model-delete", "delete", f"{A}/models/{{model}}/", None),
    ("route-list", "get", f"{A}/routes/", None),
    ("route-create", "post", f"{A}/routes/", {"alias": "evil"}),
    ("route-retrieve", "get", f"{A}/routes/smart/", None),
    ("route-update", "patch", f"{A}/routes/smart/", {"enabled": False}),
    ("route-delete", "delete", f"{A}/routes/smart/", None),
    ("deployment-create", "post", f"{A}/routes/smart/deployments/", {"model": "echo", "weight": 5}),
    ("deployment-update", "patch", f"{A}/routes/smart/deployments/{{deployment}}/", {"weight": 999}),
    ("deployment-delete", "delete", f"{A}/routes/smart/deployments/{{deployment}}/", None),
    ("prompt-retrieve", "get", f"{PROMPT_A}/", None),
    ("prompt-rollback", "post", f"{PROMPT_A}/rollback/", {"version": 1}),
    ("prompt-ab", "put", f"{PROMPT_A}/ab/", {"split": [{"version": 1, "weight": 1}, {"version": 2, "weight": 9}]}),
    ("prompt-diff", "get", f"{PROMPT_A}/diff/?a=1&b=2", None),
    ("prompt-version-list", "get", f"{PROMPT_A}/versions/", None),
    ("prompt-version-create", "post", f"{PROMPT_A}/versions/", EVIL_PROMPT),
    ("prompt-version-retrieve", "get", f"{PROMPT_A}/versions/1/", None),
    ("prompt-version-publish", "post", f"{PROMPT_A}/versions/2/publish/", None),
    ("prompt-service-create", "post", f"{A}/prompt-services/", {"slug": "evil", "name": "Evil", **EVIL_PROMPT}),
    ("subscription-list", "get", f"{A}/subscriptions/", None),
    ("subscription-create", "post", f"{A}/subscriptions/", ASK_SUMMARIZE),
    ("subscription-retrieve", "get", f"{A}/subscriptions/{{subscription}}/", None),
    ("approval-list", "get", f"{A}/approvals/?status=approved", None),
    ("approval-retrieve", "get", f"{A}/approvals/{{subscription}}/", None),
    ("approval-approve", "post", f"{A}/approvals/{{subscription}}/approve/", {"expires_in_days": 1}),
    ("approval-reject", "post", f"{A}/approvals/{{subscription}}/reject/", {"reason": "pwned"}),
    ("approval-suspend", "post", f"{A}/approvals/{{subscription}}/suspend/", {"reason": "pwned"}),
    ("approval-resume", "post", f"{A}/approvals/{{subscription}}/resume/", None),
    ("approval-revoke", "post", f"{A}/approvals/{{subscription}}/revoke/", {"reason": "pwned"}),
    ("approval-renew", "post", f"{A}/approvals/{{subscription}}/renew/", {"days": 1}),
    ("notification-read", "post", f"{API}/me/notifications/{{notification}}/read/", None),
    ("service-list", "get", f"{A}/services/", None),
    ("service-create", "post", f"{A}/services/", {"slug": "evil", "name": "Evil", "kind": "model", "route": "smart"}),
    ("service-retrieve", "get", f"{A}/services/summarize/", None),
    ("service-update", "patch", f"{A}/services/summarize/", {"name": "Pwned", "visibility": "public"}),
    ("service-publish", "post", f"{A}/services/summarize/publish/", None),
    ("service-deprecate", "post", f"{A}/services/summarize/deprecate/", None),
    ("service-retire", "post", f"{A}/services/summarize/retire/", None),
    ("service-share", "post", f"{A}/services/summarize/share/", {"tenants": ["globex"]}),
    ("plan-list", "get", f"{A}/services/summarize/plans/", None),
    ("plan-create", "post", f"{A}/services/summarize/plans/", {"slug": "evil", "name": "Evil"}),
    ("plan-retrieve", "get", f"{A}/services/summarize/plans/standard/", None),
    ("plan-update", "patch", f"{A}/services/summarize/plans/standard/", {"requests_per_day": 1}),
    ("plan-delete", "delete", f"{A}/services/summarize/plans/standard/", None),
    ("alert-rule-list", "get", f"{A}/analytics/alert-rules/", None),
    ("alert-rule-create", "post", f"{A}/analytics/alert-rules/", EVIL_ALERT_RULE),
    ("alert-rule-retrieve", "get", f"{A}/analytics/alert-rules/{{alert_rule}}/", None),
    (
        "alert-rule-update",
        "patch",
        f"{A}/analytics/alert-rules/{{alert_rule}}/",
        {"webhook_url": "https://evil.example"},
    ),
    ("alert-rule-delete", "delete", f"{A}/analytics/alert-rules/{{alert_rule}}/", None),
    ("alert-rule-rotate-secret", "post", f"{A}/analytics/alert-rules/{{alert_rule}}/rotate-secret/", None),
    ("alert-rule-test", "post", f"{A}/analytics/alert-rules/{{alert_rule}}/test/", None),
    ("alert-list", "get", f"{A}/analytics/alerts/", None),
    ("alert-retrieve", "get", f"{A}/analytics/alerts/{{alert}}/", None),
    ("analytics-rollups", "get", f"{A}/analytics/rollups/", None),
    ("analytics-logs", "get", f"{A}/analytics/logs/", None),
    ("analytics-log-retrieve", "get", f"{A}/analytics/logs/{{call}}/", None),
    # The catalog, where A's draft service does not exist for Mallory.
    ("catalog-retrieve", "get", f"{API}/services/summarize/", None),
    ("catalog-openapi", "get", f"{API}/services/summarize/openapi.json", None),
    # A's rows reached through B's URLs, where Mallory is an owner: the row ids must not cross tenants.
    ("via-b-member-retrieve", "get", f"{B}/members/{{member}}/", None),
    ("via-b-member-update", "patch", f"{B}/members/{{member}}/", {"role": "viewer"}),
    ("via-b-member-delete", "delete", f"{B}/members/{{member}}/", None),
    ("via-b-app-retrieve", "get", f"{B}/apps/billing-bot/", None),
    ("via-b-app-delete", "delete", f"{B}/apps/billing-bot/", None),
    ("via-b-key-retrieve", "get", f"{B}/apps/globex-bot/keys/{{key}}/", None),
    ("via-b-key-revoke", "post", f"{B}/apps/globex-bot/keys/{{key}}/revoke/", None),
    ("via-b-model-retrieve", "get", f"{B}/models/{{model}}/", None),
    ("via-b-model-update", "patch", f"{B}/models/{{model}}/", {"input_price_per_mtok": "99"}),
    ("via-b-model-delete", "delete", f"{B}/models/{{model}}/", None),
    ("via-b-deployment-update", "patch", f"{B}/routes/globex-smart/deployments/{{deployment}}/", {"weight": 999}),
    ("via-b-deployment-delete", "delete", f"{B}/routes/globex-smart/deployments/{{deployment}}/", None),
    ("via-b-prompt-retrieve", "get", f"{B}/services/summarize/prompt/", None),
    ("via-b-prompt-rollback", "post", f"{B}/services/summarize/prompt/rollback/", {"version": 1}),
    ("via-b-prompt-version-create", "post", f"{B}/services/summarize/prompt/versions/", EVIL_PROMPT),
    ("via-b-prompt-version-publish", "post", f"{B}/services/summarize/prompt/versions/2/publish/", None),
    ("via-b-subscription-create", "post", f"{B}/subscriptions/", {**ASK_SUMMARIZE, "app": "globex-bot"}),
    ("via-b-subscription-retrieve", "get", f"{B}/subscriptions/{{subscription}}/", None),
    ("via-b-approval-retrieve", "get", f"{B}/approvals/{{subscription}}/", None),
    ("via-b-approval-revoke", "post", f"{B}/approvals/{{subscription}}/revoke/", {"reason": "pwned"}),
    ("via-b-service-retrieve", "get", f"{B}/services/summarize/", None),
    ("via-b-service-update", "patch", f"{B}/services/summarize/", {"name": "Pwned"}),
    ("via-b-service-publish", "post", f"{B}/services/summarize/publish/", None),
    ("via-b-service-share", "post", f"{B}/services/summarize/share/", {"tenants": ["globex"]}),
    ("via-b-plan-retrieve", "get", f"{B}/services/summarize/plans/standard/", None),
    ("via-b-plan-update", "patch", f"{B}/services/summarize/plans/standard/", {"requests_per_day": 1}),
    ("via-b-plan-delete", "delete", f"{B}/services/summarize/plans/standard/", None),
    ("via-b-alert-rule-retrieve", "get", f"{B}/analytics/alert-rules/{{alert_rule}}/", None),
    ("via-b-alert-rule-update", "patch", f"{B}/analytics/alert-rules/{{alert_rule}}/", {"enabled": False}),
    ("via-b-alert-rule-delete", "delete", f"{B}/analytics/alert-rules/{{alert_rule}}/", None),
    ("via-b-alert-rule-rotate-secret", "post", f"{B}/analytics/alert-rules/{{alert_rule}}/rotate-secret/", None),
    ("via-b-alert-retrieve", "get", f"{B}/analytics/alerts/{{alert}}/", None),
    ("via-b-analytics-log-retrieve", "get", f"{B}/analytics/logs/{{call}}/", None),
]
ENDPOINT_PARAMS = [pytest.param(method, path, body, id=name) for name, method, path, body in ENDPOINTS]


@pytest.fixture
def world(tenant, members, app, other_app, issued_key, mallory, route, other_route):
    """Tenant A fully populated (a key, a granted app manager, an owner's token, a provider with a model deployed on
    a route) next to Mallory's tenant B (with a route of its own)."""
    assign_perm("access.manage_app", members[Role.DEVELOPER].user, app)
    token, _ = personal_token_issue(user=members[Role.OWNER].user, name="ci")
    deployment = route.deployments.get()
    prompt = PromptTemplateFactory(service__tenant=tenant, service__slug="summarize", service__route=route)
    PromptVersionFactory(template=prompt)  # version 2, not live
    plan = PlanFactory(service=prompt.service, slug="standard")
    subscription = SubscriptionFactory(app=app, plan=plan, status=SubscriptionStatus.APPROVED)
    notification = Notification.objects.create(user=members[Role.OWNER].user, subject="Approved")
    alert_rule = AlertRuleFactory(tenant=tenant, webhook_url="https://hooks.acme.example/alerts")
    alert = Alert.objects.create(rule=alert_rule, tenant=tenant, fired_at=timezone.now(), value=1, message="firing")
    call = CallLogFactory(tenant_id=tenant.pk, app_id=app.pk, key_prefix=issued_key[0].prefix)
    return {
        "member": members[Role.ADMIN].pk,
        "key": issued_key[0].pk,
        "token": token.pk,
        "model": deployment.model_id,
        "deployment": deployment.pk,
        "subscription": subscription.pk,
        "notification": notification.pk,
        "alert_rule": alert_rule.pk,
        "alert": alert.pk,
        "call": call.request_id,
    }


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
    for suffix in [
        "/",
        "/members/",
        "/apps/",
        "/audit/",
        "/providers/",
        "/models/",
        "/routes/",
        "/routes/smart/",
        "/services/",
        "/services/summarize/",
        "/services/summarize/plans/",
        "/services/summarize/prompt/",
        "/subscriptions/",
        "/approvals/",
        "/analytics/alert-rules/",
        "/analytics/alerts/",
        "/analytics/rollups/",
        "/analytics/logs/",
    ]:
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
