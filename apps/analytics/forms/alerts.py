"""Input of the alert rule pages. Forms check shape (types, ranges the model declares); the alert services decide
the rest (roles, a service of the tenant, valid addresses, http(s) webhooks, unique names)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.forms.models import model_to_dict

from apps.analytics.models import AlertMetric, AlertRule
from apps.catalog.selectors import service_list
from apps.core.forms import ServiceForm
from apps.tenants.models import Tenant

ADDRESS_SEPARATORS = re.compile(r"[\s,;]+")


def _field(name: str, **overrides: Any) -> forms.Field:
    return AlertRule._meta.get_field(name).formfield(**overrides)


class AlertRuleForm(ServiceForm):
    """The fields of a rule, for creating one; AlertRuleUpdateForm feeds the same fields to the update service."""

    name = _field("name", help_text="e.g. “Checkout errors”")
    metric = forms.ChoiceField(choices=AlertMetric.choices)
    threshold = _field("threshold", widget=forms.NumberInput(attrs={"step": "any", "min": "0"}))
    window_minutes = _field("window_minutes", label="Window (minutes)")
    min_calls = _field("min_calls", label="Minimum calls")
    service = forms.ModelChoiceField(
        queryset=None, required=False, to_field_name="slug", empty_label="All services", help_text="Only its calls."
    )
    model = _field("model", label="Upstream model")
    email_recipients = forms.CharField(
        required=False,
        label="E-mail recipients",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Addresses separated by commas or new lines; empty: the tenant's owners and admins.",
    )
    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Webhook URL",
        help_text="Receives a signed JSON POST when the alert fires and resolves.",
    )
    enabled = _field("enabled")

    def __init__(self, data: Any = None, *, tenant: Tenant, initial: dict[str, Any] | None = None) -> None:
        super().__init__(data, initial=initial)
        self.fields["service"].queryset = service_list(tenant=tenant)

    def clean_email_recipients(self) -> list[str]:
        return [address for address in ADDRESS_SEPARATORS.split(self.cleaned_data["email_recipients"]) if address]


class AlertRuleUpdateForm(AlertRuleForm):
    def service_kwargs(self) -> dict[str, Any]:
        return {"data": dict(self.cleaned_data)}

    @classmethod
    def of(cls, rule: AlertRule, data: Any = None) -> AlertRuleUpdateForm:
        initial = model_to_dict(rule, fields=[name for name in cls.base_fields if name != "service"])
        initial["service"] = rule.service.slug if rule.service else None
        initial["email_recipients"] = "\n".join(rule.email_recipients)
        return cls(data, tenant=rule.tenant, initial=initial)
