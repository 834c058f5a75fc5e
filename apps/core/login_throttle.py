"""Log-in throttling (django-axes, configured in settings): what the portal adds to it, the audit of lockouts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.core.audit import audit_context, current_context
from apps.core.services import audit_record


@receiver(user_locked_out, dispatch_uid="core.login_lockout_audit")
def login_lockout_audit(sender: Any, request: Any = None, username: str | None = None, **kwargs: Any) -> None:
    """One audit event per lockout: which account name was tried (an existing account is linked), from which
    address (the audit context's) and on which form (ui or admin)."""
    user = get_user_model().objects.filter(username=username).first() if username else None
    with audit_context(replace(current_context(), actor_label="anonymous")):  # nobody is logged in yet
        audit_record(
            action="login.lockout",
            obj=user,
            object_type="auth.user",
            object_repr=username or "(no username)",
            changes={"username": username or "", "path": getattr(request, "path", "")},
        )


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """The page a locked-out log-in gets (AXES_LOCKOUT_CALLABLE), on both forms: what happened and for how long."""
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "registration/locked_out.html", context, status=429)
