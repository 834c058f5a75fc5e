"""The log explorer (filters update the table through htmx, and work as a plain form without JavaScript) and
the page of one call."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.analytics.forms.filters import LogFilterForm, filter_data
from apps.analytics.selectors import (
    analytics_scope_get,
    call_body_get,
    call_log_get,
    call_log_page,
    call_timeline,
)
from apps.core.web import is_htmx
from apps.tenants.web import tenant_required


@tenant_required()
@require_GET
def call_list(request: HttpRequest) -> HttpResponse:
    """Calls newest first, 50 a page; htmx asks for the results alone (the form stays as the user left it)."""
    now = timezone.now()
    scope = analytics_scope_get(tenant=request.tenant)
    form = LogFilterForm(filter_data(request.GET), scope=scope, now=now)
    template = "analytics/_call_results.html" if is_htmx(request) else "analytics/call_list.html"
    if not form.is_valid():
        return render(request, template, {"form": form, "page": None}, status=400)
    page = call_log_page(scope=scope, now=now, **form.page_query())
    return render(request, template, {"form": form, "page": page})


@tenant_required()
@require_GET
def call_detail(request: HttpRequest, request_id: str) -> HttpResponse:
    """One call: every recorded field, its timeline, and the captured bodies when its service keeps them."""
    scope = analytics_scope_get(tenant=request.tenant)
    call = call_log_get(scope=scope, request_id=request_id, now=timezone.now())
    segments, markers = call_timeline(call.log)
    context = {"call": call, "segments": segments, "markers": markers, "body": call_body_get(scope=scope, call=call)}
    return render(request, "analytics/call_detail.html", context)
