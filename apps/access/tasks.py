"""Celery tasks of the access app: ids in, the service does the work (eager without Redis)."""

from __future__ import annotations

from celery import shared_task


@shared_task
def subscription_notify_task(subscription_id: int, event: str) -> int:
    """Notify about a subscription change (in-app and e-mail); returns how many people were told."""
    from apps.access.models import Subscription
    from apps.access.services import subscription_notify

    subscription = (
        Subscription.objects.select_related("app__tenant", "service__tenant", "plan", "requested_by", "decided_by")
        .filter(pk=subscription_id)
        .first()
    )
    if subscription is None:  # deleted with its app before the task ran: nobody left to tell
        return 0
    return len(subscription_notify(subscription=subscription, event=event))
