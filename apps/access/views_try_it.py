"""The try-it panel of a service's page: call the service as one of my apps, server-side on my session (no key in
the page), and see the answer, its headers, the latency and the same call as curl.

The input (forms_try_it.py) is, for a prompt API, a form generated from the top-level properties of its input
schema; for a model API, a chat (system and user message, max_tokens, temperature); or the whole body as raw JSON.
The call runs through the gateway's real path — a prompt API's invocation, a model API's /v1 chat completion —
behind the catalog's ServiceTrier port: the control plane never imports the gateway. Whoever may manage an app may
act for it, as for its keys; the pipeline then asks for the app's approved subscription like for any call."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from apps.access import selectors
from apps.access.forms_try_it import FORM, RAW, ChatTryItForm, TryItForm
from apps.access.models import App
from apps.access.views_subscribe import my_apps, require_developer
from apps.catalog import docs, openapi
from apps.catalog.models import Service, ServiceKind
from apps.catalog.selectors import service_get_visible
from apps.catalog.services.ports import TryItCall, TryItResult, service_trier
from apps.tenants.models import Role
from apps.tenants.web import tenant_required


def _own_model_api(request: HttpRequest, service: Service) -> bool:
    # The owners' apps call their model API's route by its alias, without a subscription (resolve_route on /v1).
    return service.kind == ServiceKind.MODEL and service.tenant_id == request.tenant.pk


def _callers(request: HttpRequest, service: Service) -> list[App]:
    """My apps that may call the service: all of them for a service of my own tenant that asks no subscription of its
    own apps (a model API never does), else those with an active subscription (the pipeline checks again, from its
    snapshot)."""
    apps = my_apps(request)
    own = service.tenant_id == request.tenant.pk
    if own and (service.kind == ServiceKind.MODEL or not request.tenant.require_internal_subscriptions):
        return apps
    active = set(
        selectors.subscription_list_active().filter(service=service, app__in=apps).values_list("app_id", flat=True)
    )
    return [app for app in apps if app.pk in active]


def _form(
    request: HttpRequest, service: Service, *, apps: list[App], mode: str, data: Any = None
) -> TryItForm | ChatTryItForm:
    if service.kind == ServiceKind.MODEL:
        model = service.route.alias if _own_model_api(request, service) else service.slug
        return ChatTryItForm(data, apps=apps, model=model, mode=mode)
    return TryItForm(data, apps=apps, service=service, mode=mode)


def _panel(request: HttpRequest, service: Service, context: dict[str, Any], status: int = 200) -> HttpResponse:
    apps = _callers(request, service) if request.membership.has_role(Role.DEVELOPER) else []
    forms_by_mode = {mode: _form(request, service, apps=apps, mode=mode) for mode in (FORM, RAW)}
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


def _chat_text(body: Any) -> str | None:
    """A chat completion's answer text (choices[0].message.content), None when there is none."""
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


def _shown(service: Service, request: HttpRequest, body: Any, result: TryItResult) -> dict[str, Any]:
    document = openapi.service_openapi(service, server_url=request.build_absolute_uri("/").rstrip("/"))
    url, _ = docs.call_example(document)
    error = result.body.get("error") if isinstance(result.body, dict) else None
    return {
        "status": result.status,
        "ok": 200 <= result.status < 300,
        "latency_ms": result.latency_ms,
        "headers": sorted(result.headers.items()),
        "body": json.dumps(result.body, indent=2, ensure_ascii=False),
        "error": error.get("message", "") if isinstance(error, dict) else "",
        "answer": _chat_text(result.body) if service.kind == ServiceKind.MODEL else None,
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
    form = _form(request, service, apps=_callers(request, service), mode=mode, data=request.POST)
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
    trier = service_trier()
    result = trier.chat(call) if service.kind == ServiceKind.MODEL else trier(call)
    form.add_input_errors(dict(result.field_errors))
    context = {"form": form, "open_raw": mode == RAW, "result": _shown(service, request, body, result)}
    return _panel(request, service, context, status=400 if result.field_errors else 200)
