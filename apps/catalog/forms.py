"""Input of the catalog's pages. The forms check shape (types, lengths, JSON, names that exist, as the model fields
and the API's serializers declare them); the services decide what is allowed (roles, lifecycle moves, schemas,
templates, dates), and their refusals land on the field they name."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.db import models
from django.forms.models import model_to_dict

from apps.catalog.models import ApprovalMode, BudgetCurrency, OutputMode, Plan, Service, ServiceKind, Visibility
from apps.catalog.selectors import route_list_for, service_prompt_editor_candidates, share_target_list
from apps.core.forms import ServiceForm
from apps.tenants.models import Tenant

TEMPLATE_WIDGET = forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})
FIRST_VARIABLES = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string", "description": "The text to work on."}},
}


def formfield(model: type[models.Model], name: str, **overrides: Any) -> forms.Field:
    """The form field Django derives from a model field: its type, length, range, label and help text."""
    return model._meta.get_field(name).formfield(**overrides)


class JSONTextField(forms.JSONField):
    """JSON typed in a textarea: shown indented, and empty when there is none (not "null")."""

    widget = forms.Textarea(attrs={"rows": 9, "spellcheck": "false"})

    def prepare_value(self, value: Any) -> Any:
        if value is None or isinstance(value, forms.fields.InvalidJSONInput):
            return value or ""
        return json.dumps(value, ensure_ascii=False, indent=2)


def _words(text: str) -> list[str]:
    """ "nlp, text finance" → ["nlp", "text", "finance"]: names separated by commas or spaces."""
    return [word for word in re.split(r"[,\s]+", text.strip()) if word]


class CatalogFilterForm(forms.Form):
    """The catalog page's filters: the same ones the API takes (q, tag, kind)."""

    q = forms.CharField(required=False, max_length=100, label="Search")
    tag = forms.CharField(required=False, max_length=40)
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *ServiceKind.choices])


