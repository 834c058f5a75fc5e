"""The portal's limits and budgets of a scope: the tenant's (shown on the tenant settings page), an app's and each
of its keys' (on the app page). A fragment for htmx, a page of its own without it; owners and admins change them,
other members read them."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.access import selectors
from apps.access.forms_limits import LimitSetForm
from apps.access.models import ApiKey, App
from apps.access.selectors.limits import limit_set_for_scope, limit_sets_by_key
from apps.access.services.limits import limit_set_put, limits_manage_allowed
from apps.core.web import is_htmx
from apps.tenants.web import tenant_required


def _limits(request: HttpRequest, *, app: App | None = None, api_key: ApiKey | None = None) -> HttpResponse:
    tenant = request.tenant
    scope = {"app": None if api_key is not None else app, "api_key": api_key}  # a key's set names no app
    limit_set = limit_set_for_scope(tenant=tenant, **scope)
    form = LimitSetForm(request.POST if request.method == "POST" else None, tenant=tenant, limit_set=limit_set)
    saved = form.is_bound and form.submit(limit_set_put, tenant=tenant, actor_membership=request.membership, **scope)
    if api_key is not None:
        url, title = reverse("access:key-limits", args=[app.slug, api_key.pk]), f"key {api_key.prefix}"
    elif app is not None:
        url, title = reverse("access:app-limits", args=[app.slug]), f"app {app.name}"
    else:
        url, title = reverse("access:tenant-limits"), f"tenant {tenant.name}"
    if saved and not is_htmx(request):
        messages.success(request, f"The limits of the {title} are saved.")
        return redirect(url)
    context = {
        "form": form,
        "url": url,
        "scope": title,
        "app": app,
        "api_key": api_key,
        "saved": saved,
        "can_manage": limits_manage_allowed(membership=request.membership, tenant=tenant),
    }
    if app is not None and api_key is None:
        by_key = limit_sets_by_key(app=app)
        context["keys"] = [(key, by_key.get(key.pk)) for key in selectors.api_key_list(app=app)]
    template = "access/_limits.html" if is_htmx(request) else "access/limits_page.html"
    return render(request, template, context, status=form.status_code)


@tenant_required()
@require_http_methods(["GET", "POST"])
def tenant_limits(request: HttpRequest) -> HttpResponse:
    return _limits(request)


@tenant_required()
@require_http_methods(["GET", "POST"])
def app_limits(request: HttpRequest, slug: str) -> HttpResponse:
    return _limits(request, app=selectors.app_get(tenant=request.tenant, slug=slug))


@tenant_required()
@require_http_methods(["GET", "POST"])
def key_limits(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    app = selectors.app_get(tenant=request.tenant, slug=slug)
    return _limits(request, app=app, api_key=selectors.api_key_get(app=app, pk=pk))
