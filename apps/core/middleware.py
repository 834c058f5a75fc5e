from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from apps.core.audit import AuditContext, audit_context, client_ip, source_for_path


def audit_context_middleware(get_response: Callable) -> Callable:
    """Bind the request to the audit context for the duration of the view (sync and async, no thread hop)."""

    def context_for(request: HttpRequest) -> AuditContext:
        return AuditContext(source=source_for_path(request.path), ip_address=client_ip(request), request=request)

    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            with audit_context(context_for(request)):
                return await get_response(request)

        markcoroutinefunction(middleware)
        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        with audit_context(context_for(request)):
            return get_response(request)

    return sync_middleware


audit_context_middleware.sync_capable = True
audit_context_middleware.async_capable = True
