"""Input validation of the provider, model and route pages. Forms check shape (types, lengths, required fields, as
the model fields declare them); services decide what is allowed (roles, value ranges, required base URLs,
duplicates). The API key field never renders a value back, not even after an invalid submission."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.forms.models import model_to_dict

from apps.core.forms import ServiceForm
from apps.providers.clients.registry import kind_choices
from apps.providers.models import Deployment, Modality, Provider, ProviderModel, Route
from apps.providers.selectors import model_list, provider_list
from apps.tenants.models import Tenant

API_KEY_WIDGET = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
ANY_STEP = forms.NumberInput(attrs={"step": "any"})


def model_field(model: type[models.Model], name: str, **overrides: Any) -> forms.Field:
    """The form field Django derives from a model field: its type, length, default, label and help text."""
    return model._meta.get_field(name).formfield(**overrides)


class ChangesForm(ServiceForm):
    """Feeds an update service, which takes the submitted fields as `data`; `of()` starts from an object's values."""

    def service_kwargs(self) -> dict[str, Any]:
        return {"data": dict(self.cleaned_data)}

    @classmethod
    def of(cls, instance: models.Model, data: Any = None) -> ChangesForm:
        return cls(data, initial=model_to_dict(instance, fields=list(cls.base_fields)))


class ProviderCreateForm(ServiceForm):
    name = model_field(Provider, "name", help_text="e.g. “OpenAI production”")
    slug = model_field(Provider, "slug", help_text="Lowercase letters, digits and hyphens; cannot change.")
    kind = forms.ChoiceField(choices=kind_choices(), help_text="The wire format the provider speaks.")
    base_url = model_field(
        Provider,
        "base_url",
        assume_scheme="https",
        label="Base URL",
        help_text="e.g. https://api.openai.com/v1; Azure OpenAI: the resource's endpoint, https://NAME.openai.azure.com",
    )
    api_key = forms.CharField(
        required=False, widget=API_KEY_WIDGET, label="API key", help_text="Stored encrypted; never shown again."
    )
    api_version = forms.CharField(
        required=False, max_length=40, label="API version", help_text="Azure OpenAI: e.g. 2024-10-21 (the default)."
    )

    service_fields = {"options.api_version": "api_version"}

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        api_version = data.pop("api_version", "")
        data["options"] = {"api_version": api_version} if api_version else {}
        return data


class ProviderUpdateForm(ChangesForm):
    name = model_field(Provider, "name")
    base_url = model_field(Provider, "base_url", assume_scheme="https", label="Base URL")
    api_key = forms.CharField(
        required=False, widget=API_KEY_WIDGET, label="New API key", help_text="Leave empty to keep the stored one."
    )
    enabled = model_field(Provider, "enabled")


class ProviderModelFields(forms.Form):
    upstream_id = model_field(ProviderModel, "upstream_id", label="Upstream id")
    modalities = forms.MultipleChoiceField(
        choices=Modality.choices, initial=[Modality.TEXT], widget=forms.CheckboxSelectMultiple
    )
    context_window = model_field(ProviderModel, "context_window", help_text="Tokens; empty if unknown.")
    input_price_per_mtok = model_field(
        ProviderModel, "input_price_per_mtok", label="Input price", help_text="USD per 1M tokens", widget=ANY_STEP
    )
    output_price_per_mtok = model_field(
        ProviderModel, "output_price_per_mtok", label="Output price", help_text="USD per 1M tokens", widget=ANY_STEP
    )
    cached_input_price_per_mtok = model_field(
        ProviderModel,
        "cached_input_price_per_mtok",
        label="Cached input price",
        help_text="USD per 1M prompt tokens read from the provider's prompt cache. Empty: the input price.",
        widget=ANY_STEP,
    )


class ProviderModelCreateForm(ProviderModelFields, ServiceForm):
    """A model of one of the tenant's providers (another tenant's provider is not a valid choice)."""

    provider = forms.ModelChoiceField(queryset=None, to_field_name="slug", empty_label=None)
    name = model_field(ProviderModel, "name")

    field_order = ["provider", "name", "upstream_id"]

    def __init__(self, data: Any = None, *, tenant: Tenant) -> None:
        super().__init__(data)
        self.fields["provider"].queryset = provider_list(tenant=tenant)


class ProviderModelUpdateForm(ProviderModelFields, ChangesForm):
    pass


class RouteSettingsFields(forms.Form):
    description = model_field(Route, "description")
    deadline_seconds = model_field(Route, "deadline_seconds", label="Deadline (s)", widget=ANY_STEP)
    retries = model_field(Route, "retries")
    cache_ttl_seconds = model_field(
        Route,
        "cache_ttl_seconds",
        label="Cache answers for (s)",
        help_text="Identical calls within this many seconds get the stored answer (1 to 604800). Empty: no cache.",
    )
    strategy = model_field(
        Route,
        "strategy",
        label="Routing",
        required=False,
        help_text="Which deployment of a priority group is tried first; the rest are fallbacks in the same order.",
    )

    def clean_strategy(self) -> str:
        # A post without the field (a script, an older page) keeps the default rather than failing.
        return self.cleaned_data["strategy"] or Route.Strategy.PRIORITY


class RouteCreateForm(RouteSettingsFields, ServiceForm):
    alias = model_field(Route, "alias", help_text="The model name apps send, e.g. smart or gpt-4o-mini.")

    field_order = ["alias"]


class RouteUpdateForm(RouteSettingsFields, ChangesForm):
    enabled = model_field(Route, "enabled")


class DeploymentFields(forms.Form):
    weight = model_field(Deployment, "weight", help_text="Share of traffic within its priority group.")
    priority = model_field(Deployment, "priority", help_text="Lower is tried first; higher ones are fallbacks.")
    timeout_seconds = model_field(Deployment, "timeout_seconds", label="Timeout (s)", widget=ANY_STEP)


class DeploymentAddForm(DeploymentFields, ServiceForm):
    """A deployment of one of the tenant's models (another tenant's model is not a valid choice)."""

    model = forms.ModelChoiceField(queryset=None, to_field_name="name", empty_label=None)

    field_order = ["model"]

    def __init__(self, data: Any = None, *, tenant: Tenant) -> None:
        super().__init__(data)
        self.fields["model"].queryset = model_list(tenant=tenant)


class DeploymentUpdateForm(DeploymentFields, ChangesForm):
    enabled = model_field(Deployment, "enabled")
