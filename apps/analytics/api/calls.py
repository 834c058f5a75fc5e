"""Read API of the call data for scripts: the dashboard's figures (from rollups) and the call log.

Same filters, same rules and same scope as the web pages (apps/analytics/forms/filters.py): a tenant reads its
own calls and the calls other tenants' apps make to its services, the latter without their key prefix."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.analytics.forms.filters import PERIOD_LABELS, AnalyticsFilterForm, LogFilterForm, filter_data
from apps.analytics.selectors import (
    Cursor,
    LoggedCall,
    analytics_scope_get,
    call_log_get,
    call_log_page,
    dashboard_get,
)
from apps.analytics.selectors.logs import STATUS_CLASSES
from apps.tenants.api.base import TenantScopedViewSet

# Serializers


class RollupFiguresOut(serializers.Serializer):
    calls = serializers.IntegerField()
    errors = serializers.IntegerField(help_text="Calls answered with status 400 or above")
    error_rate = serializers.FloatField(allow_null=True, help_text="errors / calls (0..1); null without calls")
    p50_ms = serializers.FloatField(allow_null=True, help_text="From the merged latency histogram")
    p95_ms = serializers.FloatField(allow_null=True)
    p99_ms = serializers.FloatField(allow_null=True)
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    tokens = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=18, decimal_places=8)


class RollupKpisOut(RollupFiguresOut):
    server_errors = serializers.IntegerField(help_text="Calls answered with status 500 or above")
    server_error_rate = serializers.FloatField(allow_null=True)
    cache_hits = serializers.IntegerField()
    cache_hit_rate = serializers.FloatField(allow_null=True)
    streams = serializers.IntegerField()
    avg_overhead_ms = serializers.FloatField(allow_null=True, help_text="The gateway's own time per call")


class RollupPointOut(RollupFiguresOut):
    bucket = serializers.DateTimeField(help_text="Start of the bucket (UTC); buckets without calls are zeros")


class RollupGroupOut(RollupFiguresOut):
    id = serializers.IntegerField(help_text="0: calls without one")
    name = serializers.CharField(help_text='"#<id>" when it was deleted')


class RollupModelGroupOut(RollupFiguresOut):
    id = serializers.CharField(help_text="The model's name; empty for calls without one")
    name = serializers.CharField()


class ErrorTypeCountOut(serializers.Serializer):
    error_type = serializers.CharField()
    count = serializers.IntegerField()


class AnalyticsPeriodOut(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="Exclusive")
    granularity = serializers.ChoiceField(choices=["minute", "hour", "day"])
    label = serializers.CharField()


class RollupSummaryOut(serializers.Serializer):
    period = AnalyticsPeriodOut()
    kpis = RollupKpisOut()
    series = RollupPointOut(many=True)
    top_services = RollupGroupOut(many=True)
    top_apps = RollupGroupOut(many=True)
    top_models = RollupModelGroupOut(many=True)
    error_types = ErrorTypeCountOut(many=True)


class CallLogOut(serializers.Serializer):
    request_id = serializers.CharField(source="log.request_id")
    created_at = serializers.DateTimeField(source="log.created_at")
    endpoint = serializers.CharField(source="log.endpoint")
    stream = serializers.BooleanField(source="log.stream")
    status = serializers.IntegerField(source="log.status")
    error_type = serializers.CharField(source="log.error_type")
    service_id = serializers.IntegerField(source="log.service_id", allow_null=True)
    service = serializers.CharField()
    app_id = serializers.IntegerField(source="log.app_id", allow_null=True)
    app = serializers.CharField()
    is_foreign = serializers.BooleanField(help_text="An app of another tenant calling one of your services")
    key_prefix = serializers.CharField(help_text="Empty for another tenant's calls")
    route = serializers.SerializerMethodField(help_text="Empty when the route is another tenant's")
    model = serializers.CharField(source="log.model")
    attempts = serializers.IntegerField(source="log.attempts")
    latency_ms = serializers.FloatField(source="log.latency_ms")
    upstream_ms = serializers.FloatField(source="log.upstream_ms")
    overhead_ms = serializers.FloatField(source="log.overhead_ms")
    ttft_ms = serializers.FloatField(source="log.ttft_ms", allow_null=True)
    prompt_tokens = serializers.IntegerField(source="log.prompt_tokens")
    completion_tokens = serializers.IntegerField(source="log.completion_tokens")
    usage_estimated = serializers.BooleanField(source="log.usage_estimated")
    cost = serializers.DecimalField(source="log.cost", max_digits=14, decimal_places=8)
    cache_hit = serializers.BooleanField(source="log.cache_hit")
    masked_items = serializers.IntegerField(source="log.masked_items")
    policy_outcomes = serializers.DictField(source="log.policy_outcomes", child=serializers.CharField())

    def get_route(self, call: LoggedCall) -> str:
        return call.log.route if call.shows_internals else ""


class CallLogPageOut(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next, older page; null on the last")
    previous = serializers.URLField(allow_null=True, help_text="The newer page before; null on the newest")
    results = CallLogOut(many=True)


# Query parameters, documented once for both endpoints.

FILTER_PARAMETERS = [
    OpenApiParameter("period", str, enum=list(PERIOD_LABELS), description="Up to now (default 24h)"),
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="First UTC day of a custom range (with date_to)"),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="Last UTC day, included; at most 400 days"),
    OpenApiParameter("service", int, description="Id of a service: your own, or one your apps subscribed to"),
    OpenApiParameter("app", int, description="Id of an app: your own, or one subscribed to your services"),
    OpenApiParameter("model", str, description="Exact model name"),
]
LOG_PARAMETERS = [
    *FILTER_PARAMETERS,
    OpenApiParameter("status_class", str, enum=list(STATUS_CLASSES)),
    OpenApiParameter("error_type", str),
    OpenApiParameter("request_id", str, description="Exact; searched across the log's whole retention"),
    OpenApiParameter("after", str, description="Cursor of the page after (from `next`)"),
    OpenApiParameter("before", str, description="Cursor of the page before (from `previous`)"),
]


def _valid(form: AnalyticsFilterForm) -> AnalyticsFilterForm:
    if not form.is_valid():
        raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
    return form


# The actions are not called "list": both answer one object (a summary, a page with its links), which
# drf-spectacular would otherwise document as a paginated array.


class RollupViewSet(TenantScopedViewSet):
    """The dashboard's figures for a period: totals, a zero-filled series, top services, apps and models."""

    serializer_class = RollupSummaryOut

    @extend_schema(operation_id="analytics_rollups_summary", parameters=FILTER_PARAMETERS, responses=RollupSummaryOut)
    def summary(self, request: Request, tenant_slug: str) -> Response:
        scope = analytics_scope_get(tenant=request.tenant)
        form = _valid(AnalyticsFilterForm(filter_data(request.query_params), scope=scope, now=timezone.now()))
        dashboard = dashboard_get(scope=scope, period=form.cleaned_data["period"], filters=form.filters())
        return Response(RollupSummaryOut(dashboard).data)


