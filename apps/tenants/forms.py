"""Input validation of the tenant pages. Forms check shape only; services decide what is allowed."""

from __future__ import annotations

from django import forms

from apps.core.forms import ServiceForm
from apps.core.models import AuditEvent
from apps.tenants.models import Role


class TenantSwitchForm(forms.Form):
    tenant = forms.SlugField(max_length=50)


class MemberAddForm(ServiceForm):
    username = forms.CharField(max_length=150, help_text="The person must already have an account.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.DEVELOPER)


class TenantSettingsForm(ServiceForm):
    name = forms.CharField(max_length=100)
    require_internal_subscriptions = forms.BooleanField(
        required=False,
        label="Apps of this tenant need an approved subscription to its own services too",
        help_text="Off: your apps call your own services without a subscription (plans and their limits do not "
        "apply to them). On: they request and are approved like any other tenant's app.",
    )
    limits_fail_open = forms.BooleanField(
        required=False,
        label="Serve calls without limits while the limit store (Redis) is unreachable",
        help_text="On: calls go on, unlimited, and the outage is logged and counted. Off: calls are refused with "
        "503 until it is back (no call can overspend a budget).",
    )


class MemberRoleForm(ServiceForm):
    role = forms.ChoiceField(choices=Role.choices)


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, max_length=64, help_text="Prefix, e.g. api_key or membership.add")
    actor = forms.CharField(required=False, max_length=150)
    object_type = forms.CharField(required=False, max_length=64, help_text="e.g. access.apikey")
    source = forms.ChoiceField(required=False, choices=[("", "Any source"), *AuditEvent.Source.choices])
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        cleaned = super().clean()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", "The end date must not be before the start date.")
        return cleaned
