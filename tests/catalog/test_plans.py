"""Plans of a service: one default, limits checked, models allowed are the tenant's routes, and a plan that a
subscription uses cannot be deleted."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.catalog.models import Plan
from apps.catalog.services import plan_create, plan_delete, plan_update
from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.core.models import AuditEvent
from apps.tenants.models import Role
from tests.factories import PlanFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_the_first_plan_is_the_default_and_a_new_default_takes_over(sentiment, admin):
    free = plan_create(service=sentiment, actor_membership=admin, slug="free", name="Free", requests_per_day=100)
    standard = plan_create(service=sentiment, actor_membership=admin, slug="standard", name="Standard")
    assert (free.is_default, standard.is_default) == (True, False)
    plan_create(service=sentiment, actor_membership=admin, slug="pro", name="Pro", is_default=True)
    defaults = Plan.objects.filter(service=sentiment, is_default=True)
    assert list(defaults.values_list("slug", flat=True)) == ["pro"]
    assert AuditEvent.objects.filter(action="plan.create").count() == 3


def test_a_plan_bundles_limits_budget_and_models(sentiment, admin, route):
    plan = plan_create(
        service=sentiment,
        actor_membership=admin,
        slug="standard",
        name="Standard",
        requests_per_month=10_000,
        requests_per_minute=60,
        tokens_per_minute=20_000,
        monthly_budget=Decimal("49.90"),
        allowed_models=["smart", "smart"],
    )
    plan.refresh_from_db()
    assert (plan.requests_per_month, plan.monthly_budget, plan.allowed_models) == (10_000, Decimal("49.90"), ["smart"])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"allowed_models": ["globex-smart"]}, "allowed_models", id="another-tenants-route"),
        pytest.param({"allowed_models": "smart"}, "allowed_models", id="not-a-list"),
        pytest.param({"monthly_budget": Decimal("-1")}, "monthly_budget", id="negative-budget"),
        pytest.param({"position": 101}, "position", id="position-too-far"),
        pytest.param({"slug": "Free Plan"}, "slug", id="bad-slug"),
    ],
)
def test_bad_plans_are_refused_naming_the_field(sentiment, admin, other_route, fields, field):
    with pytest.raises(ApplicationError) as refused:
        plan_create(service=sentiment, actor_membership=admin, **{"slug": "free", "name": "Free", **fields})
    assert refused.value.field == field
    assert not Plan.objects.exists()


def test_a_duplicate_plan_slug_is_a_conflict(sentiment, admin):
    plan_create(service=sentiment, actor_membership=admin, slug="free", name="Free")
    with pytest.raises(ConflictError) as refused:
        plan_create(service=sentiment, actor_membership=admin, slug="free", name="Other", is_default=True)
    assert refused.value.field == "slug"
    assert Plan.objects.get(slug="free").is_default  # the refused plan did not take the default away


def test_update_records_what_changed(sentiment, admin):
    plan = plan_create(service=sentiment, actor_membership=admin, slug="free", name="Free")
    plan_update(plan=plan, actor_membership=admin, data={"requests_per_day": 50, "name": "Free", "slug": "x"})
    plan.refresh_from_db()
    assert (plan.slug, plan.requests_per_day) == ("free", 50)
    assert AuditEvent.objects.get(action="plan.update").changes == {"requests_per_day": [None, 50]}


def test_a_developer_cannot_change_plans(sentiment, members):
    with pytest.raises(NotPermitted):
        plan_create(service=sentiment, actor_membership=members[Role.DEVELOPER], slug="free", name="Free")


def test_an_unused_plan_is_deleted(sentiment, admin):
    plan = plan_create(service=sentiment, actor_membership=admin, slug="free", name="Free")
    plan_delete(plan=plan, actor_membership=admin)
    assert not Plan.objects.exists()
    assert AuditEvent.objects.filter(action="plan.delete").exists()


@pytest.mark.parametrize("status", ["pending", "approved", "revoked"])
def test_a_plan_a_subscription_uses_cannot_be_deleted(sentiment, admin, status):
    plan = PlanFactory(service=sentiment, slug="free")
    SubscriptionFactory(plan=plan, status=status)
    with pytest.raises(ConflictError) as refused:
        plan_delete(plan=plan, actor_membership=admin)
    assert refused.value.status_code == 409
    assert Plan.objects.filter(pk=plan.pk).exists()
