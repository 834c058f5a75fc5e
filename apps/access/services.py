from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, get_users_with_perms, remove_perm

from apps.access.models import (
    API_KEY_KIND,
    PERSONAL_TOKEN_KIND,
    ApiKey,
    ApiKeyScope,
    App,
    HashedToken,
    PersonalAccessToken,
)
from apps.access.selectors import app_can_manage
from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.core.services import audit_record, config_version_bump, model_diff
from apps.core.tokens import token_issue
from apps.tenants.models import Membership, Role, Tenant


def _require_manage(*, membership: Membership, app: App) -> None:
    if not app_can_manage(membership=membership, app=app):
        raise NotPermitted("You may not manage this app: ask a tenant admin to make you one of its managers.")


@transaction.atomic
def app_create(*, tenant: Tenant, actor_membership: Membership, slug: str, name: str, description: str = "") -> App:
    """A new app; its creator may manage it (guardian permission), as may the tenant's admins."""
    if not actor_membership.has_role(Role.DEVELOPER):
        raise NotPermitted("Viewers cannot create apps.")
    app = App(tenant=tenant, slug=slug, name=name, description=description, created_by=actor_membership.user)
    app.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            app.save()
    except IntegrityError:
        raise ConflictError(f"An app with slug {slug!r} already exists in {tenant}.", field="slug") from None
    assign_perm("access.manage_app", actor_membership.user, app)
    audit_record(action="app.create", obj=app, tenant=tenant, changes={"slug": slug, "name": name})
    return app


@transaction.atomic
def app_update(*, app: App, actor_membership: Membership, data: dict) -> App:
    _require_manage(membership=actor_membership, app=app)
    changes = model_diff(app, {k: v for k, v in data.items() if k in {"name", "description"}})
    for field, (_, new) in changes.items():
        setattr(app, field, new)
    if changes:
        app.full_clean(validate_constraints=False)
        app.save()
        audit_record(action="app.update", obj=app, tenant=app.tenant, changes=changes)
    return app


@transaction.atomic
def app_delete(*, app: App, actor_membership: Membership) -> None:
    """Delete the app; its keys die with it."""
    _require_manage(membership=actor_membership, app=app)
    audit_record(action="app.delete", obj=app, tenant=app.tenant, changes={"keys": [k.prefix for k in app.keys.all()]})
    for user in get_users_with_perms(app, only_with_perms_in=["manage_app"]):
        remove_perm("access.manage_app", user, app)
    app.delete()
    config_version_bump()


@transaction.atomic
def app_manager_grant(*, app: App, username: str, actor_membership: Membership) -> None:
    """Let one more developer of the tenant manage this app (a per-object right)."""
    if not actor_membership.has_role(Role.ADMIN):
        raise NotPermitted("Only owners and admins grant app management.")
    membership = Membership.objects.filter(tenant=app.tenant, user__username=username).select_related("user").first()
    if membership is None:
        raise ApplicationError(f"{username!r} is not a member of {app.tenant}.", field="username")
    if not membership.has_role(Role.DEVELOPER):
        raise ApplicationError(f"{username} is a viewer: make them a developer first.", field="username")
    assign_perm("access.manage_app", membership.user, app)
    audit_record(action="app.grant_manager", obj=app, tenant=app.tenant, changes={"manager": [None, username]})


@transaction.atomic
def app_manager_revoke(*, app: App, username: str, actor_membership: Membership) -> None:
    if not actor_membership.has_role(Role.ADMIN):
        raise NotPermitted("Only owners and admins revoke app management.")
    user = get_user_model().objects.filter(username=username).first()
    if user is not None:
        remove_perm("access.manage_app", user, app)
        audit_record(action="app.revoke_manager", obj=app, tenant=app.tenant, changes={"manager": [username, None]})


def _validate_scopes(scopes: list[str] | None) -> list[str]:
    if scopes is None:
        return list(ApiKeyScope.values)
    unknown = sorted(set(scopes) - set(ApiKeyScope.values))
    if unknown:
        raise ApplicationError(f"Unknown scope(s): {', '.join(unknown)}.", field="scopes")
    if not scopes:
        raise ApplicationError("A key needs at least one scope.", field="scopes")
    return sorted(set(scopes))


def _validate_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError("The expiry must be in the future.", field="expires_at")


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
        _require_manage(membership=actor_membership, app=app)
    if not name.strip():
        raise ApplicationError("Give the key a name.", field="name")
    scopes = _validate_scopes(scopes)
    _validate_expiry(expires_at)
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
def token_revoke(*, token: HashedToken) -> HashedToken:
    """Revoke an API key or personal token (idempotent for the admin's bulk action); audited."""
    token = type(token).objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit_record(
            action=f"{token.audit_name}.revoke",
            obj=token,
            tenant=getattr(token, "tenant", None),
            changes={"revoked_at": [None, token.revoked_at]},
        )
        if isinstance(token, ApiKey):
            config_version_bump()  # the data plane drops the key at its next snapshot poll
    return token


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor_membership: Membership) -> ApiKey:
    _require_manage(membership=actor_membership, app=key.app)
    key = ApiKey.objects.select_for_update().get(pk=key.pk)  # of two concurrent revokes, exactly one succeeds
    if key.revoked_at is not None:
        raise ConflictError("This key is already revoked.")
    return token_revoke(token=key)


@transaction.atomic
def personal_token_issue(*, user, name: str, expires_at: datetime | None = None) -> tuple[PersonalAccessToken, str]:
    if not name.strip():
        raise ApplicationError("Give the token a name.", field="name")
    _validate_expiry(expires_at)
    issued = token_issue(PERSONAL_TOKEN_KIND)
    token = PersonalAccessToken.objects.create(
        user=user,
        name=name.strip(),
        lookup_id=issued.lookup_id,
        pepper_id=issued.pepper_id,
        digest=issued.digest,
        expires_at=expires_at,
    )
    audit_record(action="personal_token.issue", obj=token, changes={"expires_at": expires_at})
    return token, issued.plaintext
