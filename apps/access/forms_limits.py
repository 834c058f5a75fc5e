"""The limits form of the portal: one scope's rate limits, quotas and budgets (the tenant's, an app's or a key's).
It checks shape as the model fields declare it (at least 1, budgets at least 0, a known currency); the service
decides who may change them and that the over-budget route is the tenant's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.models import model_to_dict

from apps.access.models import LimitSet
from apps.catalog.models import BudgetCurrency
from apps.core.forms import ServiceForm
from apps.providers.selectors import route_list
from apps.tenants.models import Tenant

LIMIT_HELP = "Empty: no limit."


def _field(name: str, **overrides: Any) -> forms.Field:
    return LimitSet._meta.get_field(name).formfield(**overrides)


class LimitSetForm(ServiceForm):
    requests_per_minute = _field("requests_per_minute", label="Requests per minute", help_text=LIMIT_HELP)
    tokens_per_minute = _field("tokens_per_minute", label="Tokens per minute", help_text=LIMIT_HELP)
    requests_per_day = _field("requests_per_day", label="Requests per day", help_text="UTC day. " + LIMIT_HELP)
    requests_per_month = _field("requests_per_month", label="Requests per month", help_text="UTC month. " + LIMIT_HELP)
    budget_per_day = _field("budget_per_day", label="Daily budget", help_text="Spend per UTC day. Empty: none.")
    budget_per_month = _field("budget_per_month", label="Monthly budget", help_text="Spend per UTC month. Empty: none.")
    budget_currency = _field("budget_currency", label="Currency", required=False)
    budget_alert_percent = _field(
        "budget_alert_percent",
        label="Alert at (% of a budget)",
        help_text="Owners and admins are alerted when this share of a budget is spent. Empty: no alert.",
    )
    over_budget_route = forms.ModelChoiceField(
        queryset=None,
        required=False,
        to_field_name="alias",
        empty_label="None: refuse them (429)",
        label="Once a budget is reached, send calls to",
        help_text="A cheaper route of this tenant that takes the calls instead of refusing them.",
    )

    def __init__(self, data: Any = None, *, tenant: Tenant, limit_set: LimitSet | None) -> None:
        initial = None
        if limit_set is not None:
            initial = model_to_dict(limit_set, fields=[n for n in self.base_fields if n != "over_budget_route"])
            route = limit_set.over_budget_route
            initial["over_budget_route"] = route.alias if route is not None else None
        super().__init__(data, initial=initial)
        self.fields["over_budget_route"].queryset = route_list(tenant=tenant)

    def clean_budget_currency(self) -> str:
        return self.cleaned_data["budget_currency"] or BudgetCurrency.USD  # not sent: the only currency

    def service_kwargs(self) -> dict[str, Any]:
        return {"data": dict(self.cleaned_data)}
