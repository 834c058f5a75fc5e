"""Web pages of providers, models and routes. Every member reads them; owners and admins change them, through
services. A provider's API key is only ever posted: no page renders it back."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.edits import definition_edit
from apps.core.forms import ServiceForm
from apps.core.web import flash_outcome, is_htmx, redirect_after_action
from apps.providers import selectors, services
from apps.providers.forms import (
    DeploymentAddForm,
    DeploymentUpdateForm,
    ProviderCreateForm,
    ProviderModelCreateForm,
    ProviderModelUpdateForm,
    ProviderUpdateForm,
    RouteCreateForm,
    RouteUpdateForm,
)
from apps.tenants.models import Role
from apps.tenants.web import tenant_required


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Render with `can_manage`: whether the member may change providers, models and routes (owners, admins)."""
    return render(request, template, {"can_manage": request.membership.has_role(Role.ADMIN), **context}, status=status)


@sensitive_post_parameters("api_key")
@tenant_required()
@require_http_methods(["GET", "POST"])
def provider_list(request: HttpRequest) -> HttpResponse:
    """The tenant's providers; POST adds one (admins)."""
    form = ProviderCreateForm(request.POST) if request.method == "POST" else ProviderCreateForm()
    if form.is_bound and form.submit(
        services.provider_create, tenant=request.tenant, actor_membership=request.membership
    ):
        messages.success(request, f"Provider {form.result} added. Test its connection, then sync its models.")
        return redirect("providers:provider-list")
    context = {"providers": selectors.provider_list(tenant=request.tenant), "form": form}
    return _page(request, "providers/provider_list.html", context, status=form.status_code)


@sensitive_post_parameters("api_key")
@tenant_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def provider_edit(request: HttpRequest, slug: str) -> HttpResponse:
    provider = selectors.provider_get(tenant=request.tenant, slug=slug)
    form = ProviderUpdateForm.of(provider, request.POST if request.method == "POST" else None)
    if form.is_bound and form.submit(services.provider_update, provider=provider, actor_membership=request.membership):
        messages.success(request, f"Provider {provider} saved.")
        return redirect("providers:provider-list")
    return _page(request, "providers/provider_edit.html", {"provider": provider, "form": form}, status=form.status_code)


def _provider_outcome(request: HttpRequest, slug: str, form: ServiceForm, notice: str = "") -> HttpResponse:
    """The provider's row as it is now, showing the outcome (htmx), or the providers page with the outcome as a
    flash message. The row answers 200 even when the provider failed (502): it is the place that says so."""
    if not is_htmx(request):
        flash_outcome(request, form, success=notice)
        return redirect("providers:provider-list")
    context = {
        "provider": selectors.provider_get(tenant=request.tenant, slug=slug),
        "notice": notice,
        "errors": form.error_texts(),
    }
    return _page(request, "providers/_provider_row.html", context)


@tenant_required(Role.ADMIN)
@require_POST
def provider_test(request: HttpRequest, slug: str) -> HttpResponse:
    """Try the provider's credential; the row shows the outcome in its last-check badge."""
    provider = selectors.provider_get(tenant=request.tenant, slug=slug)
    form = ServiceForm(request.POST)
    form.submit(services.provider_test_connection, provider=provider, actor_membership=request.membership)
    return _provider_outcome(request, slug, form)


@tenant_required(Role.ADMIN)
@require_POST
def provider_sync(request: HttpRequest, slug: str) -> HttpResponse:
    """Import the provider's new models and publish each as a route of the same name."""
    provider = selectors.provider_get(tenant=request.tenant, slug=slug)
    form = ServiceForm(request.POST)
    notice = ""
    if form.submit(services.provider_sync_models, provider=provider, actor_membership=request.membership):
        count = len(form.result)
        notice = f"Imported {count} new model{'s' if count != 1 else ''}." if count else "No new models."
    return _provider_outcome(request, slug, form, notice=notice)


@tenant_required(Role.ADMIN)
@require_POST
def provider_delete(request: HttpRequest, slug: str) -> HttpResponse:
    provider = selectors.provider_get(tenant=request.tenant, slug=slug)
    form = ServiceForm(request.POST)
    if form.submit(services.provider_delete, provider=provider, actor_membership=request.membership) and is_htmx(
        request
    ):
        return HttpResponse("")  # "" deletes the row
    flash_outcome(request, form, success=f"Provider {provider} and its models were deleted.")
    return redirect_after_action(request, "providers:provider-list")


@tenant_required()
@require_http_methods(["GET", "POST"])
def model_list(request: HttpRequest) -> HttpResponse:
    """The models of the tenant's providers, with prices; POST adds one (admins)."""
    data = request.POST if request.method == "POST" else None
    form = ProviderModelCreateForm(data, tenant=request.tenant)
    if form.is_bound and form.submit(services.model_create, actor_membership=request.membership):
        messages.success(request, f"Model {form.result.name} added. Deploy it on a route to call it.")
        return redirect("providers:model-list")
    context = {"models": selectors.model_list(tenant=request.tenant), "form": form}
    return _page(request, "providers/model_list.html", context, status=form.status_code)


@tenant_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def model_edit(request: HttpRequest, pk: int) -> HttpResponse:
    model = selectors.model_get(tenant=request.tenant, pk=pk)
    form = ProviderModelUpdateForm.of(model, request.POST if request.method == "POST" else None)
    if form.is_bound and form.submit(services.model_update, model=model, actor_membership=request.membership):
        messages.success(request, f"Model {model.name} saved.")
        return redirect("providers:model-list")
    return _page(request, "providers/model_edit.html", {"model": model, "form": form}, status=form.status_code)


