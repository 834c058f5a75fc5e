"""Filters of the analytics pages and the read API (one set of rules for both).

Service and app choices are the scope's own: an id of another tenant's service or app is refused with the
same words as an id that does not exist, so the answer never tells that it exists."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.http import QueryDict

from apps.analytics.periods import DEFAULT_PRESET, PRESETS, PeriodError, period_between, period_last
from apps.analytics.selectors import AnalyticsScope, Cursor
from apps.analytics.selectors.logs import STATUS_CLASSES

PERIOD_LABELS = {
    "1h": "Last hour",
    "6h": "Last 6 hours",
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
}
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
ISO_DATE = ["%Y-%m-%d"]  # only: 03/01/2024 is March 1st to some and January 3rd to others


def filter_data(query: QueryDict) -> QueryDict:
    """The query string with the default period filled in, so the form shows the period the page draws."""
    data = query.copy()
    data.setdefault("period", DEFAULT_PRESET)
    return data


class AnalyticsFilterForm(forms.Form):
    """Period (a preset, or whole days from/to, which win when given) and service, app, model filters.

    `cleaned_data` gains `period` (apps.analytics.periods.Period) and the selector filters `service_id`,
    `app_id` and `model`."""

    period = forms.ChoiceField(
        required=False,
        choices=[(name, PERIOD_LABELS[name]) for name in PRESETS],
        error_messages={"invalid_choice": f"Unknown period: choose one of {', '.join(PRESETS)}."},
    )
    date_from = forms.DateField(
        required=False,
        label="From",
        widget=DATE_INPUT,
        input_formats=ISO_DATE,
        error_messages={"invalid": "The start date is not a date: use YYYY-MM-DD."},
    )
    date_to = forms.DateField(
        required=False,
        label="To",
        widget=DATE_INPUT,
        input_formats=ISO_DATE,
        error_messages={"invalid": "The end date is not a date: use YYYY-MM-DD."},
    )
    service = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, error_messages={"invalid_choice": "Unknown service."}
    )
    app = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, error_messages={"invalid_choice": "Unknown app."}
    )
    model = forms.CharField(required=False, max_length=200)

    filter_names: tuple[str, ...] = ("service_id", "app_id", "model")

    def __init__(self, data: Any, *, scope: AnalyticsScope, now: datetime, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.now = now
        self.fields["service"].choices = [("", "All services"), *scope.services.items()]
        self.fields["app"].choices = [("", "All apps"), *scope.apps.items()]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if self.has_error("date_from") or self.has_error("date_to") or self.has_error("period"):
            return cleaned
        if date_from or date_to:
            if not (date_from and date_to):
                missing = "date_to" if date_from else "date_from"
                self.add_error(missing, "Give both dates of a custom range, or neither.")
                return cleaned
            try:
                cleaned["period"] = period_between(
                    date_from, date_to, now=self.now, retention_days=settings.ANALYTICS_ROLLUP_RETENTION_DAYS
                )
            except PeriodError as error:
                self.add_error(error.field, error.message)
        else:
            cleaned["period"] = period_last(cleaned.get("period") or DEFAULT_PRESET, now=self.now)
        cleaned["service_id"] = cleaned.get("service")
        cleaned["app_id"] = cleaned.get("app")
        return cleaned

    def filters(self) -> dict[str, Any]:
        """The cleaned filters as the selectors take them."""
        return {name: self.cleaned_data.get(name) for name in self.filter_names}


class LogFilterForm(AnalyticsFilterForm):
    """The dashboard's filters plus status class, error type, an exact request id and the page cursors."""

    status_class = forms.ChoiceField(
        required=False,
        label="Status",
        choices=[("", "Any status"), *((name, name) for name in STATUS_CLASSES)],
        error_messages={"invalid_choice": "Unknown status class: choose 2xx, 4xx or 5xx."},
    )
    error_type = forms.CharField(required=False, max_length=64)
    request_id = forms.CharField(required=False, max_length=64, label="Request id")
    after = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    filter_names = (*AnalyticsFilterForm.filter_names, "status_class", "error_type", "request_id")

    def _clean_cursor(self, name: str) -> Cursor | None:
        token = self.cleaned_data.get(name)
        if not token:
            return None
        try:
            return Cursor.parse(token)
        except ValueError:
            raise forms.ValidationError("This page cursor is not valid: start again from the newest calls.") from None

    def clean_after(self) -> Cursor | None:
        return self._clean_cursor("after")

    def clean_before(self) -> Cursor | None:
        return self._clean_cursor("before")

    def page_query(self) -> dict[str, Any]:
        """What selectors.logs.call_log_page takes from the form: period, filters and cursors."""
        data = self.cleaned_data
        return {"period": data["period"], "filters": self.filters(), "after": data["after"], "before": data["before"]}
