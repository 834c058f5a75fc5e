"""The try-it panel of a service's page: invoke the service as one of my apps, server-side on my session (no key in
the page), and see the answer, its headers, the latency and the same call as curl.

The input is a form generated from the top-level properties of the service's input schema, or the whole body as
raw JSON. The call runs through the gateway's real invoke path (subscription, input schema, prompt, route, call log)
behind the catalog's ServiceTrier port: the control plane never imports the gateway. Whoever may manage an app may
act for it, as for its keys; the pipeline then asks for the app's approved subscription like for any call."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from apps.access import selectors
from apps.access.models import App
from apps.access.views_subscribe import my_apps, require_developer
from apps.catalog import docs, openapi
from apps.catalog.models import Service
from apps.catalog.selectors import service_get_visible
from apps.catalog.services.ports import TryItCall, TryItResult, service_trier
from apps.tenants.models import Role
from apps.tenants.web import tenant_required

FORM, RAW = "form", "raw"
BOOLEANS = {"true": True, "false": False}
SHORT_TEXT = 120  # strings allowed no longer than this get a one-line input; others a text area


def _typed_field(schema: Any, *, label: str, required: bool) -> forms.Field:
    """A form field for one top-level property: strings, numbers, integers, booleans and enums typed; anything else
    (objects, arrays, references) is typed as JSON."""
    schema = schema if isinstance(schema, dict) else {}
    common = {"label": label, "required": required, "help_text": schema.get("description", "")}
    kind = schema.get("type")
    if isinstance(schema.get("enum"), list):
        choices = [("", "—")] + [(json.dumps(value), str(value)) for value in schema["enum"]]
        return forms.TypedChoiceField(choices=choices, coerce=json.loads, empty_value=None, **common)
    if kind == "boolean":
        choices = [("", "—"), ("true", "true"), ("false", "false")]
        return forms.TypedChoiceField(choices=choices, coerce=BOOLEANS.__getitem__, empty_value=None, **common)
    if kind == "integer":
        return forms.IntegerField(**common)
    if kind == "number":
        return forms.FloatField(**common)
    if kind == "string":
        short = schema.get("maxLength", SHORT_TEXT + 1) <= SHORT_TEXT
        return forms.CharField(widget=None if short else forms.Textarea(attrs={"rows": 3}), strip=False, **common)
    common["help_text"] = " ".join(filter(None, [common["help_text"], "As JSON."]))
    return forms.JSONField(widget=forms.Textarea(attrs={"rows": 3}), **common)


class TryItForm(forms.Form):
    """The app to call as, then the input: one field per top-level property (mode "form", field_<n> for the n-th
    property, whatever its name) or the body as JSON (mode "raw")."""

    app = forms.ChoiceField(label="Call as app")
    raw = forms.CharField(label="Body (JSON)", required=False, strip=False, widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, data: Any = None, *, apps: list[App], service: Service, mode: str) -> None:
        super().__init__(data, prefix=mode)
        self.mode = mode
        self.apps = {app.slug: app for app in apps}
        self.fields["app"].choices = [(app.slug, app.name) for app in apps]
        schema = service.input_schema if isinstance(service.input_schema, dict) else {}
        required = list(schema.get("required") or [])
        # Required ones first, in their order, then the others by name: the stored schema (jsonb) keeps no key order.
        order = {name: n for n, name in enumerate(required)}
        properties = (schema.get("properties") or {}).items() if mode == FORM else ()
        self.properties = sorted(properties, key=lambda item: (order.get(item[0], len(order)), item[0]))
        for number, (name, prop) in enumerate(self.properties):
            self.fields[f"field_{number}"] = _typed_field(prop, label=name, required=name in required)
        if mode == FORM:
            del self.fields["raw"]
        else:
            self.fields["raw"].required = True
            self.fields["raw"].initial = json.dumps(docs.example_body(schema), indent=2, ensure_ascii=False)

    def clean_raw(self) -> Any:
        try:
            return json.loads(self.cleaned_data["raw"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None

    def body(self) -> Any:
        if self.mode == RAW:
            return self.cleaned_data["raw"]
        values = ((name, self.cleaned_data[f"field_{n}"]) for n, (name, _) in enumerate(self.properties))
        return {name: value for name, value in values if value not in (None, "")}

    def add_input_errors(self, fields: dict[str, str]) -> None:
        """The pipeline's error.fields (path → problem) at the field they concern, or above the form."""
        numbers = {name: n for n, (name, _) in enumerate(self.properties)}
        for path, problem in fields.items():
            top = path.split(".")[0]
            if self.mode == RAW:
                self.add_error("raw", f"{path}: {problem}")
            elif top in numbers:
                self.add_error(f"field_{numbers[top]}", problem if path == top else f"{path}: {problem}")
            else:
                self.add_error(None, f"{path}: {problem}")


