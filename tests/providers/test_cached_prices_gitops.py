"""A model's cached-input price in the GitOps provider files: exported, applied, and absent in files written
before it existed (null: the input price)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from apps.gitops.services import definitions_apply, definitions_export, definitions_load, definitions_plan
from apps.gitops.services.load import DefinitionsInvalid
from apps.providers.models import ProviderModel
from apps.providers.services import model_update
from apps.tenants.models import Tenant
from tests.gitops.conftest import build_rich_tenant

pytestmark = pytest.mark.django_db(transaction=True)

FILE = "providers/echo.yaml"


def _exported_with_a_cached_price() -> dict[str, str]:
    tenant = build_rich_tenant()
    model = ProviderModel.objects.get(tenant=tenant, name="echo-fast")
    model_update(model=model, actor_membership=None, data={"cached_input_price_per_mtok": Decimal("0.075")})
    return definitions_export(tenant=tenant)


def _flush() -> None:
    call_command("flush", interactive=False, verbosity=0)
    Tenant.objects.create(slug="rich-partner", name="rich-partner")


def _cached_prices() -> dict[str, Decimal | None]:
    return dict(ProviderModel.objects.values_list("name", "cached_input_price_per_mtok"))


def test_the_cached_price_round_trips():
    files = _exported_with_a_cached_price()
    assert "cached_input_price_per_mtok: 0.075\n" in files[FILE]
    _flush()

    definitions_apply(definitions=definitions_load(files=files))

    assert _cached_prices() == {"echo-fast": Decimal("0.075"), "llama3.1:8b": None}
    assert definitions_export(tenant=Tenant.objects.get(slug="rich")) == files


def test_a_file_without_cached_prices_applies_and_removing_one_sets_it_back_to_the_input_price():
    files = _exported_with_a_cached_price()
    old = {
        path: "".join(line for line in text.splitlines(keepends=True) if "cached_input" not in line)
        for path, text in files.items()
    }
    assert old[FILE] != files[FILE]

    plan = definitions_plan(tenant_slug="rich", definitions=definitions_load(files=old))
    assert plan.has_changes  # echo-fast's cached price goes
    definitions_apply(definitions=definitions_load(files=old))

    assert _cached_prices() == {"echo-fast": None, "llama3.1:8b": None}


def test_a_negative_cached_price_in_a_file_is_refused_naming_it():
    files = _exported_with_a_cached_price()
    bad = {**files, FILE: files[FILE].replace("cached_input_price_per_mtok: 0.075", "cached_input_price_per_mtok: -1")}

    with pytest.raises(DefinitionsInvalid) as refused:
        definitions_load(files=bad)

    assert any(e.file == FILE and "cached_input_price_per_mtok" in e.path for e in refused.value.errors)
