"""Subscriptions: an app asks for a plan of a service, the service's tenant decides, and the other side hears of it.

pending ──approve──► approved ──suspend──► suspended ──resume──► approved
   └──reject──► rejected        └──revoke──► revoked ◄──revoke──┘
Rejected and revoked are final (the app may ask again). Every change is audited in both tenants, bumps the gateway's
configuration version (the data plane enforces subscriptions from its snapshot) and notifies, after commit."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import get_users_with_perms

from apps.access.models import OPEN_SUBSCRIPTION_STATES, App, Subscription, SubscriptionStatus
from apps.access.services.apps import app_require_manage
from apps.catalog.models import ApprovalMode, Lifecycle, Plan, Service
from apps.catalog.selectors import service_get_visible
from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.core.models import Notification
from apps.core.services import audit_record, config_version_bump, notification_send
from apps.tenants.models import Membership, Role

Status = SubscriptionStatus
MAX_DAYS = 3650
AUTO_APPROVED = "auto-approved"


class Event:
    """What a notification is about: a new request (to the approvers) or a decision (to the requester)."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    RESUMED = "resumed"
    REVOKED = "revoked"
    RENEWED = "renewed"


SUBJECTS = {
    Event.REQUESTED: "{tenant} asks to subscribe {app} to {service}",
    Event.APPROVED: "{app} may now call {service}: subscription approved",
    Event.REJECTED: "Subscription of {app} to {service} rejected",
    Event.SUSPENDED: "Subscription of {app} to {service} suspended",
    Event.RESUMED: "{app} may call {service} again: subscription resumed",
    Event.REVOKED: "Subscription of {app} to {service} revoked",
    Event.RENEWED: "Subscription of {app} to {service} renewed",
}
ACTIONS = {  # the audit trail's verbs
    Event.APPROVED: "approve",
    Event.REJECTED: "reject",
    Event.SUSPENDED: "suspend",
    Event.RESUMED: "resume",
    Event.REVOKED: "revoke",
    Event.RENEWED: "renew",
}
CLOSED_LIFECYCLES = {
    Lifecycle.DRAFT: "{service} is a draft: it takes subscriptions once it is published.",
    Lifecycle.DEPRECATED: "{service} is deprecated: it takes no new subscriptions (existing ones keep working).",
    Lifecycle.RETIRED: "{service} is retired: it takes no subscriptions.",
}


@transaction.atomic
def subscription_request(
    *, app: App, service: Service, plan: Plan, purpose: str, actor_membership: Membership
) -> Subscription:
    """The app asks for `plan` of `service`. Auto-approve services approve at once; others wait for an approver.

    Http404 when the app's tenant may not see the service, as if it did not exist."""
    app_require_manage(membership=actor_membership, app=app)
    service_get_visible(tenant=app.tenant, slug=service.slug)
    if service.lifecycle != Lifecycle.PUBLISHED:
        raise ApplicationError(CLOSED_LIFECYCLES[service.lifecycle].format(service=service), field="service")
    if plan.service_id != service.pk:
        raise ApplicationError(f"{plan.name} is not a plan of {service}.", field="plan")
    if not purpose.strip():
        raise ApplicationError("Say what the app needs the service for: the approver decides on it.", field="purpose")
    auto = service.approval_mode == ApprovalMode.AUTO
    subscription = Subscription(
        app=app,
        service=service,
        plan=plan,
        purpose=purpose.strip(),
        requested_by=actor_membership.user,
        status=Status.APPROVED if auto else Status.PENDING,
        decided_at=timezone.now() if auto else None,
        reason=AUTO_APPROVED if auto else "",
    )
    subscription.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            subscription.save()
    except IntegrityError:
        current = Subscription.objects.filter(app=app, service=service, status__in=OPEN_SUBSCRIPTION_STATES).first()
        state = current.get_status_display().lower() if current else "open"
        raise ConflictError(
            f"{app} already has a subscription to {service} ({state}).", field="service", extra={"status": state}
        ) from None
    _record(subscription, "subscription.request", {"plan": plan.slug, "status": [None, subscription.status]})
    _notify_after_commit(subscription, Event.APPROVED if auto else Event.REQUESTED)
    return subscription


