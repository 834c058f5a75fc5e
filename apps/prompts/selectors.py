from __future__ import annotations

import difflib
import json
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404

from apps.catalog.models import Service
from apps.prompts.models import PromptTemplate, PromptTestCase, PromptTestRun, PromptVersion
from apps.prompts.rendering import PromptParts
from apps.prompts.runner import PromptRunSpec
from apps.tenants.models import Tenant
from apps.tenants.selectors import is_row_id

DIFF_FIELDS = ("system_template", "user_template", "examples", "parameters", "variables_schema")


def prompt_template_get(*, tenant: Tenant, service_slug: str) -> PromptTemplate:
    """The prompt of one of the tenant's prompt services; 404 for anything else (existence does not leak)."""
    template = (
        PromptTemplate.objects.select_related("service", "service__tenant", "live_version")
        .filter(service__tenant=tenant, service__slug=service_slug)
        .first()
    )
    if template is None:
        raise Http404("No such prompt service.")
    return template


def prompt_version_list(*, template: PromptTemplate) -> QuerySet[PromptVersion]:
    """Newest first, each with its last test run's status, passed and total (None: its cases never ran on it), for
    the publish confirmation."""
    last_run = PromptTestRun.objects.filter(version=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        PromptVersion.objects.filter(template=template)
        .select_related("template", "author")
        .annotate(
            last_run_status=Subquery(last_run.values("status")[:1]),
            last_run_passed=Subquery(last_run.values("passed")[:1]),
            last_run_total=Subquery(last_run.values("total")[:1]),
        )
        .order_by("-number")
    )


def prompt_version_get(*, template: PromptTemplate, number: int | str) -> PromptVersion:
    version = prompt_version_list(template=template).filter(number=number).first() if is_row_id(number) else None
    if version is None:
        raise Http404("No such version.")
    return version


def prompt_version_get_active(*, service: Service) -> PromptVersion | None:
    """The live version of a prompt service (None for a service without a prompt)."""
    template = PromptTemplate.objects.select_related("live_version").filter(service=service).first()
    return template.live_version if template else None


def prompt_parts(version: PromptVersion) -> PromptParts:
    """What rendering.render_messages needs from a version."""
    return PromptParts(system=version.system_template, user=version.user_template, examples=tuple(version.examples))


def prompt_template_list_live() -> list[PromptTemplate]:
    """Every prompt with a live version, with its service: one query, for the gateway's snapshot."""
    return list(PromptTemplate.objects.filter(live_version__isnull=False).select_related("service", "live_version"))


def prompt_versions_serving(*, templates: list[PromptTemplate]) -> dict[int, dict[int, PromptVersion]]:
    """{template id: {number: version}} for the versions that can serve traffic (the live one and those of the
    A/B split), for many templates in one query: what the gateway's snapshot loads."""
    wanted = {
        template.pk: {template.live_version.number} | {entry["version"] for entry in template.ab_split}
        for template in templates
        if template.live_version is not None
    }
    serving: dict[int, dict[int, PromptVersion]] = {template_id: {} for template_id in wanted}
    versions = PromptVersion.objects.filter(
        template_id__in=wanted, number__in={n for numbers in wanted.values() for n in numbers}
    )
    for version in versions:
        if version.number in wanted[version.template_id]:
            serving[version.template_id][version.number] = version
    return serving


def _lines(value: Any) -> list[str]:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return text.splitlines()


def prompt_version_diff(*, template: PromptTemplate, a: int | str, b: int | str) -> dict[str, str]:
    """A unified diff from version `a` to version `b` per field (empty when the field did not change)."""
    old, new = prompt_version_get(template=template, number=a), prompt_version_get(template=template, number=b)
    return {
        field: "\n".join(
            difflib.unified_diff(
                _lines(getattr(old, field)),
                _lines(getattr(new, field)),
                fromfile=f"v{old.number}/{field}",
                tofile=f"v{new.number}/{field}",
                lineterm="",
            )
        )
        for field in DIFF_FIELDS
    }


def prompt_template_list(*, tenant: Tenant) -> QuerySet[PromptTemplate]:
    """The tenant's prompts, with their service and live version."""
    return (
        PromptTemplate.objects.filter(service__tenant=tenant)
        .select_related("service", "service__route", "live_version")
        .order_by("service__name")
    )


def prompt_test_case_list(*, template: PromptTemplate) -> QuerySet[PromptTestCase]:
    return PromptTestCase.objects.filter(template=template).select_related("template__service").order_by("name")


def prompt_test_case_get(*, template: PromptTemplate, pk: int | str) -> PromptTestCase:
    case = prompt_test_case_list(template=template).filter(pk=pk).first() if is_row_id(pk) else None
    if case is None:
        raise Http404("No such test case.")
    return case


def prompt_test_run_list(*, template: PromptTemplate, version: PromptVersion | None = None) -> QuerySet[PromptTestRun]:
    """Runs of the prompt's cases, newest first (of one version when given)."""
    runs = PromptTestRun.objects.filter(version__template=template).select_related("version", "started_by")
    if version is not None:
        runs = runs.filter(version=version)
    return runs.order_by("-created_at", "-id")


def prompt_test_run_get(
    *, template: PromptTemplate, pk: int | str, version: PromptVersion | None = None
) -> PromptTestRun:
    """One run with its results (by case name); 404 for a run of another prompt or version."""
    runs = prompt_test_run_list(template=template, version=version).prefetch_related("results")
    run = runs.filter(pk=pk).first() if is_row_id(pk) else None
    if run is None:
        raise Http404("No such test run.")
    return run


def prompt_test_run_last(*, version: PromptVersion) -> PromptTestRun | None:
    """The latest run of a version's cases (what the publish dialog shows), or None when they never ran."""
    return prompt_test_run_list(template=version.template, version=version).first()


def prompt_run_spec(*, version: PromptVersion) -> PromptRunSpec:
    """What the prompt runner needs to run `version`, as plain data; the call is the owning tenant's."""
    service = version.template.service
    return PromptRunSpec(
        tenant_id=service.tenant_id,
        service_id=service.pk,
        service_slug=service.slug,
        number=version.number,
        system_template=version.system_template,
        user_template=version.user_template,
        examples=tuple(version.examples),
        parameters=dict(version.parameters),
        variables_schema=dict(version.variables_schema),
    )