class CallLogViewSet(TenantScopedViewSet):
    """Calls newest first, 50 a page, followed with the `next` cursor; one call by its request id."""

    serializer_class = CallLogOut

    def _page_url(self, request: Request, name: str, cursor: Cursor | None) -> str | None:
        if cursor is None:
            return None
        query = request.query_params.copy()
        query.pop("after", None)
        query.pop("before", None)
        query[name] = cursor.token()
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

    @extend_schema(operation_id="analytics_logs_page", parameters=LOG_PARAMETERS, responses=CallLogPageOut)
    def page(self, request: Request, tenant_slug: str) -> Response:
        now = timezone.now()
        scope = analytics_scope_get(tenant=request.tenant)
        form = _valid(LogFilterForm(filter_data(request.query_params), scope=scope, now=now))
        page = call_log_page(scope=scope, now=now, **form.page_query())
        links = {
            "next": self._page_url(request, "after", page.older),
            "previous": self._page_url(request, "before", page.newer),
        }
        return Response(CallLogPageOut({**links, "results": page.calls}).data)

    @extend_schema(operation_id="analytics_logs_retrieve", responses=CallLogOut)
    def retrieve(self, request: Request, tenant_slug: str, request_id: str) -> Response:
        scope = analytics_scope_get(tenant=request.tenant)
        return Response(CallLogOut(call_log_get(scope=scope, request_id=request_id, now=timezone.now())).data)
