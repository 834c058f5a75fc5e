"""A prompt's test cases: every member reads them and their runs; those who may edit the prompt (developers and up,
or holders of the prompt right on its service) add, change and delete cases and run them against any version (as
in the API). Runs go on in a Celery task; the run's page polls with htmx
until it is finished."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.forms import ServiceForm
from apps.core.web import flash_outcome, redirect_after_action
from apps.prompts import selectors, services
from apps.prompts.forms import TestCaseForm, TestRunForm
from apps.prompts.models import PromptTemplate
from apps.prompts.views.rights import prompt_for, prompt_rights
from apps.tenants.web import tenant_required

RECENT_RUNS = 5


def _list_page(
    request: HttpRequest,
    template: PromptTemplate,
    form: TestCaseForm,
    run_form: TestRunForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "template": template,
        "service": template.service,
        "cases": selectors.prompt_test_case_list(template=template),
        "runs": selectors.prompt_test_run_list(template=template)[:RECENT_RUNS],
        "form": form,
        "run_form": run_form or TestRunForm(template=template),
        **prompt_rights(request, template),
    }
    return render(request, "prompts/testcase_list.html", context, status=status)


@tenant_required()
@require_http_methods(["GET", "POST"])
def testcase_list(request: HttpRequest, service_slug: str) -> HttpResponse:
    """The cases, the latest runs and a form to run them; POST adds a case (for those who may edit the prompt)."""
    posted = request.method == "POST"
    if posted:
        template = prompt_for(request, service_slug)
    else:
        template = selectors.prompt_template_get(tenant=request.tenant, service_slug=service_slug)
    form = TestCaseForm(request.POST if posted else None)
    if posted and form.submit(services.prompt_test_case_create, template=template, actor_membership=request.membership):
        messages.success(request, f"Test case {form.result.name!r} added.")
        return redirect("prompts:testcase-list", service_slug=service_slug)
    return _list_page(request, template, form, status=form.status_code)


@tenant_required()
@require_http_methods(["GET", "POST"])
def testcase_edit(request: HttpRequest, service_slug: str, pk: int) -> HttpResponse:
    template = prompt_for(request, service_slug)
    case = selectors.prompt_test_case_get(template=template, pk=pk)
    form = TestCaseForm.of(case, request.POST if request.method == "POST" else None)
    if form.is_bound and form.submit(services.prompt_test_case_update, case=case, actor_membership=request.membership):
        messages.success(request, f"Test case {case.name!r} saved.")
        return redirect("prompts:testcase-list", service_slug=service_slug)
    context = {"template": template, "service": template.service, "case": case, "form": form}
    return render(request, "prompts/testcase_edit.html", context, status=form.status_code)


@tenant_required()
@require_POST
def testcase_delete(request: HttpRequest, service_slug: str, pk: int) -> HttpResponse:
    template = prompt_for(request, service_slug)
    case = selectors.prompt_test_case_get(template=template, pk=pk)
    form = ServiceForm(request.POST)
    form.submit(services.prompt_test_case_delete, case=case, actor_membership=request.membership)
    flash_outcome(request, form, success=f"Test case {case.name!r} deleted.")
    return redirect_after_action(request, reverse("prompts:testcase-list", args=[service_slug]))


@tenant_required()
@require_POST
def testrun_start(request: HttpRequest, service_slug: str) -> HttpResponse:
    """Run every case against the chosen version, then show the run (it fills in as the cases finish)."""
    template = prompt_for(request, service_slug)
    run_form = TestRunForm(request.POST, template=template)
    if run_form.submit(services.prompt_test_run_start, actor_membership=request.membership):
        return redirect("prompts:testrun-detail", service_slug=service_slug, pk=run_form.result.pk)
    return _list_page(request, template, TestCaseForm(), run_form, status=run_form.status_code)


@tenant_required()
def testrun_detail(request: HttpRequest, service_slug: str, pk: int) -> HttpResponse:
    """A run and its results; htmx asks for the results fragment again every second until the run is finished."""
    template = selectors.prompt_template_get(tenant=request.tenant, service_slug=service_slug)
    run = selectors.prompt_test_run_get(template=template, pk=pk)
    context = {"template": template, "service": template.service, "run": run, "results": run.results.all()}
    if request.headers.get("HX-Request") == "true":
        return render(request, "prompts/_testrun.html", context)
    return render(request, "prompts/testrun_detail.html", context)
