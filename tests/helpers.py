"""Assertions shared by the API tests: what a tenant's rows look like, and what an error answer must say."""

from __future__ import annotations

from typing import Any

from guardian.models import UserObjectPermission

from apps.access.models import ApiKey, App, PersonalAccessToken
from apps.core.models import AuditEvent
from apps.tenants.models import Membership, Tenant

API = "/api/v1"


def tenant_state(tenant: Tenant) -> dict[str, Any]:
    """Every row a request could change in `tenant` (plus tokens, object permissions and the audit trail)."""
    return {
        "tenant": list(Tenant.objects.filter(pk=tenant.pk).values_list("slug", "name")),
        "members": sorted(Membership.objects.filter(tenant=tenant).values_list("user__username", "role")),
        "apps": sorted(App.objects.filter(tenant=tenant).values_list("slug", "name", "description")),
        "keys": sorted(ApiKey.objects.filter(tenant=tenant).values_list("lookup_id", "name", "revoked_at")),
        "tokens": sorted(PersonalAccessToken.objects.values_list("lookup_id", "revoked_at")),
        "perms": sorted(UserObjectPermission.objects.values_list("user__username", "object_pk")),
        "audit": AuditEvent.objects.count(),
    }


def row_counts() -> dict[str, int]:
    models = [Tenant, Membership, App, ApiKey, PersonalAccessToken, UserObjectPermission, AuditEvent]
    return {model.__name__: model.objects.count() for model in models}


def assert_field_error(response, field: str, statuses: tuple[int, ...] = (400,)) -> dict[str, Any]:
    """A refusal about one input: the expected status, a message, and the field named under `errors`."""
    assert response.status_code in statuses, (response.status_code, response.content)
    body = response.json()
    assert isinstance(body.get("message"), str)
    assert body["message"]
    assert field in body.get("errors", {}), body
    return body