@transaction.atomic
def subscription_approve(
    *, subscription: Subscription, actor_membership: Membership, expires_in_days: int | None = None
) -> Subscription:
    """Let the app call the service; time-boxed to `expires_in_days` (1-3650) when given."""
    subscription = _lock_for_decision(subscription, actor_membership)
    if subscription.status == Status.SUSPENDED:
        raise _wrong_state(subscription, "It is suspended: resume it instead of approving it again.")
    _require_state(subscription, (Status.PENDING,), "approved")
    expires_at = None
    if expires_in_days is not None:
        expires_at = timezone.now() + timedelta(days=_valid_days(expires_in_days, "expires_in_days"))
    return _decide(subscription, Event.APPROVED, actor_membership, status=Status.APPROVED, expires_at=expires_at)


@transaction.atomic
def subscription_reject(*, subscription: Subscription, actor_membership: Membership, reason: str) -> Subscription:
    subscription = _lock_for_decision(subscription, actor_membership)
    _require_state(subscription, (Status.PENDING,), "rejected")
    reason = _required_reason(reason, "rejected")
    return _decide(subscription, Event.REJECTED, actor_membership, status=Status.REJECTED, reason=reason)


@transaction.atomic
def subscription_suspend(*, subscription: Subscription, actor_membership: Membership, reason: str) -> Subscription:
    """Cut the app off for now; resume undoes it."""
    subscription = _lock_for_decision(subscription, actor_membership)
    _require_state(subscription, (Status.APPROVED,), "suspended")
    reason = _required_reason(reason, "suspended")
    return _decide(subscription, Event.SUSPENDED, actor_membership, status=Status.SUSPENDED, reason=reason)


@transaction.atomic
def subscription_resume(*, subscription: Subscription, actor_membership: Membership) -> Subscription:
    subscription = _lock_for_decision(subscription, actor_membership)
    _require_state(subscription, (Status.SUSPENDED,), "resumed")
    return _decide(subscription, Event.RESUMED, actor_membership, status=Status.APPROVED, reason="")


@transaction.atomic
def subscription_revoke(*, subscription: Subscription, actor_membership: Membership, reason: str) -> Subscription:
    """End the subscription for good; the app may ask again."""
    subscription = _lock_for_decision(subscription, actor_membership)
    _require_state(subscription, (Status.APPROVED, Status.SUSPENDED), "revoked")
    reason = _required_reason(reason, "revoked")
    return _decide(subscription, Event.REVOKED, actor_membership, status=Status.REVOKED, reason=reason)


@transaction.atomic
def subscription_renew(*, subscription: Subscription, actor_membership: Membership, days: int) -> Subscription:
    """Extend a time-boxed approval by `days`, counted from its expiry or from now, whichever is later."""
    subscription = _lock_for_decision(subscription, actor_membership)
    _require_state(subscription, (Status.APPROVED,), "renewed")
    if subscription.expires_at is None:
        raise _wrong_state(subscription, "It does not expire: there is nothing to renew.")
    start = max(subscription.expires_at, timezone.now())
    expires_at = start + timedelta(days=_valid_days(days, "days"))
    return _decide(subscription, Event.RENEWED, actor_membership, expires_at=expires_at)


def subscriptions_close_for_retired(*, service: Service, actor_membership: Membership | None) -> None:
    """Close the open subscriptions of a service being retired (its retire hook: runs in the retiring transaction).
    Pending ones are rejected, approved and suspended ones revoked, each with the reason, audited and told to its
    requester once the retirement is committed."""
    reason = f"{service} was retired by {service.tenant}: it no longer answers."
    open_ones = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("app__tenant", "service__tenant", "plan", "requested_by")
        .filter(service=service, status__in=OPEN_SUBSCRIPTION_STATES)
        .order_by("pk")
    )
    for subscription in open_ones:
        pending = subscription.status == Status.PENDING
        event, status = (Event.REJECTED, Status.REJECTED) if pending else (Event.REVOKED, Status.REVOKED)
        _decide(subscription, event, actor_membership, status=status, reason=reason)


