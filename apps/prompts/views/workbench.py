"""The prompt workbench's pages: the tenant's prompts, a prompt's page (live version, A/B split, history) and the
actions that decide what serves traffic (publish, A/B weights, rollback). Every member reads; those
apps.prompts.permissions lets decide act (owners and admins, or holders of the prompt right on the service; the
services enforce it too, and audit each change). Another tenant's prompts are 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.core.edits import definition_edit
from apps.core.forms import ServiceForm
from apps.core.web import redirect_after_action
from apps.prompts import selectors, services
from apps.prompts.models import PromptTemplate
from apps.prompts.version_forms import DiffForm, SplitForm, VersionNumberForm
from apps.prompts.views.rights import prompt_for, prompt_rights
from apps.tenants.web import tenant_required


@tenant_required()
@require_GET
def prompt_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "prompts/prompt_list.html", {"prompts": selectors.prompt_template_list(tenant=request.tenant)}
    )


def _prompt_context(request: HttpRequest, template: PromptTemplate) -> dict[str, Any]:
    """What the prompt's page and its panel on the catalog page both show: the A/B split and the person's rights."""
    split = {entry["version"]: entry["weight"] for entry in template.ab_split}
    return {
        "prompt": template,
        "service": template.service,
        "split": split,
        "split_total": sum(split.values()),
        **prompt_rights(request, template),
    }


def _prompt_page(
    request: HttpRequest, template: PromptTemplate, *, status: int = 200, **forms: ServiceForm
) -> HttpResponse:
    """A prompt's page; `forms` replace the blank ones when an action was refused (its errors show at the action)."""
    versions = list(selectors.prompt_version_list(template=template))
    context = {
        **_prompt_context(request, template),
        "versions": versions,
        "split_form": SplitForm(template=template, versions=versions),
        "diff_form": DiffForm(initial={"a": versions[1].number if len(versions) > 1 else 1, "b": versions[0].number}),
        **forms,
    }
    return render(request, "prompts/prompt_detail.html", context, status=status)


@tenant_required()
@require_GET
def prompt_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return _prompt_page(request, selectors.prompt_template_get(tenant=request.tenant, service_slug=slug))


@tenant_required()
@require_GET
def prompt_panel(request: HttpRequest, slug: str) -> HttpResponse:
    """The prompt's panel on its catalog page (htmx, for the members of its tenant): live version, A/B split, links."""
    template = selectors.prompt_template_get(tenant=request.tenant, service_slug=slug)
    return render(request, "prompts/_service_panel.html", _prompt_context(request, template))


def _outcome(request: HttpRequest, form: ServiceForm, slug: str, done: str, refused: str) -> HttpResponse:
    """After an action: back to the prompt page with a message, or the page with the refusal at the action."""
    if not form.errors:
        messages.success(request, done)
        return redirect_after_action(request, reverse("prompts:prompt-detail", args=[slug]))
    template = selectors.prompt_template_get(tenant=request.tenant, service_slug=slug)  # as it is now
    return _prompt_page(request, template, status=form.status_code, **{refused: form})


@tenant_required()
@require_POST
@definition_edit
def prompt_publish(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    template = prompt_for(request, slug, publish=True)
    version = selectors.prompt_version_get(template=template, number=number)
    form = ServiceForm(request.POST)
    form.submit(
        services.prompt_version_publish,
        template=template,
        version_number=version.number,
        actor_membership=request.membership,
    )
    done = f"Version {number} is live: the next invocation of {template.service.slug} uses it."
    return _outcome(request, form, slug, done, "action_form")


@tenant_required()
@require_POST
@definition_edit
def prompt_rollback(request: HttpRequest, slug: str) -> HttpResponse:
    template = prompt_for(request, slug, publish=True)
    form = VersionNumberForm(request.POST)
    form.submit(services.prompt_rollback, template=template, actor_membership=request.membership)
    done = f"Rolled back: version {form.cleaned_data.get('version')} is live again."
    return _outcome(request, form, slug, done, "action_form")


@tenant_required()
@require_POST
@definition_edit
def prompt_ab_set(request: HttpRequest, slug: str) -> HttpResponse:
    template = prompt_for(request, slug, publish=True)
    versions = list(selectors.prompt_version_list(template=template))
    form = SplitForm(request.POST, template=template, versions=versions)
    form.submit(services.prompt_ab_set, template=template, actor_membership=request.membership)
    done = "The A/B split is saved." if form.is_valid() and form.service_kwargs()["split"] else "The A/B split is off."
    return _outcome(request, form, slug, done, "split_form")
