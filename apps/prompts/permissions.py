"""Who may change a prompt: the one rule the pages, the API and the services ask.

A tenant role gives it on every prompt of the tenant: developers write drafts and test cases, run test runs and the
playground; owners and admins also decide which version serves traffic (publish, A/B weights, rollback). The
django-guardian permission catalog.change_prompt on one service gives a member of that service's tenant, whatever
their role, all of it on that service's prompt and nothing else (a product person who is a viewer of the tenant).
Granted and revoked by the service's managers (apps.catalog.services.service_prompt_editor_grant). As with
catalog.approve_subscription, Django's has_perm is true for an active superuser."""

from __future__ import annotations

from apps.catalog.models import Service
from apps.catalog.services import CHANGE_PROMPT
from apps.core.errors import NotPermitted
from apps.tenants.models import Membership, Role

EDIT_ROLE = Role.DEVELOPER
PUBLISH_ROLE = Role.ADMIN


def holds_prompt_right(*, membership: Membership, service: Service) -> bool:
    """The per-service right, which counts only for a member of the service's tenant."""
    return membership.tenant_id == service.tenant_id and membership.user.has_perm(CHANGE_PROMPT, service)


def _may(membership: Membership, service: Service, role: str) -> bool:
    if membership.tenant_id != service.tenant_id:
        return False
    return membership.has_role(role) or holds_prompt_right(membership=membership, service=service)


def may_edit_prompt(*, membership: Membership, service: Service) -> bool:
    """Save drafts, preview, write test cases, start test runs, run the playground."""
    return _may(membership, service, EDIT_ROLE)


def may_publish_prompt(*, membership: Membership, service: Service) -> bool:
    """Decide which version serves traffic: publish, A/B weights, rollback."""
    return _may(membership, service, PUBLISH_ROLE)


def prompt_refusal(*, membership: Membership, service: Service, publish: bool, subject: str = "This page") -> str:
    """Why `subject` is refused, and what to ask for (the role, or the right on this one service)."""
    role = Role(PUBLISH_ROLE if publish else EDIT_ROLE).label.lower()
    tenant = service.tenant
    return (
        f"{subject} needs the {role} role in {tenant} or the right to change the prompt of {service}; yours is "
        f"{membership.get_role_display().lower()}. Ask an owner or admin of {tenant} for the {role} role, or for "
        f"the prompt right on {service} (they grant it on the service's manage page)."
    )


def require_edit_prompt(*, membership: Membership | None, service: Service) -> None:
    """For services: NotPermitted (403) unless the actor may edit; None is a trusted caller (seed, gitops)."""
    if membership is not None and not may_edit_prompt(membership=membership, service=service):
        subject = f"Changing the prompt of {service}"
        raise NotPermitted(prompt_refusal(membership=membership, service=service, publish=False, subject=subject))


def require_publish_prompt(*, membership: Membership | None, service: Service) -> None:
    """For services: NotPermitted (403) unless the actor may decide what serves traffic; None is trusted."""
    if membership is not None and not may_publish_prompt(membership=membership, service=service):
        subject = f"Deciding which version of {service}'s prompt serves traffic"
        raise NotPermitted(prompt_refusal(membership=membership, service=service, publish=True, subject=subject))
