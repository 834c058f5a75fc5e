"""CSV downloads of the log and of the rollups, with the pages' filters; streamed, so memory stays flat."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.analytics.forms.filters import AnalyticsFilterForm, LogFilterForm, filter_data
from apps.analytics.selectors import (
    LOG_EXPORT_FIELDS,
    ROLLUP_EXPORT_FIELDS,
    analytics_scope_get,
    call_log_export_rows,
    call_rollup_export_rows,
)
from apps.tenants.web import tenant_required

MAX_ROWS = 100_000
# A cell a spreadsheet would run as a formula (model names and error types come from callers and upstreams).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _safe(cell: Any) -> Any:
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return f"'{cell}"
    return cell


def _csv_lines(header: list[str], rows: Iterable[list[Any]], limit: int) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        if count > limit:
            yield writer.writerow([f"# Only the first {limit} rows are here: narrow the period or the filters."])
            return
        yield writer.writerow([_safe(cell) for cell in row])


def _download(name: str, header: list[str], rows: Iterable[list[Any]]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_csv_lines(header, rows, MAX_ROWS), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response


def _refusal(form: AnalyticsFilterForm) -> HttpResponse:
    lines = [f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()]
    return HttpResponse("\n".join(lines), status=400, content_type="text/plain; charset=utf-8")


@tenant_required()
@require_GET
def call_export(request: HttpRequest) -> HttpResponse:
    """The log explorer's calls as CSV, newest first, at most MAX_ROWS (a last row says when cut)."""
    now = timezone.now()
    scope = analytics_scope_get(tenant=request.tenant)
    form = LogFilterForm(filter_data(request.GET), scope=scope, now=now)
    if not form.is_valid():
        return _refusal(form)
    rows = call_log_export_rows(
        scope=scope, period=form.cleaned_data["period"], filters=form.filters(), now=now, limit=MAX_ROWS
    )
    return _download("calls", LOG_EXPORT_FIELDS, rows)


@tenant_required()
@require_GET
def rollup_export(request: HttpRequest) -> HttpResponse:
    """The dashboard's rollup rows as CSV: one per bucket and (service, app, model), with names."""
    scope = analytics_scope_get(tenant=request.tenant)
    form = AnalyticsFilterForm(filter_data(request.GET), scope=scope, now=timezone.now())
    if not form.is_valid():
        return _refusal(form)
    rows = call_rollup_export_rows(
        scope=scope, period=form.cleaned_data["period"], filters=form.filters(), limit=MAX_ROWS
    )
    return _download("rollups", ROLLUP_EXPORT_FIELDS, rows)
