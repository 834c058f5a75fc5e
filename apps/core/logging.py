"""Logging filters of the portal (wired in settings.LOGGING)."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied


class RefusalWithoutTraceback(logging.Filter):
    """Django logs a view's PermissionDenied with its traceback, like a crash. A refusal is the portal working as
    meant: keep the warning (path and status), add the reason, drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, PermissionDenied):
            reason = str(exc)
            record.msg = f"{record.getMessage()}: {reason}" if reason else record.getMessage()
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True
