"""The analytics dashboard: KPI tiles, charts over time and the top services, apps and models of a period."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.analytics.forms.filters import AnalyticsFilterForm, filter_data
from apps.analytics.selectors import analytics_scope_get, dashboard_get
from apps.tenants.web import tenant_required


@tenant_required()
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Any member's view of the calls of the tenant's apps and to its services; bad filters answer 400."""
    scope = analytics_scope_get(tenant=request.tenant)
    form = AnalyticsFilterForm(filter_data(request.GET), scope=scope, now=timezone.now())
    if not form.is_valid():
        return render(request, "analytics/dashboard.html", {"form": form, "dashboard": None}, status=400)
    dashboard = dashboard_get(scope=scope, period=form.cleaned_data["period"], filters=form.filters())
    charts = {"granularity": dashboard.period.granularity, "series": dashboard.series}
    context = {"form": form, "dashboard": dashboard, "charts": charts, "query": request.GET.urlencode()}
    return render(request, "analytics/dashboard.html", context)