class ServiceFields(ServiceForm):
    """What a service says about itself in the catalog, whatever its kind. Needs the tenant (its routes)."""

    name = formfield(Service, "name")
    summary = formfield(Service, "summary", help_text="One line, shown in the catalog's list.")
    description = formfield(
        Service, "description", widget=forms.Textarea(attrs={"rows": 6}), help_text="Markdown: rendered sanitized."
    )
    tags = forms.CharField(required=False, max_length=900, help_text="Separated by commas, e.g. nlp, finance.")
    team = formfield(Service, "team", help_text="Who owns it inside the tenant.")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PRIVATE)
    shared_with = forms.CharField(
        required=False,
        max_length=2000,
        label="Shared with",
        help_text="Slugs of the tenants that see it when it is shared, separated by commas.",
    )
    approval_mode = forms.ChoiceField(choices=ApprovalMode.choices, initial=ApprovalMode.MANUAL)
    route = forms.ModelChoiceField(
        queryset=None, to_field_name="alias", empty_label=None, help_text="The route whose models answer its calls."
    )

    def __init__(self, data: Any = None, *, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["route"].queryset = route_list_for(tenant=tenant)

    def clean_tags(self) -> list[str]:
        return _words(self.cleaned_data["tags"])

    def clean_shared_with(self) -> list[Tenant]:
        slugs = _words(self.cleaned_data["shared_with"])
        tenants = {tenant.slug: tenant for tenant in share_target_list().filter(slug__in=slugs)}
        unknown = [slug for slug in slugs if slug not in tenants]
        if unknown:
            raise forms.ValidationError(f"No tenant named {', '.join(unknown)}.")
        return [tenants[slug] for slug in dict.fromkeys(slugs)]


class ServiceCreateForm(ServiceFields):
    """A prompt API (with version 1 of its prompt, live) or a model API (a route other tenants call through /v1)."""

    kind = forms.ChoiceField(
        choices=ServiceKind.choices,
        initial=ServiceKind.PROMPT,
        widget=forms.RadioSelect,
        help_text="A prompt API answers POST /invoke with a prompt on a route; a model API lends a route to other "
        "tenants' /v1/chat/completions calls.",
    )
    slug = formfield(Service, "slug", help_text="Its address, /api/v1/services/<slug>/invoke: it never changes.")
    system_template = forms.CharField(
        required=False, strip=False, widget=TEMPLATE_WIDGET, help_text="Jinja2; the model's instructions."
    )
    user_template = forms.CharField(
        required=False, strip=False, widget=TEMPLATE_WIDGET, help_text="Jinja2, e.g. Summarize: {{ text }}"
    )
    variables_schema = JSONTextField(
        required=False,
        initial=FIRST_VARIABLES,
        label="Variables (JSON Schema)",
        help_text='"type": "object"; its properties are the input callers send and the templates use.',
    )
    output_mode = forms.ChoiceField(choices=OutputMode.choices, initial=OutputMode.TEXT, required=False)
    output_schema = JSONTextField(
        required=False, label="Output schema", help_text="JSON output only: what answers must be."
    )

    field_order = ["kind", "name", "slug", "summary", "description", "tags", "team", "route"]
    PROMPT_ONLY = ("system_template", "user_template", "variables_schema", "output_mode", "output_schema")
    # The prompt API's input schema is its variables schema: a refusal of one is shown on the other.
    service_fields = {"input_schema": "variables_schema"}

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data["kind"] == ServiceKind.PROMPT:
            data["variables_schema"] = data["variables_schema"] or {}
            data["output_mode"] = data["output_mode"] or OutputMode.TEXT
            data["output_schema"] = data["output_schema"] or {}
        else:
            for name in self.PROMPT_ONLY:
                data.pop(name)
        return data


class ServiceEditForm(ServiceFields):
    """Changes to a service; its slug and kind stay. A prompt's templates change through new prompt versions."""

    output_mode = forms.ChoiceField(choices=OutputMode.choices)
    output_schema = JSONTextField(required=False, label="Output schema")
    expected_tokens_per_call = formfield(Service, "expected_tokens_per_call")
    capture_bodies_days = formfield(Service, "capture_bodies_days", label="Keep call bodies (days)")
    cache_ttl_seconds = formfield(
        Service,
        "cache_ttl_seconds",
        label="Cache answers for (s)",
        help_text="Identical calls within this many seconds get the stored answer (1 to 604800, wins over the "
        "route's). Empty: no cache.",
    )
    semantic_cache = formfield(Service, "semantic_cache", label="Also reuse the answers of similar prompts")
    semantic_cache_route = forms.ChoiceField(
        required=False,
        label="Embedding route",
        help_text="The route that embeds prompts to compare them; it must serve an embedding model.",
    )
    semantic_cache_threshold = formfield(
        Service,
        "semantic_cache_threshold",
        label="Similarity threshold",
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )

    LISTS = ("tags", "shared_with", "route")  # shown as names, not primary keys

    def __init__(self, data: Any = None, *, service: Service) -> None:
        initial = {
            **model_to_dict(service, fields=[name for name in self.base_fields if name not in self.LISTS]),
            "tags": ", ".join(tag.name for tag in service.tags.all()),
            "shared_with": ", ".join(tenant.slug for tenant in service.shared_with.all()),
            "route": service.route.alias,
        }
        super().__init__(data, tenant=service.tenant, initial=initial)
        aliases = route_list_for(tenant=service.tenant).values_list("alias", flat=True)
        self.fields["semantic_cache_route"].choices = [("", "None"), *((alias, alias) for alias in aliases)]
        if service.kind != ServiceKind.PROMPT:  # a model API answers with chat completions: no output settings
            del self.fields["output_mode"], self.fields["output_schema"]

    def clean_semantic_cache_threshold(self) -> float:
        value = self.cleaned_data["semantic_cache_threshold"]
        return self.initial["semantic_cache_threshold"] if value is None else value  # not sent: unchanged

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if "output_schema" in data:
            data["output_schema"] = data["output_schema"] or {}
        return {"data": data}


class DeprecateForm(ServiceForm):
    sunset_on = forms.DateField(
        required=False,
        label="Sunset date",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The day it is to be retired, shown to its callers. Leave empty if not decided yet.",
    )


class PlanFields(ServiceForm):
    """The limits, budget and models of a plan. Needs the service (its tenant's routes are the models allowed)."""

    name = formfield(Plan, "name")
    description = formfield(Plan, "description")
    requests_per_minute = formfield(Plan, "requests_per_minute", help_text="Empty: unlimited.")
    requests_per_day = formfield(Plan, "requests_per_day", help_text="Empty: unlimited.")
    requests_per_month = formfield(Plan, "requests_per_month", help_text="Empty: unlimited.")
    tokens_per_minute = formfield(Plan, "tokens_per_minute", help_text="Empty: unlimited.")
    daily_budget = formfield(Plan, "daily_budget", label="Daily budget", help_text="Per UTC day. Empty: none.")
    monthly_budget = formfield(Plan, "monthly_budget", label="Monthly budget", help_text="Per UTC month. Empty: none.")
    budget_currency = formfield(Plan, "budget_currency", label="Currency", required=False)
    budget_alert_percent = formfield(
        Plan,
        "budget_alert_percent",
        label="Alert at (% of a budget)",
        help_text="The service's owners are alerted when a subscription spends this share. Empty: no alert.",
    )
    allowed_models = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Models allowed",
        help_text="Routes a subscriber may call; none ticked: the service's own route.",
    )
    over_budget_route = forms.ChoiceField(
        required=False,
        label="Once a budget is reached",
        help_text="Refuse the subscription's calls until the day or month ends, or send them to a cheaper route "
        "(one the plan allows).",
    )
    is_default = formfield(Plan, "is_default", label="Offered first (the default plan)")
    position = formfield(Plan, "position", help_text="Plans are listed by position, then name.")

    def __init__(self, data: Any = None, *, service: Service, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        aliases = list(route_list_for(tenant=service.tenant).values_list("alias", flat=True))
        self.fields["allowed_models"].choices = [(alias, alias) for alias in aliases]
        refuse = [("", "Refuse (429 budget_exceeded)")]
        cheaper = [(alias, f"Send to {alias}") for alias in aliases if alias != service.route.alias]
        self.fields["over_budget_route"].choices = refuse + cheaper  # never the service's own route

    def clean_budget_currency(self) -> str:
        return self.cleaned_data["budget_currency"] or BudgetCurrency.USD  # not sent: the only currency


class PlanCreateForm(PlanFields):
    slug = formfield(Plan, "slug", help_text="Subscriptions name it: it never changes.")

    field_order = ["name", "slug"]


class PlanEditForm(PlanFields):
    def __init__(self, data: Any = None, *, plan: Plan) -> None:
        initial = model_to_dict(plan, fields=list(self.base_fields))
        super().__init__(data, service=plan.service, initial=initial)

    def service_kwargs(self) -> dict[str, Any]:
        return {"data": dict(self.cleaned_data)}


class MarkdownPreviewForm(forms.Form):
    description = forms.CharField(required=False, max_length=100_000)


class PromptEditorGrantForm(ServiceForm):
    """Whom to give the prompt right on a service: one of its tenant's members who does not hold it yet."""

    username = forms.ChoiceField(label="Member", help_text="They may then edit, test and publish this prompt.")

    def __init__(self, *args: Any, service: Service, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].choices = [
            (m.user.username, f"{m.user.get_full_name() or m.user.username} ({m.get_role_display().lower()})")
            for m in service_prompt_editor_candidates(service=service)
        ]


class PromptEditorRevokeForm(ServiceForm):
    username = forms.CharField(max_length=150, widget=forms.HiddenInput)
