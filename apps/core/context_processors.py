from __future__ import annotations

from django.http import HttpRequest

from apps.core.selectors import notification_unread_count


def notifications(request: HttpRequest) -> dict:
    """The unread count of the navigation bar's notification bell."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"unread_notifications": notification_unread_count(user=request.user)}
