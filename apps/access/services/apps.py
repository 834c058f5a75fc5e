"""Apps of a tenant and who may manage them."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from guardian.shortcuts import assign_perm, get_users_with_perms, remove_perm

from apps.access.models import App
from apps.access.selectors import app_can_manage
from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.core.services import audit_record, config_version_bump, model_diff
from apps.tenants.models import Membership, Role, Tenant


def app_require_manage(*, membership: Membership, app: App) -> None:
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
    app_require_manage(membership=actor_membership, app=app)
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
    app_require_manage(membership=actor_membership, app=app)
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
