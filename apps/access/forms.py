"""Input validation of the app, key and token pages. Forms check shape only; services decide what is allowed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from apps.access.models import ApiKeyScope
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
