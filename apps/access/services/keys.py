"""API keys of apps: the data plane's credentials."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from apps.access.models import API_KEY_KIND, ApiKey, ApiKeyScope, App
from apps.access.services.apps import app_require_manage
from apps.access.services.tokens import token_revoke, validate_expiry
from apps.core.errors import ApplicationError, ConflictError
from apps.core.services import audit_record, config_version_bump
from apps.core.tokens import token_issue
from apps.tenants.models import Membership


def _validate_scopes(scopes: list[str] | None) -> list[str]:
    if scopes is None:
        return list(ApiKeyScope.values)
    unknown = sorted(set(scopes) - set(ApiKeyScope.values))
    if unknown:
        raise ApplicationError(f"Unknown scope(s): {', '.join(unknown)}.", field="scopes")
    if not scopes:
        raise ApplicationError("A key needs at least one scope.", field="scopes")
    return sorted(set(scopes))


@transaction.atomic
def api_key_issue(
    *,
    app: App,
    name: str,
    actor_membership: Membership | None,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key for the app. Returns the key and its plaintext, which is never stored nor shown again.

    `actor_membership` is None only for trusted callers (the create_api_key command)."""
    if actor_membership is not None:
        app_require_manage(membership=actor_membership, app=app)
    if not name.strip():
        raise ApplicationError("Give the key a name.", field="name")
    scopes = _validate_scopes(scopes)
    validate_expiry(expires_at)
    issued = token_issue(API_KEY_KIND)
    key = ApiKey.objects.create(
        tenant=app.tenant,
        app=app,
        name=name.strip(),
        lookup_id=issued.lookup_id,
        pepper_id=issued.pepper_id,
        digest=issued.digest,
        scopes=scopes,
        expires_at=expires_at,
        created_by=actor_membership.user if actor_membership else None,
    )
    audit_record(
        action="api_key.issue",
        obj=key,
        tenant=app.tenant,
        changes={"app": app.slug, "scopes": scopes, "expires_at": expires_at},
    )
    config_version_bump()
    return key, issued.plaintext


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor_membership: Membership) -> ApiKey:
    app_require_manage(membership=actor_membership, app=key.app)
    key = ApiKey.objects.select_for_update().get(pk=key.pk)  # of two concurrent revokes, exactly one succeeds
    if key.revoked_at is not None:
        raise ConflictError("This key is already revoked.")
    return token_revoke(token=key)