def subscription_notify(*, subscription: Subscription, event: str) -> list[Notification]:
    """Tell whoever the event concerns, in the app and by e-mail: the service tenant's approvers about a new request,
    the requester about a decision. Runs in subscription_notify_task, after the change is committed."""
    if event == Event.REQUESTED:
        recipients, link = _approvers(subscription.service), reverse("access:approval-list")
    else:
        recipients = [user for user in [subscription.requested_by] if user is not None]
        link = reverse("access:subscription-list")
    names = {"tenant": subscription.app.tenant, "app": subscription.app, "service": subscription.service}
    body = render_to_string("emails/subscription_event.txt", {"subscription": subscription, "event": event})
    return notification_send(users=recipients, subject=SUBJECTS[event].format(**names), body=body.strip(), link=link)


def _approvers(service: Service) -> list:
    """Who may decide on a request: the tenant's owners and admins, and its members appointed reviewers of it."""
    admins = [
        membership.user
        for membership in Membership.objects.filter(tenant_id=service.tenant_id, role__in=[Role.OWNER, Role.ADMIN])
        .select_related("user")
        .order_by("user__username")
    ]
    reviewers = get_users_with_perms(service, only_with_perms_in=["approve_subscription"])
    return admins + list(reviewers.filter(memberships__tenant_id=service.tenant_id))


def _lock_for_decision(subscription: Subscription, membership: Membership) -> Subscription:
    """The subscription, locked (of two concurrent decisions the second sees the first's outcome), once the actor is
    known to be an owner or admin of the service's tenant, or to hold catalog.approve_subscription on the service."""
    service = subscription.service
    may_decide = membership.tenant_id == service.tenant_id and (
        membership.has_role(Role.ADMIN) or membership.user.has_perm("catalog.approve_subscription", service)
    )
    if not may_decide:
        raise NotPermitted(f"Only owners and admins of {service.tenant} (or its appointed reviewers) decide this.")
    return (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("app__tenant", "service__tenant", "plan", "requested_by")
        .get(pk=subscription.pk)
    )


def _wrong_state(subscription: Subscription, explanation: str) -> ConflictError:
    state = subscription.get_status_display().lower()
    return ConflictError(f"This subscription is {state}. {explanation}", extra={"status": subscription.status})


def _require_state(subscription: Subscription, allowed: tuple[str, ...], verb: str) -> None:
    if subscription.status not in allowed:
        which = " or ".join(Status(status).label.lower() for status in allowed)
        raise _wrong_state(subscription, f"Only {which} subscriptions can be {verb}.")


def _valid_days(days: int, field: str) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise ApplicationError(f"Give a number of days from 1 to {MAX_DAYS}.", field=field)
    return days


def _required_reason(reason: str, verb: str) -> str:
    if not reason.strip():
        raise ApplicationError(f"Say why the subscription is {verb}: the requester reads it.", field="reason")
    return reason.strip()


def _decide(subscription: Subscription, event: str, membership: Membership | None, **updates) -> Subscription:
    """Apply a decision: set `updates` (status, reason, expires_at), who decided (None: a trusted caller) and when;
    audit and notify."""
    changes = {name: [getattr(subscription, name), value] for name, value in updates.items()}
    for name, value in updates.items():
        setattr(subscription, name, value)
    subscription.decided_by = membership.user if membership is not None else None
    subscription.decided_at = timezone.now()
    subscription.save()
    _record(subscription, f"subscription.{ACTIONS[event]}", changes)
    _notify_after_commit(subscription, event)
    return subscription


def _record(subscription: Subscription, action: str, changes: dict) -> None:
    """Audit the change in the service's tenant and, when it is another, in the requesting app's tenant too."""
    service, app = subscription.service, subscription.app
    changes = {"app": f"{app.tenant.slug}/{app.slug}", "service": service.slug, **changes}
    for tenant in {service.tenant_id: service.tenant, app.tenant_id: app.tenant}.values():
        audit_record(action=action, obj=subscription, tenant=tenant, changes=changes)
    config_version_bump()


def _notify_after_commit(subscription: Subscription, event: str) -> None:
    from apps.access.tasks import subscription_notify_task

    # robust: a mail server that is down must not turn a committed decision into an error page.
    transaction.on_commit(partial(subscription_notify_task.delay, subscription.pk, event), robust=True)
