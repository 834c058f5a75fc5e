"""Export → apply into an empty database → export again gives the same bytes; plan on unchanged files says so."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from apps.gitops.services import definitions_apply, definitions_export, definitions_load, definitions_plan
from apps.providers.models import Route
from apps.tenants.models import Tenant
from tests.gitops.conftest import build_rich_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def _round_trip(slug: str) -> None:
    files = definitions_export(tenant=Tenant.objects.get(slug=slug))
    others = [t.slug for t in Tenant.objects.exclude(slug=slug)]
    call_command("flush", interactive=False, verbosity=0)
    for other in others:  # tenants a service is shared with live outside these files
        Tenant.objects.create(slug=other, name=other)

    plan = definitions_apply(definitions=definitions_load(files=files))

    assert plan.has_changes
    again = definitions_export(tenant=Tenant.objects.get(slug=slug))
    assert again == files
    unchanged = definitions_plan(tenant_slug=slug, definitions=definitions_load(files=again))
    assert not unchanged.has_changes
    assert unchanged.render().startswith("No changes")


def test_the_demo_tenant_round_trips_byte_for_byte(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    call_command("seed_demo", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    _round_trip("demo")


def test_a_rich_tenant_round_trips_byte_for_byte():
    build_rich_tenant()
    _round_trip("rich")


def test_a_route_file_from_before_strategies_routes_by_priority_and_exports_it():
    files = definitions_export(tenant=build_rich_tenant())
    assert "strategy: cost\n" in files["routes/cheap.yaml"]
    old = {path: text.replace("strategy: priority\n", "") for path, text in files.items()}
    assert old != files  # team/smart's file lost its strategy line
    call_command("flush", interactive=False, verbosity=0)
    Tenant.objects.create(slug="rich-partner", name="rich-partner")

    definitions_apply(definitions=definitions_load(files=old))

    assert dict(Route.objects.values_list("alias", "strategy")) == {"team/smart": "priority", "cheap": "cost"}
    assert definitions_export(tenant=Tenant.objects.get(slug="rich")) == files
