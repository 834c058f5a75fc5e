"""Input validation of the tenant pages. Forms check shape only; services decide what is allowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from apps.core.errors import ApplicationError
from apps.core.models import AuditEvent
from apps.tenants.models import Role


class ServiceForm(forms.Form):
    """A form whose cleaned data feeds one service call. A refusal of the service becomes an error on the field it
    names (or above the form), and `status_code` says how the page answers: 400 invalid input, else the error's."""

    # Service argument names that differ from the form's field names: {service argument: form field}.
    service_fields: dict[str, str] = {}
    status_code = 200
    result: Any = None

    def service_kwargs(self) -> dict[str, Any]:
        return dict(self.cleaned_data)

    def submit(self, service: Callable[..., Any], **kwargs: Any) -> bool:
        """Call the service with `kwargs` and the cleaned data; True when it ran (its return value is in `result`)."""
        if not self.is_valid():
            self.status_code = 400
            return False
        try:
            self.result = service(**kwargs, **self.service_kwargs())
        except ApplicationError as error:
            field = self.service_fields.get(error.field or "", error.field)
            self.add_error(field if field in self.fields else None, error.message)
            self.status_code = error.status_code
            return False
        return True

    def error_texts(self) -> list[str]:
        """Every error of the form, field or not, as plain sentences."""
        return [message for errors in self.errors.values() for message in errors]


class TenantSwitchForm(forms.Form):
    tenant = forms.SlugField(max_length=50)


class MemberAddForm(ServiceForm):
    username = forms.CharField(max_length=150, help_text="The person must already have an account.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.DEVELOPER)


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
