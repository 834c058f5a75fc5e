"""Seed a throwaway portal database for the benchmark through the portal's own services: a tenant with an
app and a key, and two `openai` providers (the fast and the 1-second fake upstream) published as the routes
`bench` and `bench-slow`. Prints the key's secret on stdout.

    PYTHONPATH=. DATABASE_URL=sqlite:////tmp/x/db.sqlite3 DEBUG=true python bench/seed.py FAST_URL SLOW_URL

With `--policies FAST_URL PACED_URL` it seeds instead the tenant `bench-policies` for bench/policies.py: the same
fast route `bench` and a route `bench-paced` on an upstream that takes 20 ms, both with a response cache, and
limits and budgets on the tenant and the app that a run never reaches (so every call pays for checking them and
none is refused), and the tenant `bench-light` with the fewest that have all three on (seed_light_policies);
it prints both keys' secrets, one per line."""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from typing import Any

import django

HIGH = 10**9  # requests or tokens: never reached by a run


def _tenant_with_key(slug: str, name: str) -> tuple[Any, Any, str]:
    """A tenant (its owner a user of the same name) with the app `bench-app`: (tenant, app, the key's secret)."""
    from django.contrib.auth import get_user_model

    from apps.access.services import api_key_issue, app_create
    from apps.tenants.services import tenant_create

    owner = get_user_model().objects.create_user(slug, f"{slug}@example.com", "bench-password-unused")
    tenant = tenant_create(slug=slug, name=name, owner=owner)
    membership = tenant.memberships.get(user=owner)
    app = app_create(tenant=tenant, actor_membership=membership, slug="bench-app", name="Benchmark app")
    _, secret = api_key_issue(app=app, name="bench", actor_membership=None)
    return tenant, app, secret


def _route(tenant: Any, alias: str, url: str, *, cache_ttl_seconds: int | None = None) -> None:
    """The route `alias` on an `openai` provider at `url` (the fake upstream listens on 127.0.0.1: the operator's
    own provider, trusted to reach it), its model priced so that the cost computation is part of what is measured."""
    from apps.providers.services import deployment_add, model_create, provider_create, route_create

    provider = provider_create(
        tenant=tenant, actor_membership=None, slug=alias, name=alias, kind="openai", base_url=url, api_key="sk",
        trusted=True,
    )  # fmt: skip
    model = model_create(
        provider=provider, actor_membership=None, name=f"{alias}-model", upstream_id="bench-model",
        input_price_per_mtok=Decimal("0.15"), output_price_per_mtok=Decimal("0.60"),
    )  # fmt: skip
    route = route_create(tenant=tenant, actor_membership=None, alias=alias, cache_ttl_seconds=cache_ttl_seconds)
    deployment_add(route=route, model=model, actor_membership=None)


def seed(fast_url: str, slow_url: str) -> str:
    tenant, _, secret = _tenant_with_key("bench", "Benchmark")
    for alias, url in (("bench", fast_url), ("bench-slow", slow_url)):
        _route(tenant, alias, url)
    return secret


def seed_policies(fast_url: str, paced_url: str) -> str:
    from apps.access.services.limits import limit_set_create

    tenant, app, secret = _tenant_with_key("bench-policies", "Benchmark with policies")
    for alias, url in (("bench", fast_url), ("bench-paced", paced_url)):
        _route(tenant, alias, url, cache_ttl_seconds=300)
    limits = {
        "requests_per_minute": HIGH, "tokens_per_minute": HIGH, "requests_per_day": HIGH,
        "requests_per_month": HIGH, "budget_per_day": Decimal(10**6), "budget_per_month": Decimal(10**7),
    }  # fmt: skip
    limit_set_create(tenant=tenant, actor_membership=None, **limits)
    limit_set_create(tenant=tenant, actor_membership=None, app=app, **limits)
    return secret


def seed_light_policies(fast_url: str) -> str:
    """The tenant `bench-light`: the same fast route `bench` with a response cache, one rate limit on the app and a
    monthly budget on the tenant (2 counters a call instead of 12): the least that has all three policies on."""
    from apps.access.services.limits import limit_set_create

    tenant, app, secret = _tenant_with_key("bench-light", "Benchmark with the fewest policies")
    _route(tenant, "bench", fast_url, cache_ttl_seconds=300)
    limit_set_create(tenant=tenant, actor_membership=None, budget_per_month=Decimal(10**7))
    limit_set_create(tenant=tenant, actor_membership=None, app=app, requests_per_minute=HIGH)
    return secret


def main() -> None:
    if sys.argv[1] == "--policies":
        print(seed_policies(sys.argv[2], sys.argv[3]))
        print(seed_light_policies(sys.argv[2]))
    else:
        print(seed(sys.argv[1], sys.argv[2]))


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from apps.core.audit import AuditContext, audit_context

    with audit_context(AuditContext(source="cli", actor_label="bench/seed.py")):
        main()
