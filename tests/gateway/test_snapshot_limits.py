"""The snapshot carries the limits, budgets and cache settings of the control plane: each field mapped, in a
constant number of queries whatever the number of rows, and a change seen by the data plane (the version)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.access.models import LimitSet
from apps.access.services import api_key_issue
from apps.access.services.limits import limit_set_put
from apps.catalog.models import Lifecycle
from apps.gateway.adapters.snapshot_build import config_version_read, snapshot_build
from apps.gateway.pipeline.snapshot import CachePolicy, Limits
from apps.tenants.services import tenant_update
from tests.factories import (
    AppFactory,
    DeploymentFactory,
    MembershipFactory,
    PlanFactory,
    ProviderModelFactory,
    RouteFactory,
    ServiceFactory,
    SubscriptionFactory,
    TenantFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _scopes(tenant, n: int) -> None:
    """n apps, each with a key, limits on the app and on the key, and a cached service with a plan."""
    cheap = RouteFactory(tenant=tenant, cache_ttl_seconds=60)
    for _ in range(n):
        app = AppFactory(tenant=tenant)
        key, _ = api_key_issue(app=app, name="k", actor_membership=None)
        LimitSet.objects.create(tenant=tenant, app=app, requests_per_minute=5, over_budget_route=cheap)
        LimitSet.objects.create(tenant=tenant, api_key=key, budget_per_day=Decimal("1.00"))
        service = ServiceFactory(tenant=tenant, cache_ttl_seconds=30)
        PlanFactory(service=service, requests_per_day=10, allowed_models=[cheap.alias])


def _queries_of_a_build() -> int:
    with CaptureQueriesContext(connection) as captured:
        snapshot_build()
    return len(captured)


def test_every_limit_budget_and_cache_field_reaches_the_snapshot():
    tenant = TenantFactory(limits_fail_open=False)
    open_tenant = TenantFactory()
    app = AppFactory(tenant=tenant)
    key, _ = api_key_issue(app=app, name="k", actor_membership=None)
    cheap = RouteFactory(tenant=tenant, alias="cheap", cache_ttl_seconds=300)
    uncached = RouteFactory(tenant=tenant, alias="plain")
    embed = DeploymentFactory(
        route=RouteFactory(tenant=tenant, alias="embed"),
        model=ProviderModelFactory(provider__tenant=tenant, modalities=["embedding"]),
    ).route
    LimitSet.objects.create(
        tenant=tenant,
        requests_per_minute=100,
        tokens_per_minute=5000,
        requests_per_day=1000,
        requests_per_month=20000,
        budget_per_day=Decimal("5.00"),
        budget_per_month=Decimal("100.00"),
        budget_alert_percent=80,
    )
    LimitSet.objects.create(tenant=tenant, app=app, tokens_per_minute=700, over_budget_route=cheap)
    LimitSet.objects.create(tenant=tenant, api_key=key, requests_per_day=3)
    service = ServiceFactory(
        tenant=tenant,
        route=uncached,
        cache_ttl_seconds=120,
        semantic_cache=True,
        semantic_cache_route=embed.alias,
        semantic_cache_threshold=0.9,
    )
    plain_service = ServiceFactory(tenant=tenant, route=cheap, cache_ttl_seconds=45, semantic_cache_route="embed")
    uncached_service = ServiceFactory(tenant=tenant, route=uncached)
    plan = PlanFactory(
        service=service,
        requests_per_minute=2,
        tokens_per_minute=300,
        requests_per_day=50,
        requests_per_month=900,
        daily_budget=Decimal("1.50"),
        monthly_budget=Decimal("30.00"),
        allowed_models=["cheap", "plain"],
        over_budget_route="plain",
    )
    any_model_plan = PlanFactory(service=service)
    draft_plan = PlanFactory(service=ServiceFactory(tenant=tenant, lifecycle=Lifecycle.DRAFT), requests_per_day=1)

    snapshot = snapshot_build()

    assert snapshot.limits[("tenant", tenant.pk)] == Limits(
        requests_per_minute=100,
        tokens_per_minute=5000,
        requests_per_day=1000,
        requests_per_month=20000,
        budget_per_day=Decimal("5.00"),
        budget_per_month=Decimal("100.00"),
    )
    assert snapshot.limits[("app", app.pk)] == Limits(tokens_per_minute=700, over_budget_route="cheap")
    assert snapshot.limits[("key", key.pk)] == Limits(requests_per_day=3)
    assert snapshot.limits[("plan", plan.pk)] == Limits(
        requests_per_minute=2,
        tokens_per_minute=300,
        requests_per_day=50,
        requests_per_month=900,
        budget_per_day=Decimal("1.50"),
        budget_per_month=Decimal("30.00"),
        allowed_models=frozenset({"cheap", "plain"}),
        over_budget_route="plain",
    )
    assert snapshot.limits[("plan", any_model_plan.pk)] == Limits()  # no allowed_models: any
    assert ("plan", draft_plan.pk) not in snapshot.limits  # a draft service cannot be called
    assert ("tenant", open_tenant.pk) not in snapshot.limits

    assert snapshot.route_cache == {cheap.pk: CachePolicy(ttl_seconds=300)}
    assert snapshot.service_cache == {
        service.pk: CachePolicy(ttl_seconds=120, semantic=True, semantic_route="embed", semantic_threshold=0.9),
        plain_service.pk: CachePolicy(ttl_seconds=45),  # a route named while the semantic cache is off is unused
    }
    assert uncached_service.pk not in snapshot.service_cache
    assert snapshot.limits_fail_open == {tenant.pk: False, open_tenant.pk: True}


def test_the_build_reads_limits_and_caches_in_a_constant_number_of_queries():
    tenant = TenantFactory()
    _scopes(tenant, 2)
    few = _queries_of_a_build()
    _scopes(tenant, 12)
    assert _queries_of_a_build() == few
    snapshot = snapshot_build()
    assert len([scope for scope in snapshot.limits if scope[0] == "key"]) == 14


def test_each_configuration_write_moves_the_version_the_data_plane_polls():
    owner = MembershipFactory(role="owner")
    tenant = owner.tenant
    version = config_version_read()
    limit_set_put(tenant=tenant, actor_membership=owner, data={"requests_per_minute": 7})
    assert config_version_read() == version + 1
    assert snapshot_build().limits[("tenant", tenant.pk)].requests_per_minute == 7
    tenant_update(tenant=tenant, actor_membership=owner, limits_fail_open=False)
    assert config_version_read() == version + 2
    assert snapshot_build().limits_fail_open[tenant.pk] is False


def test_a_subscription_entry_names_its_plan_for_the_refusals():
    plan = PlanFactory(slug="free", service=ServiceFactory(lifecycle=Lifecycle.PUBLISHED), requests_per_day=5)
    subscription = SubscriptionFactory(service=plan.service, plan=plan)

    entry = snapshot_build().subscriptions[(subscription.app_id, plan.service_id)]

    assert (entry.plan_id, entry.plan_slug) == (plan.pk, "free")
