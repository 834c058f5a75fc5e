"""Errors raised by services; one exception handler turns them into HTTP answers."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A business rule refused the operation. `field` names the input at fault, when there is one."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class ConflictError(ApplicationError):
    """The operation clashes with the current state (a duplicate slug, an already revoked key)."""

    status_code = 409


class NotPermitted(ApplicationError):
    """The actor is known but lacks the role or object permission."""

    status_code = 403
