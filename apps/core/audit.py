"""Who is acting, from where, through which surface: carried in a context variable so services can
record audit events without every signature taking a request. The middleware, DRF views, the admin and
management commands set it; anything else records as "system"."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AuditContext:
    source: str
    ip_address: str | None = None
    request: Any = None  # the request is read lazily: DRF authenticates after the middleware ran
    actor: Any = None
    actor_label: str | None = None

    def resolve_actor(self) -> tuple[Any, str]:
        user = self.actor
        if user is None and self.request is not None:
            user = getattr(self.request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            label = self.actor_label or user.get_username()
            token = getattr(self.request, "auth", None)
            if token is not None and hasattr(token, "prefix"):
                label = f"{label} (token {token.prefix})"
            return user, label
        return None, self.actor_label or "system"


_current: contextvars.ContextVar[AuditContext] = contextvars.ContextVar(
    "audit_context",
    default=AuditContext(source="system"),  # noqa: B039 - frozen dataclass
)


def client_ip(request: Any) -> str | None:
    # Behind a proxy REMOTE_ADDR is the proxy; operators who trust X-Forwarded-For put it in REMOTE_ADDR upstream.
    return request.META.get("REMOTE_ADDR") or None


def current_context() -> AuditContext:
    return _current.get()


@contextmanager
def audit_context(context: AuditContext) -> Iterator[AuditContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def source_for_path(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "ui"
