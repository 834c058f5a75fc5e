from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from apps.core.errors import ApplicationError


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
