from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.core.services import audit_record, config_version_bump, model_diff
from apps.tenants.models import Membership, Role, Tenant


@transaction.atomic
def tenant_create(*, slug: str, name: str, owner: AbstractBaseUser) -> Tenant:
    """A new tenant, with its creator as owner."""
    tenant = Tenant(slug=slug, name=name)
    tenant.full_clean()
    try:
        with transaction.atomic():
            tenant.save()
    except IntegrityError:
        raise ConflictError("A tenant with this slug already exists.", field="slug") from None
    audit_record(action="tenant.create", obj=tenant, tenant=tenant, changes={"slug": slug, "name": name})
    membership = Membership.objects.create(user=owner, tenant=tenant, role=Role.OWNER)
    audit_record(action="membership.add", obj=membership, tenant=tenant, changes={"role": [None, Role.OWNER]})
    return tenant


def _check_role_change(*, actor_membership: Membership, old_role: str | None, new_role: str | None) -> None:
    """Admins manage developers and viewers; only owners grant, change or take away the owner role."""
    touches_owner = Role.OWNER in (old_role, new_role)
    if touches_owner and not actor_membership.has_role(Role.OWNER):
        raise NotPermitted("Only an owner can grant or remove the owner role.")
    if not actor_membership.has_role(Role.ADMIN):
        raise NotPermitted("Only owners and admins manage members.")


def _check_not_last_owner(membership: Membership) -> None:
    if membership.role == Role.OWNER and not (
        Membership.objects.filter(tenant=membership.tenant, role=Role.OWNER).exclude(pk=membership.pk).exists()
    ):
        raise ApplicationError("A tenant must keep at least one owner.", field="role")


@transaction.atomic
def membership_add(*, tenant: Tenant, username: str, role: str, actor_membership: Membership) -> Membership:
    """Invite an existing user into the tenant with a role."""
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", field="role")
    _check_role_change(actor_membership=actor_membership, old_role=None, new_role=role)
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ApplicationError(f"No active user named {username!r}.", field="username")
    if Membership.objects.filter(tenant=tenant, user=user).exists():
        raise ConflictError(f"{username} is already a member of {tenant}.", field="username")
    membership = Membership.objects.create(tenant=tenant, user=user, role=role)
    audit_record(action="membership.add", obj=membership, tenant=tenant, changes={"role": [None, role]})
    return membership


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str, actor_membership: Membership) -> Membership:
    if role not in Role.values:
        raise ApplicationError(f"Unknown role {role!r}.", field="role")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    # Before the no-op shortcut, so "setting" an owner to owner is refused to an admin like any owner-role change.
    _check_role_change(actor_membership=actor_membership, old_role=membership.role, new_role=role)
    if membership.role == role:
        return membership
    _check_not_last_owner(membership)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    audit_record(
        action="membership.change_role", obj=membership, tenant=membership.tenant, changes={"role": [old, role]}
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor_membership: Membership) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _check_role_change(actor_membership=actor_membership, old_role=membership.role, new_role=None)
    _check_not_last_owner(membership)
    audit_record(
        action="membership.remove", obj=membership, tenant=membership.tenant, changes={"role": [membership.role, None]}
    )
    membership.delete()


@transaction.atomic
def tenant_update(
    *,
    tenant: Tenant,
    actor_membership: Membership,
    name: str | None = None,
    require_internal_subscriptions: bool | None = None,
    limits_fail_open: bool | None = None,
) -> Tenant:
    """Change the tenant's settings (None: leave as is); audited. Admins rename it and choose whether calls are
    served unlimited or refused while the limit store is down; whether its own apps need a subscription to its own
    services is the owners' call. The gateway applies both at its next snapshot."""
    if not actor_membership.has_role(Role.ADMIN):
        raise NotPermitted("Only owners and admins change the tenant's settings.")
    data = {
        "name": name,
        "require_internal_subscriptions": require_internal_subscriptions,
        "limits_fail_open": limits_fail_open,
    }
    changes = model_diff(tenant, {field: value for field, value in data.items() if value is not None})
    if "require_internal_subscriptions" in changes and not actor_membership.has_role(Role.OWNER):
        raise NotPermitted(
            "Only an owner decides whether the tenant's apps need subscriptions to its own services.",
            field="require_internal_subscriptions",
        )
    if changes:
        for field, (_, value) in changes.items():
            setattr(tenant, field, value)
        tenant.full_clean()
        tenant.save(update_fields=[*changes, "updated_at"])
        audit_record(action="tenant.update", obj=tenant, tenant=tenant, changes=changes)
        if changes.keys() & {"require_internal_subscriptions", "limits_fail_open"}:
            config_version_bump()  # the data plane reads these rules from its configuration snapshot
    return tenant
