"""Assertions shared by the API tests: what a tenant's rows look like, and what an error answer must say."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from guardian.models import UserObjectPermission

from apps.access.models import ApiKey, App, PersonalAccessToken, Subscription
from apps.analytics.models import Alert, AlertRule
from apps.catalog.models import Plan, Service, Tag
from apps.core.models import AuditEvent, Notification
from apps.prompts.models import PromptTemplate, PromptVersion
from apps.providers.models import Deployment, Provider, ProviderModel, Route
from apps.tenants.models import Membership, Tenant

API = "/api/v1"
PROVIDER_FIELDS = ("slug", "name", "base_url", "credentials_encrypted", "options", "enabled", "last_checked_at")
MODEL_FIELDS = ("name", "upstream_id", "modalities", "context_window", "input_price_per_mtok", "output_price_per_mtok")
ROUTE_FIELDS = ("alias", "description", "enabled", "deadline_seconds", "retries")
DEPLOYMENT_FIELDS = ("route__alias", "model__name", "weight", "priority", "timeout_seconds", "enabled")
PROMPT_FIELDS = ("service__slug", "live_version__number", "ab_split", "sticky_by")
SERVICE_FIELDS = ("slug", "name", "summary", "visibility", "lifecycle", "route__alias", "input_schema", "output_mode")
SUB_FIELDS = ("pk", "app__slug", "plan__slug", "status", "reason", "expires_at", "decided_by")
ALERT_RULE_FIELDS = (
    "pk",
    "name",
    "threshold",
    "enabled",
    "webhook_url",
    "webhook_secret_encrypted",
    "email_recipients",
)
PLAN_FIELDS = ("service__slug", "slug", "name", "requests_per_day", "monthly_budget", "over_budget_route", "is_default")


def tenant_state(tenant: Tenant) -> dict[str, Any]:
    """Every row a request could change in `tenant` (plus tokens, object permissions and the audit trail)."""
    return {
        "tenant": list(Tenant.objects.filter(pk=tenant.pk).values_list("slug", "name")),
        "members": sorted(Membership.objects.filter(tenant=tenant).values_list("user__username", "role")),
        "apps": sorted(App.objects.filter(tenant=tenant).values_list("slug", "name", "description")),
        "keys": sorted(ApiKey.objects.filter(tenant=tenant).values_list("lookup_id", "name", "revoked_at")),
        "tokens": sorted(PersonalAccessToken.objects.values_list("lookup_id", "revoked_at")),
        "perms": sorted(UserObjectPermission.objects.values_list("user__username", "object_pk")),
        "providers": sorted(Provider.objects.filter(tenant=tenant).values_list(*PROVIDER_FIELDS)),
        "models": sorted(ProviderModel.objects.filter(tenant=tenant).values_list(*MODEL_FIELDS)),
        "routes": sorted(Route.objects.filter(tenant=tenant).values_list(*ROUTE_FIELDS)),
        "deployments": sorted(Deployment.objects.filter(route__tenant=tenant).values_list(*DEPLOYMENT_FIELDS)),
        "services": sorted(map(repr, Service.objects.filter(tenant=tenant).values_list(*SERVICE_FIELDS))),
        "service_links": sorted(
            Service.objects.filter(tenant=tenant).values_list("slug", "tags__name", "shared_with__slug"), key=repr
        ),
        "plans": sorted(Plan.objects.filter(service__tenant=tenant).values_list(*PLAN_FIELDS)),
        "prompts": sorted(map(repr, PromptTemplate.objects.filter(service__tenant=tenant).values_list(*PROMPT_FIELDS))),
        "prompt_versions": PromptVersion.objects.filter(template__service__tenant=tenant).count(),
        "subscriptions": sorted(
            map(
                repr,
                Subscription.objects.filter(Q(app__tenant=tenant) | Q(service__tenant=tenant)).values_list(*SUB_FIELDS),
            )
        ),
        "notifications": sorted(
            map(repr, Notification.objects.filter(user__memberships__tenant=tenant).values_list("pk", "read_at"))
        ),
        "alert_rules": sorted(map(repr, AlertRule.objects.filter(tenant=tenant).values_list(*ALERT_RULE_FIELDS))),
        "alerts": sorted(Alert.objects.filter(tenant=tenant).values_list("pk", "resolved_at", "message")),
        "audit": AuditEvent.objects.count(),
    }


def row_counts() -> dict[str, int]:
    models = [
        Tenant,
        Membership,
        App,
        ApiKey,
        PersonalAccessToken,
        UserObjectPermission,
        AuditEvent,
        Provider,
        ProviderModel,
        Route,
        Deployment,
        Service,
        Plan,
        Tag,
        Subscription,
        Notification,
    ]
    return {model.__name__: model.objects.count() for model in models}


def assert_field_error(response, field: str, statuses: tuple[int, ...] = (400,)) -> dict[str, Any]:
    """A refusal about one input: the expected status, a message, and the field named under `errors`."""
    assert response.status_code in statuses, (response.status_code, response.content)
    body = response.json()
    assert isinstance(body.get("message"), str)
    assert body["message"]
    assert field in body.get("errors", {}), body
    return body
