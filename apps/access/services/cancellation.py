"""The app's side ends a subscription: it withdraws a pending request, or unsubscribes from an approved (or
suspended) one. Either way the subscription is cancelled, which is final (the app may ask again).

pending ──cancel──► cancelled ◄──unsubscribe── approved / suspended

Whoever manages the app decides this, as for a request. Audited in both tenants and announced to the gateway like
the approvers' decisions (apps/access/services/subscriptions.py), so an unsubscribed app is refused within a second."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.access.models import Subscription, SubscriptionStatus
from apps.access.services.apps import app_require_manage
from apps.access.services.subscriptions import _record
from apps.core.errors import ConflictError
from apps.tenants.models import Membership

Status = SubscriptionStatus
CANCELLABLE = (Status.PENDING, Status.APPROVED, Status.SUSPENDED)


@transaction.atomic
def subscription_cancel(*, subscription: Subscription, actor_membership: Membership) -> Subscription:
    """Withdraw a pending request (audited as subscription.cancel) or unsubscribe an approved or suspended one
    (subscription.unsubscribe). 403 unless the actor manages the app; 409 when it is already closed."""
    app_require_manage(membership=actor_membership, app=subscription.app)
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("app__tenant", "service__tenant", "plan", "requested_by")
        .get(pk=subscription.pk)
    )
    if subscription.status not in CANCELLABLE:
        state = subscription.get_status_display().lower()
        raise ConflictError(
            f"This subscription is {state}: only pending, approved or suspended subscriptions can be cancelled.",
            extra={"status": subscription.status},
        )
    pending = subscription.status == Status.PENDING
    user = actor_membership.user
    reason = f"Request withdrawn by {user} of {subscription.app.tenant}." if pending else f"Unsubscribed by {user}."
    changes = {"status": [subscription.status, Status.CANCELLED], "reason": [subscription.reason, reason]}
    subscription.status, subscription.reason = Status.CANCELLED, reason
    subscription.decided_by, subscription.decided_at = user, timezone.now()
    subscription.save()
    _record(subscription, "subscription.cancel" if pending else "subscription.unsubscribe", changes)
    return subscription
