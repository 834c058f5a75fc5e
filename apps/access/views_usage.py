"""The usage panel of a subscription on its app's page, fetched again by htmx to keep the figures current."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.access import selectors
from apps.access.selectors.subscription_usage import subscription_usage_get
from apps.tenants.web import tenant_required


@tenant_required()
@require_GET
def app_subscription_usage(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    app = selectors.app_get(tenant=request.tenant, slug=slug)
    subscription = selectors.subscription_get_for_app(app=app, pk=pk)
    context = {"app": app, "usage": subscription_usage_get(subscription=subscription)}
    return render(request, "access/_subscription_limits.html", context)
