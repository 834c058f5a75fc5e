"""The prompt editor: a new draft version from what was typed, checked as it is typed (htmx posts the form to
prompt_check, which answers each field's problems with their lines) and again at the field on submit, and a preview
of the exact messages the draft would send (rendered by the bounded renderer; no model is called). For those who may
edit the prompt (apps.prompts.permissions); others get the 403 page naming the role or right to ask for."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.edits import definition_edit
from apps.core.web import is_htmx
from apps.prompts import selectors, services
from apps.prompts.models import PromptTemplate, PromptVersion
from apps.prompts.version_forms import PreviewForm, VersionForm
from apps.prompts.views.rights import prompt_for
from apps.tenants.web import tenant_required


def _base_version(template: PromptTemplate, number: str | None) -> PromptVersion | None:
    """The version the editor starts from: the one asked for (?from=N), else the live one."""
    if number:
        return selectors.prompt_version_get(template=template, number=number)
    return template.live_version or selectors.prompt_version_list(template=template).first()


def _editor_page(
    request: HttpRequest, template: PromptTemplate, form: PreviewForm, *, status: int = 200, **extra: Any
) -> HttpResponse:
    context = {"prompt": template, "service": template.service, "form": form, **extra}
    return render(request, "prompts/prompt_editor.html", context, status=status)


@tenant_required()
@require_http_methods(["GET", "POST"])
@definition_edit
def prompt_edit(request: HttpRequest, slug: str) -> HttpResponse:
    template = prompt_for(request, slug)
    if request.method == "GET":
        base = _base_version(template, request.GET.get("from"))
        return _editor_page(request, template, PreviewForm(initial=VersionForm.initial_from(base)), base=base)
    form = PreviewForm(request.POST)
    if form.submit(services.prompt_version_create, template=template, author=request.membership):
        messages.success(request, f"Version {form.result.number} is saved as a draft: publish it to make it live.")
        return redirect("prompts:prompt-detail", slug=slug)
    return _editor_page(request, template, form, status=form.status_code)


@tenant_required()
@require_POST
def prompt_check(request: HttpRequest, slug: str) -> HttpResponse:
    """The save-time check of the typed text: every field's problems, swapped in at each field (htmx)."""
    prompt_for(request, slug)
    form = VersionForm(request.POST)
    form.is_valid()
    return render(request, "prompts/prompt_check.html", {"form": form})


@tenant_required()
@require_POST
def prompt_preview(request: HttpRequest, slug: str) -> HttpResponse:
    """The messages the draft would send with the sample variables; htmx gets the preview section only."""
    template = prompt_for(request, slug)
    form = PreviewForm(request.POST)
    status = 200 if form.is_valid() else 400
    if is_htmx(request):
        return render(request, "prompts/prompt_preview.html", {"form": form, "oob": True}, status=status)
    return _editor_page(request, template, form, status=status)
