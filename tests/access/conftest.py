"""Subscription fixtures. Acme (`tenant`, a member in each role) publishes the public service `translate` on its
route `smart`; Globex (`other_tenant`, owned by Mallory) asks for it with its app `globex-bot`."""

from __future__ import annotations

import pytest

from apps.access.models import SubscriptionStatus
from apps.catalog.models import Visibility
from apps.tenants.models import Membership
from tests.factories import PlanFactory, ServiceFactory, SubscriptionFactory


@pytest.fixture
def service(tenant, route):
    return ServiceFactory(tenant=tenant, route=route, slug="translate", name="Translate", visibility=Visibility.PUBLIC)


@pytest.fixture
def plan(service):
    return PlanFactory(service=service, slug="standard", name="Standard", requests_per_day=1000)


@pytest.fixture
def requester(mallory, other_tenant):
    """Mallory's membership in Globex: she manages globex-bot (as Globex's owner) and asks for subscriptions."""
    return Membership.objects.get(user=mallory, tenant=other_tenant)


@pytest.fixture
def make_subscription(other_app, service, plan, mallory):
    """make_subscription(status=…, **fields): globex-bot's subscription to `translate`, as Mallory asked it."""

    def make(status: str = SubscriptionStatus.PENDING, **fields):
        values = {"app": other_app, "service": service, "plan": plan, "requested_by": mallory, **fields}
        return SubscriptionFactory(status=status, purpose="Translate support tickets", **values)

    return make


@pytest.fixture
def subscription(make_subscription):
    """A pending request of globex-bot for the standard plan of translate."""
    return make_subscription()
