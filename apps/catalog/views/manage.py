"""The pages where a tenant publishes its services: its list of them, a new prompt or model API, a service's
details, plans, lifecycle (publish, deprecate with a sunset date, retire) and, for a prompt API, its prompt editors
(members given the right to change its prompt). Every member reads the list; the rest
is for those the catalog's services let change services (service_manage_allowed: owners and admins), through those
same services, which audit every change. Another tenant's services are 404 here, even when the catalog shows them."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.catalog import docs, selectors, services
from apps.catalog.forms import (
    DeprecateForm,
    MarkdownPreviewForm,
    PlanCreateForm,
    PlanEditForm,
    PromptEditorGrantForm,
    PromptEditorRevokeForm,
    ServiceCreateForm,
    ServiceEditForm,
)
from apps.catalog.models import Lifecycle, Service, ServiceKind
from apps.core.edits import definition_edit
from apps.core.forms import ServiceForm
from apps.tenants.web import role_refusal, tenant_required

MOVES = {"publish": Lifecycle.PUBLISHED, "deprecate": Lifecycle.DEPRECATED, "retire": Lifecycle.RETIRED}
DONE = {
    Lifecycle.PUBLISHED: "{service} is published: the tenants that may see it find it in the catalog.",
    Lifecycle.DEPRECATED: "{service} is deprecated: it still answers, with a warning, and takes no new subscriptions.",
    Lifecycle.RETIRED: "{service} is retired: it no longer answers, and its open subscriptions were closed.",
}


def manager_required(view: Callable) -> Callable:
    """A member of the current tenant whom the catalog's services let change its services; others get the 403 page
    naming the role to ask for."""

    @tenant_required()
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not services.service_manage_allowed(membership=request.membership, tenant=request.tenant):
            raise PermissionDenied(role_refusal(request.membership, services.MANAGE_ROLE))
        return view(request, *args, **kwargs)

    return wrapper


@tenant_required()
@require_GET
def own_service_list(request: HttpRequest) -> HttpResponse:
    """The services the tenant publishes, in every lifecycle."""
    context = {
        "services": selectors.service_list(tenant=request.tenant),
        "can_manage": services.service_manage_allowed(membership=request.membership, tenant=request.tenant),
    }
    return render(request, "catalog/own_service_list.html", context)


@manager_required
@require_http_methods(["GET", "POST"])
def service_create(request: HttpRequest) -> HttpResponse:
    form = ServiceCreateForm(request.POST if request.method == "POST" else None, tenant=request.tenant)
    if form.is_bound and form.submit(
        services.service_create_of_kind, tenant=request.tenant, actor_membership=request.membership
    ):
        messages.success(request, f"{form.result} is created, as a draft: add a plan, then publish it.")
        return redirect("catalog:service-manage", slug=form.result.slug)
    context = {"form": form, "routes_exist": form.fields["route"].queryset.exists()}
    return render(request, "catalog/service_create.html", context, status=form.status_code)


@tenant_required()
@require_POST
def markdown_preview(request: HttpRequest) -> HttpResponse:
    """The description as the catalog will show it (htmx)."""
    form = MarkdownPreviewForm(request.POST)
    text = form.cleaned_data["description"] if form.is_valid() else ""
    html = mark_safe(docs.markdown_html(text))  # noqa: S308 - sanitized by nh3
    return render(request, "catalog/_markdown_preview.html", {"html": html})


def _manage_page(request: HttpRequest, service: Service, *, status: int = 200, **forms) -> HttpResponse:
    """A service's page for its managers. `forms` replace the blank ones: an action that was refused shows its
    errors where it was asked (`deprecate_form`, `lifecycle_form`, `plan_form` with `refused_plan`, `editor_form`,
    `revoke_form`)."""
    context = {
        "service": service,
        "moves": services.service_lifecycle_moves(service=service),
        "deprecate_form": DeprecateForm(),
        **forms,
    }
    if service.kind == ServiceKind.PROMPT:
        context["prompt_editors"] = selectors.service_prompt_editors(service=service)
        context.setdefault("editor_form", PromptEditorGrantForm(service=service))
    return render(request, "catalog/service_manage.html", context, status=status)


@manager_required
@require_GET
def service_manage(request: HttpRequest, slug: str) -> HttpResponse:
    return _manage_page(request, selectors.service_get(tenant=request.tenant, slug=slug))


@manager_required
@require_http_methods(["GET", "POST"])
@definition_edit
def service_edit(request: HttpRequest, slug: str) -> HttpResponse:
    service = selectors.service_get(tenant=request.tenant, slug=slug)
    form = ServiceEditForm(request.POST if request.method == "POST" else None, service=service)
    # partial(): ServiceForm.submit's own first parameter is called `service`.
    if form.is_bound and form.submit(
        partial(services.service_update, service=service), actor_membership=request.membership
    ):
        messages.success(request, f"{service} is saved.")
        return redirect("catalog:service-manage", slug=slug)
    return render(request, "catalog/service_edit.html", {"service": service, "form": form}, status=form.status_code)


@manager_required
@require_POST
@definition_edit
def service_lifecycle(request: HttpRequest, slug: str, move: str) -> HttpResponse:
    """Publish, deprecate (with an optional sunset date) or retire; a refusal is shown at the action."""
    service = selectors.service_get(tenant=request.tenant, slug=slug)
    lifecycle = MOVES[move]
    form = DeprecateForm(request.POST) if lifecycle == Lifecycle.DEPRECATED else ServiceForm(request.POST)
    move_it = partial(services.service_set_lifecycle, service=service, lifecycle=lifecycle)
    if form.submit(move_it, actor_membership=request.membership):
        messages.success(request, DONE[lifecycle].format(service=service))
        return redirect("catalog:service-manage", slug=slug)
    service = selectors.service_get(tenant=request.tenant, slug=slug)  # as it is now, not as the refusal left it
    refused = {"deprecate_form": form} if lifecycle == Lifecycle.DEPRECATED else {"lifecycle_form": form}
    return _manage_page(request, service, status=form.status_code, **refused)


@manager_required
@require_http_methods(["GET", "POST"])
@definition_edit
def plan_create(request: HttpRequest, slug: str) -> HttpResponse:
    service = selectors.service_get(tenant=request.tenant, slug=slug)
    form = PlanCreateForm(request.POST if request.method == "POST" else None, service=service)
    if form.is_bound and form.submit(
        partial(services.plan_create, service=service), actor_membership=request.membership
    ):
        messages.success(request, f"Plan {form.result.name} is added to {service}.")
        return redirect("catalog:service-manage", slug=slug)
    context = {"service": service, "form": form}
    return render(request, "catalog/plan_form.html", context, status=form.status_code)


@manager_required
@require_http_methods(["GET", "POST"])
@definition_edit
def plan_edit(request: HttpRequest, slug: str, plan_slug: str) -> HttpResponse:
    service = selectors.service_get(tenant=request.tenant, slug=slug)
    plan = selectors.plan_get(service=service, slug=plan_slug)
    form = PlanEditForm(request.POST if request.method == "POST" else None, plan=plan)
    if form.is_bound and form.submit(services.plan_update, plan=plan, actor_membership=request.membership):
        messages.success(request, f"Plan {plan.name} is saved.")
        return redirect("catalog:service-manage", slug=slug)
    context = {"service": service, "plan": plan, "form": form}
    return render(request, "catalog/plan_form.html", context, status=form.status_code)


@manager_required
@require_POST
@definition_edit
def plan_delete(request: HttpRequest, slug: str, plan_slug: str) -> HttpResponse:
    service = selectors.service_get(tenant=request.tenant, slug=slug)
    plan = selectors.plan_get(service=service, slug=plan_slug)
    form = ServiceForm(request.POST)
    if form.submit(services.plan_delete, plan=plan, actor_membership=request.membership):
        messages.success(request, f"Plan {plan.name} is deleted.")
        return redirect("catalog:service-manage", slug=slug)
    service = selectors.service_get(tenant=request.tenant, slug=slug)
    return _manage_page(request, service, status=form.status_code, plan_form=form, refused_plan=plan.slug)


def _editors_outcome(
    request: HttpRequest, service: Service, form: ServiceForm, done: str, refused: str
) -> HttpResponse:
    """Back to the prompt editors panel with a message, or the page with the refusal in the panel."""
    if not form.errors:
        messages.success(request, done)
        return redirect(reverse("catalog:service-manage", args=[service.slug]) + "#prompt-editors")
    return _manage_page(request, service, status=form.status_code, **{refused: form})


@manager_required
@require_POST
def prompt_editor_grant(request: HttpRequest, slug: str) -> HttpResponse:
    service = selectors.service_get(tenant=request.tenant, slug=slug)
    form = PromptEditorGrantForm(request.POST, service=service)
    form.submit(partial(services.service_prompt_editor_grant, service=service), actor_membership=request.membership)
    done = f"{form.cleaned_data.get('username')} may now edit, test and publish the prompt of {service}."
    return _editors_outcome(request, service, form, done, "editor_form")


@manager_required
@require_POST
def prompt_editor_revoke(request: HttpRequest, slug: str) -> HttpResponse:
    service = selectors.service_get(tenant=request.tenant, slug=slug)
    form = PromptEditorRevokeForm(request.POST)
    form.submit(partial(services.service_prompt_editor_revoke, service=service), actor_membership=request.membership)
    done = f"{form.cleaned_data.get('username')} no longer holds the prompt right on {service}."
    return _editors_outcome(request, service, form, done, "revoke_form")
