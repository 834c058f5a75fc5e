"""Running `manage.py gitops …` in-process, and counting what a refused apply must leave as it was."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.catalog.models import Plan, Service
from apps.core.models import AuditEvent
from apps.prompts.models import PromptTemplate, PromptTestCase, PromptVersion
from apps.providers.models import Deployment, Provider, ProviderModel, Route
from apps.tenants.models import Tenant

COUNTED = (Tenant, Provider, ProviderModel, Route, Deployment, Service, Plan, PromptTemplate, PromptVersion)


def gitops(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `manage.py gitops <args>`."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("gitops", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def counts() -> dict[str, int]:
    """Rows per model, audit events included: a refused apply writes nothing at all."""
    rows = {model.__name__: model.objects.count() for model in (*COUNTED, PromptTestCase, AuditEvent)}
    rows["live"] = list(PromptTemplate.objects.order_by("pk").values_list("live_version__number", flat=True))
    return rows


def edit(directory: Path, relative: str, old: str, new: str) -> None:
    path = directory / relative
    text = path.read_text()
    if old not in text:
        pytest.fail(f"{old!r} is not in {relative}:\n{text}")
    path.write_text(text.replace(old, new, 1))
