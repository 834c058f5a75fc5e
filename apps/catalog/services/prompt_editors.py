"""The per-service prompt right: django-guardian's catalog.change_prompt on one prompt service lets a member of its
tenant, whatever their role, edit and publish that service's prompt (apps.prompts.permissions reads it). The
service's managers grant it to a member and revoke it; each change is audited on the service. It changes nothing
the data plane sees, so the configuration version stays."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from guardian.shortcuts import assign_perm, get_user_perms, remove_perm

from apps.catalog.models import Service, ServiceKind
from apps.catalog.services.base import require_admin
from apps.core.errors import ApplicationError, ConflictError
from apps.core.services import audit_record
from apps.tenants.models import Membership

CHANGE_PROMPT = "catalog.change_prompt"  # declared in Service.Meta.permissions


def _holds(user, service: Service) -> bool:
    # The user's own grant, not has_perm: that one is true for any superuser.
    return CHANGE_PROMPT.partition(".")[2] in get_user_perms(user, service)


@transaction.atomic
def service_prompt_editor_grant(*, service: Service, username: str, actor_membership: Membership | None) -> Membership:
    """Let a member of the service's tenant edit and publish its prompt; returns their membership."""
    require_admin(actor_membership, service.tenant)
    if service.kind != ServiceKind.PROMPT:
        raise ApplicationError(f"{service} is a model API: it has no prompt to edit.", field="username")
    membership = (
        Membership.objects.filter(tenant_id=service.tenant_id, user__username=username).select_related("user").first()
    )
    if membership is None:
        raise ApplicationError(f"{username!r} is not a member of {service.tenant}.", field="username")
    if _holds(membership.user, service):
        raise ConflictError(f"{username} may already change the prompt of {service}.", field="username")
    assign_perm(CHANGE_PROMPT, membership.user, service)
    audit_record(
        action="service.prompt_editor_grant",
        obj=service,
        tenant=service.tenant,
        changes={"prompt_editor": [None, username]},
    )
    return membership


@transaction.atomic
def service_prompt_editor_revoke(*, service: Service, username: str, actor_membership: Membership | None) -> None:
    """Take the prompt right on the service away (from a former member too)."""
    require_admin(actor_membership, service.tenant)
    user = get_user_model().objects.filter(username=username).first()
    if user is None or not _holds(user, service):
        raise ApplicationError(f"{username!r} holds no prompt right on {service}.", field="username")
    remove_perm(CHANGE_PROMPT, user, service)
    audit_record(
        action="service.prompt_editor_revoke",
        obj=service,
        tenant=service.tenant,
        changes={"prompt_editor": [username, None]},
    )
