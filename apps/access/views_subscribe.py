"""The subscribe panel of a service's page (templates/catalog/service_detail.html loads it with htmx): each of the
tenant's apps' subscription to the service, and a form to subscribe one of the person's apps.

It lives in the access app because apps, who manages them and subscriptions are its own; the catalog, lower in the
layers, only loads the panel by its address. Subscribing goes through subscription_request: the API's rules and
audit. The try-it panel is in views_try_it.py; both are routed by urls_service_panels.py."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from apps.access import selectors, services
from apps.access.forms import SubscriptionRequestForm
from apps.access.models import App
from apps.catalog.models import Lifecycle, Service
from apps.catalog.selectors import service_get_visible
from apps.tenants.models import Role
from apps.tenants.web import role_refusal, tenant_required


def require_developer(request: HttpRequest) -> None:
    """Acting for an app needs the developer role (then app_can_manage decides which apps): the 403 page names it."""
    if not request.membership.has_role(Role.DEVELOPER):
        raise PermissionDenied(role_refusal(request.membership, Role.DEVELOPER))


def my_apps(request: HttpRequest) -> list[App]:
    """The apps the person may act for: the one rule of managing an app (and its keys)."""
    apps = selectors.app_list(tenant=request.tenant)
    return [app for app in apps if selectors.app_can_manage(membership=request.membership, app=app)]


def _subscribe_form(request: HttpRequest, service: Service | None, data: Any = None) -> SubscriptionRequestForm:
    offered = [service] if service is not None and service.lifecycle == Lifecycle.PUBLISHED else []
    form = SubscriptionRequestForm(data, apps=my_apps(request), services=offered)
    form.fields["plan"].label = "Plan"
    form.fields["plan"].help_text = "" if offered else form.fields["plan"].help_text
    return form


def _subscribe_panel(
    request: HttpRequest,
    slug: str,
    service: Service | None,
    form: SubscriptionRequestForm | None,
    status: int = 200,
    done: str = "",
    refusal: str = "",
) -> HttpResponse:
    context = {
        "slug": slug,
        "done": done,
        "refusal": refusal,
        "service": service,
        "form": form,
        "can_subscribe": request.membership.has_role(Role.DEVELOPER),
        "subscriptions": (
            selectors.subscription_list_for_app_tenant(tenant=request.tenant, filters={"service": slug})
            if service is not None
            else []
        ),
    }
    return render(request, "access/_subscribe_panel.html", context, status=status)


@tenant_required()
@require_http_methods(["GET", "POST"])
def service_subscribe(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the panel — each of the tenant's apps' subscription to the service, and the subscribe form for whoever
    may manage an app. POST: subscribe (developers and up); refusals at their field or above the form."""
    if request.method == "GET":
        service = service_get_visible(tenant=request.tenant, slug=slug)
        return _subscribe_panel(request, slug, service, _subscribe_form(request, service))
    require_developer(request)
    try:
        service = service_get_visible(tenant=request.tenant, slug=slug)
    except Http404:
        # Gone from the tenant's view since the page was shown: said at the action, as if it never existed.
        refusal = f"No service {slug!r} is visible to {request.tenant}: nothing was requested."
        return _subscribe_panel(request, slug, None, None, status=404, refusal=refusal)
    form = _subscribe_form(request, service, request.POST)
    if not form.submit(services.subscription_request, actor_membership=request.membership):
        return _subscribe_panel(request, slug, service, form, status=form.status_code)
    subscription = form.result
    done = (
        f"{subscription.app} is subscribed to {service}: approved at once."
        if subscription.is_active
        else f"{subscription.app} asked for the {subscription.plan.name} plan: {service.tenant} decides."
    )
    return _subscribe_panel(request, slug, service, _subscribe_form(request, service), done=done)
