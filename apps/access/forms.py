"""Input validation of the app, key, token and subscription pages. Forms check shape only; services decide what
is allowed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from apps.access.models import ApiKeyScope, App
from apps.catalog.models import Service
from apps.core.forms import ServiceForm
from apps.tenants.models import slug_validator


class AppCreateForm(ServiceForm):
    slug = forms.CharField(
        max_length=50, validators=[slug_validator], help_text="Lowercase letters, digits and hyphens; cannot change."
    )
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ExpiringTokenForm(ServiceForm):
    """A name and an optional last day of validity: the secret stops working at the midnight that ends that day
    (in the portal's time zone). The services take `expires_at`, a moment."""

    service_fields = {"expires_at": "expires_on"}

    expires_on = forms.DateField(
        required=False,
        label="Valid until (optional)",
        help_text="Last day the secret works. Leave empty for no expiry.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_expires_on(self) -> date | None:
        expires_on = self.cleaned_data["expires_on"]
        if expires_on is not None and expires_on < timezone.localdate():
            raise forms.ValidationError("The last valid day cannot be in the past.")
        return expires_on

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        expires_on = kwargs.pop("expires_on")
        kwargs["expires_at"] = (
            None
            if expires_on is None
            else datetime.combine(expires_on + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())
        )
        return kwargs


class ApiKeyCreateForm(ExpiringTokenForm):
    name = forms.CharField(max_length=100, help_text="Where the key is used, e.g. “production”.")
    scopes = forms.MultipleChoiceField(
        choices=ApiKeyScope.choices,
        initial=ApiKeyScope.values,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one scope."},
    )

    field_order = ["name", "scopes", "expires_on"]


class PersonalTokenCreateForm(ExpiringTokenForm):
    name = forms.CharField(max_length=100, help_text="Where the token is used, e.g. “GitLab CI”.")

    field_order = ["name", "expires_on"]


class SubscriptionRequestForm(ServiceForm):
    """An app, a plan (grouped by service: picking the plan picks the service) and the purpose. The choices are what
    the page offers; the service decides what is allowed."""

    app = forms.ChoiceField(help_text="The app that will call the service.")
    plan = forms.ChoiceField(label="Service and plan", help_text="Published services your tenant may see.")
    purpose = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "required": True}),
        help_text="What the app needs it for, and roughly how much: the approver decides on it.",
    )

    def __init__(self, *args: Any, apps: Iterable[App], services: Iterable[Service], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._apps = {app.slug: app for app in apps}
        self._plans = {str(plan.pk): plan for service in services for plan in service.plans.all()}
        self.fields["app"].choices = [(slug, app.name) for slug, app in self._apps.items()]
        self.fields["plan"].choices = [
            (f"{service.name} ({service.tenant.name})", [(str(p.pk), p.name) for p in service.plans.all()])
            for service in services
            if service.plans.all()
        ]

    def service_kwargs(self) -> dict[str, Any]:
        plan = self._plans[self.cleaned_data["plan"]]
        app = self._apps[self.cleaned_data["app"]]
        return {"app": app, "service": plan.service, "plan": plan, "purpose": self.cleaned_data["purpose"]}


class SubscriptionApproveForm(ServiceForm):
    expires_in_days = forms.IntegerField(
        required=False, label="Expires after (days)", help_text="Optional: time-box the approval."
    )


class SubscriptionReasonForm(ServiceForm):
    """Reject, suspend or revoke: the reason is required, and the service says so when it is missing."""

    reason = forms.CharField(required=False, max_length=1000, widget=forms.TextInput(attrs={"required": True}))


class SubscriptionRenewForm(ServiceForm):
    days = forms.IntegerField(label="Extend by (days)")