@tenant_required(Role.ADMIN)
@require_POST
def model_delete(request: HttpRequest, pk: int) -> HttpResponse:
    model = selectors.model_get(tenant=request.tenant, pk=pk)
    form = ServiceForm(request.POST)
    if form.submit(services.model_delete, model=model, actor_membership=request.membership) and is_htmx(request):
        return HttpResponse("")  # "" deletes the row
    flash_outcome(request, form, success=f"Model {model.name} and its deployments were deleted.")
    return redirect_after_action(request, "providers:model-list")


@tenant_required()
@require_http_methods(["GET", "POST"])
@definition_edit
def route_list(request: HttpRequest) -> HttpResponse:
    """The tenant's routes (the model names apps call); POST adds one (admins)."""
    form = RouteCreateForm(request.POST) if request.method == "POST" else RouteCreateForm()
    if form.is_bound and form.submit(services.route_create, tenant=request.tenant, actor_membership=request.membership):
        messages.success(request, f"Route {form.result} added. Give it a deployment to serve it.")
        return redirect("providers:route-detail", alias=form.result.alias)
    context = {"routes": selectors.route_list(tenant=request.tenant), "form": form}
    return _page(request, "providers/route_list.html", context, status=form.status_code)


@tenant_required()
@require_http_methods(["GET", "POST"])
@definition_edit
def route_detail(request: HttpRequest, alias: str) -> HttpResponse:
    """A route with its deployments; POST changes its settings (admins)."""
    route = selectors.route_get(tenant=request.tenant, alias=alias)
    form = RouteUpdateForm.of(route, request.POST if request.method == "POST" else None)
    if form.is_bound and form.submit(services.route_update, route=route, actor_membership=request.membership):
        messages.success(request, f"Route {route} saved.")
        return redirect("providers:route-detail", alias=route.alias)
    context = {**_deployment_context(request, alias), "form": form, "used_by": selectors.route_used_by(route=route)}
    return _page(request, "providers/route_detail.html", context, status=form.status_code)


@tenant_required(Role.ADMIN)
@require_POST
@definition_edit
def route_delete(request: HttpRequest, alias: str) -> HttpResponse:
    route = selectors.route_get(tenant=request.tenant, alias=alias)
    form = ServiceForm(request.POST)
    if form.submit(services.route_delete, route=route, actor_membership=request.membership):
        messages.success(request, f"Route {route} was deleted: apps calling it get an error now.")
        return redirect_after_action(request, "providers:route-list")
    flash_outcome(request, form)
    return redirect_after_action(request, reverse("providers:route-detail", kwargs={"alias": alias}))


def _deployment_context(request: HttpRequest, alias: str, add_form: DeploymentAddForm | None = None, change=None):
    """The deployments section of a route: its deployments with their traffic shares, the add form, and `change`,
    (deployment, form) of a change that was refused."""
    route = selectors.route_get(tenant=request.tenant, alias=alias)
    return {
        "route": route,
        "deployments": selectors.deployment_list_with_shares(route=route),
        "add_form": add_form or DeploymentAddForm(tenant=request.tenant),
        "change": change,
    }


def _deployment_outcome(request: HttpRequest, alias: str, form: ServiceForm, success: str, **section) -> HttpResponse:
    """The deployments section as it is now (htmx), or the route page with the outcome as a flash message."""
    if is_htmx(request):
        context = _deployment_context(request, alias, **section)
        return _page(request, "providers/_deployment_section.html", context, status=form.status_code)
    flash_outcome(request, form, success=success)
    return redirect("providers:route-detail", alias=alias)


@tenant_required(Role.ADMIN)
@require_POST
@definition_edit
def deployment_add(request: HttpRequest, alias: str) -> HttpResponse:
    route = selectors.route_get(tenant=request.tenant, alias=alias)
    form = DeploymentAddForm(request.POST, tenant=request.tenant)
    form.submit(services.deployment_add, route=route, actor_membership=request.membership)
    return _deployment_outcome(request, alias, form, "Deployment added.", add_form=form if form.errors else None)


@tenant_required(Role.ADMIN)
@require_POST
@definition_edit
def deployment_edit(request: HttpRequest, alias: str, pk: int) -> HttpResponse:
    deployment = selectors.deployment_get(route=selectors.route_get(tenant=request.tenant, alias=alias), pk=pk)
    form = DeploymentUpdateForm(request.POST)
    form.submit(services.deployment_update, deployment=deployment, actor_membership=request.membership)
    change = (deployment, form) if form.errors else None
    return _deployment_outcome(request, alias, form, f"Deployment of {deployment.model.name} saved.", change=change)


@tenant_required(Role.ADMIN)
@require_POST
@definition_edit
def deployment_remove(request: HttpRequest, alias: str, pk: int) -> HttpResponse:
    deployment = selectors.deployment_get(route=selectors.route_get(tenant=request.tenant, alias=alias), pk=pk)
    form = ServiceForm(request.POST)
    form.submit(services.deployment_remove, deployment=deployment, actor_membership=request.membership)
    change = (deployment, form) if form.errors else None
    return _deployment_outcome(request, alias, form, f"Deployment of {deployment.model.name} removed.", change=change)
