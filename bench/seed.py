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

import django


def seed(fast_url: str, slow_url: str) -> str:
    from django.contrib.auth import get_user_model

    from apps.access.services import api_key_issue, app_create
    from apps.core.audit import AuditContext, audit_context
    from apps.providers.services import deployment_add, model_create, provider_create, route_create
    from apps.tenants.services import tenant_create

    with audit_context(AuditContext(source="cli", actor_label="bench/seed.py")):
        owner = get_user_model().objects.create_user("bench", "bench@example.com", "bench-password-unused")
        tenant = tenant_create(slug="bench", name="Benchmark", owner=owner)
        membership = tenant.memberships.get(user=owner)
        app = app_create(tenant=tenant, actor_membership=membership, slug="bench-app", name="Benchmark app")
        _, secret = api_key_issue(app=app, name="bench", actor_membership=None)
        for alias, url in (("bench", fast_url), ("bench-slow", slow_url)):
            # The fake upstream listens on 127.0.0.1: the operator's own provider, trusted to reach it.
            provider = provider_create(
                tenant=tenant,
                actor_membership=None,
                slug=alias,
                name=alias,
                kind="openai",
                base_url=url,
                api_key="sk",
                trusted=True,
            )
            # Prices set, so the cost computation is part of what is measured.
            model = model_create(
                provider=provider,
                actor_membership=None,
                name=f"{alias}-model",
                upstream_id="bench-model",
                input_price_per_mtok=Decimal("0.15"),
                output_price_per_mtok=Decimal("0.60"),
            )
            route = route_create(tenant=tenant, actor_membership=None, alias=alias)
            deployment_add(route=route, model=model, actor_membership=None)
    return secret


HIGH = 10**9  # requests or tokens: never reached by a run


def seed_light_policies(fast_url: str) -> str:
    """The tenant `bench-light`: the same fast route `bench` with a response cache, one rate limit on the app and a
    monthly budget on the tenant (2 counters a call instead of 12): the least that has all three policies on."""
    from django.contrib.auth import get_user_model

    from apps.access.services import api_key_issue, app_create
    from apps.access.services.limits import limit_set_create
    from apps.core.audit import AuditContext, audit_context
    from apps.providers.services import deployment_add, model_create, provider_create, route_create
    from apps.tenants.services import tenant_create

    with audit_context(AuditContext(source="cli", actor_label="bench/seed.py")):
        owner = get_user_model().objects.create_user("bench-light", "bl@example.com", "bench-password-unused")
        tenant = tenant_create(slug="bench-light", name="Benchmark with the fewest policies", owner=owner)
        membership = tenant.memberships.get(user=owner)
        app = app_create(tenant=tenant, actor_membership=membership, slug="bench-app", name="Benchmark app")
        _, secret = api_key_issue(app=app, name="bench", actor_membership=None)
        provider = provider_create(
            tenant=tenant, actor_membership=None, slug="bench", name="bench", kind="openai", base_url=fast_url,
            api_key="sk", trusted=True,
        )  # fmt: skip
        model = model_create(
            provider=provider, actor_membership=None, name="bench-model", upstream_id="bench-model",
            input_price_per_mtok=Decimal("0.15"), output_price_per_mtok=Decimal("0.60"),
        )  # fmt: skip
        route = route_create(tenant=tenant, actor_membership=None, alias="bench", cache_ttl_seconds=300)
        deployment_add(route=route, model=model, actor_membership=None)
        limit_set_create(tenant=tenant, actor_membership=None, budget_per_month=Decimal(10**7))
        limit_set_create(tenant=tenant, actor_membership=None, app=app, requests_per_minute=HIGH)
    return secret


def seed_policies(fast_url: str, paced_url: str) -> str:
    from django.contrib.auth import get_user_model

    from apps.access.services import api_key_issue, app_create
    from apps.access.services.limits import limit_set_create
    from apps.core.audit import AuditContext, audit_context
    from apps.providers.services import deployment_add, model_create, provider_create, route_create
    from apps.tenants.services import tenant_create

    with audit_context(AuditContext(source="cli", actor_label="bench/seed.py")):
        owner = get_user_model().objects.create_user("bench-policies", "bp@example.com", "bench-password-unused")
        tenant = tenant_create(slug="bench-policies", name="Benchmark with policies", owner=owner)
        membership = tenant.memberships.get(user=owner)
        app = app_create(tenant=tenant, actor_membership=membership, slug="bench-app", name="Benchmark app")
        _, secret = api_key_issue(app=app, name="bench", actor_membership=None)
        for alias, url in (("bench", fast_url), ("bench-paced", paced_url)):
            provider = provider_create(
                tenant=tenant, actor_membership=None, slug=alias, name=alias, kind="openai", base_url=url,
                api_key="sk", trusted=True,
            )  # fmt: skip
            model = model_create(
                provider=provider, actor_membership=None, name=f"{alias}-model", upstream_id="bench-model",
                input_price_per_mtok=Decimal("0.15"), output_price_per_mtok=Decimal("0.60"),
            )  # fmt: skip
            route = route_create(tenant=tenant, actor_membership=None, alias=alias, cache_ttl_seconds=300)
            deployment_add(route=route, model=model, actor_membership=None)
        limits = {
            "requests_per_minute": HIGH, "tokens_per_minute": HIGH, "requests_per_day": HIGH,
            "requests_per_month": HIGH, "budget_per_day": Decimal(10**6), "budget_per_month": Decimal(10**7),
        }  # fmt: skip
        limit_set_create(tenant=tenant, actor_membership=None, **limits)
        limit_set_create(tenant=tenant, actor_membership=None, app=app, **limits)
    return secret


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    if sys.argv[1] == "--policies":
        print(seed_policies(sys.argv[2], sys.argv[3]))
        print(seed_light_policies(sys.argv[2]))
    else:
        print(seed(sys.argv[1], sys.argv[2]))
