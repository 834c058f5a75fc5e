from __future__ import annotations

from django import forms

from apps.catalog.models import ServiceKind


class CatalogFilterForm(forms.Form):
    """The catalog page's filters: the same ones the API takes (q, tag, kind)."""

    q = forms.CharField(required=False, max_length=100, label="Search")
    tag = forms.CharField(required=False, max_length=40)
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *ServiceKind.choices])
