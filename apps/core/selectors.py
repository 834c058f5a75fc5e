"""Reads of core's own rows: a person's in-app notifications."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from apps.core.models import Notification


def notification_list(*, user: AbstractBaseUser, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's notifications, newest first (nobody else's, whatever tenant they share)."""
    notifications = Notification.objects.filter(user=user)
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-id")


def notification_get(*, user: AbstractBaseUser, pk: int | str) -> Notification:
    text = str(pk)
    notification = notification_list(user=user).filter(pk=text).first() if text.isascii() and text.isdigit() else None
    if notification is None:
        raise Http404("No such notification.")
    return notification


def notification_unread_count(*, user: AbstractBaseUser) -> int:
    return notification_list(user=user, unread_only=True).count()