def _callers(request: HttpRequest, service: Service) -> list[App]:
    """My apps that may call the service: all of them for a service of my own tenant that asks no subscription of its
    own apps, else those with an active subscription (the pipeline checks again, from its snapshot)."""
    apps = my_apps(request)
    if service.tenant_id == request.tenant.pk and not request.tenant.require_internal_subscriptions:
        return apps
    active = set(
        selectors.subscription_list_active().filter(service=service, app__in=apps).values_list("app_id", flat=True)
    )
    return [app for app in apps if app.pk in active]


def _panel(request: HttpRequest, service: Service, context: dict[str, Any], status: int = 200) -> HttpResponse:
    apps = _callers(request, service) if request.membership.has_role(Role.DEVELOPER) else []
    forms_by_mode = {mode: TryItForm(apps=apps, service=service, mode=mode) for mode in (FORM, RAW)}
    if "form" in context:
        forms_by_mode[context["form"].mode] = context["form"]
    context = {
        "service": service,
        "apps": apps,
        "can_try": request.membership.has_role(Role.DEVELOPER),
        "form_mode": forms_by_mode[FORM],
        "raw_mode": forms_by_mode[RAW],
        **context,
    }
    return render(request, "catalog/_try_it_panel.html", context, status=status)


def _shown(service: Service, request: HttpRequest, body: Any, result: TryItResult) -> dict[str, Any]:
    document = openapi.service_openapi(service, server_url=request.build_absolute_uri("/").rstrip("/"))
    url, _ = docs.call_example(document)
    return {
        "status": result.status,
        "ok": 200 <= result.status < 300,
        "latency_ms": result.latency_ms,
        "headers": sorted(result.headers.items()),
        "body": json.dumps(result.body, indent=2, ensure_ascii=False),
        "curl": docs.curl_snippet(url=url, body=body),
    }


@tenant_required()
@require_http_methods(["GET", "POST"])
def service_try_it(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the panel (for developers and up: the apps they may call as). POST: one call; the answer below the form,
    the input's problems at their field."""
    service = service_get_visible(tenant=request.tenant, slug=slug)
    if request.method == "GET":
        return _panel(request, service, {})
    require_developer(request)
    mode = RAW if request.POST.get("mode") == RAW else FORM
    form = TryItForm(request.POST, apps=_callers(request, service), service=service, mode=mode)
    if not form.is_valid():
        return _panel(request, service, {"form": form, "open_raw": mode == RAW}, status=400)
    app, body = form.apps[form.cleaned_data["app"]], form.body()
    call = TryItCall(
        tenant_id=request.tenant.pk,
        tenant_slug=request.tenant.slug,
        app_id=app.pk,
        app_slug=app.slug,
        service_slug=service.slug,
        body=body,
    )
    result = service_trier()(call)
    form.add_input_errors(dict(result.field_errors))
    context = {"form": form, "open_raw": mode == RAW, "result": _shown(service, request, body, result)}
    return _panel(request, service, context, status=400 if result.field_errors else 200)
