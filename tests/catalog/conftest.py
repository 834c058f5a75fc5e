"""Catalog fixtures: `tenant` (acme, with `route` smart) publishes; `other_tenant` (globex) and `third_tenant`
(initech) look at its catalog."""

from __future__ import annotations

import pytest

from apps.access.services import api_key_issue
from apps.catalog.services import service_create
from apps.gateway import wiring
from apps.tenants.models import Role
from tests.factories import AppFactory, TenantFactory

SENTIMENT_INPUT = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string", "description": "what to classify", "maxLength": 4000}},
}
SENTIMENT_OUTPUT = {
    "type": "object",
    "required": ["label"],
    "properties": {"label": {"enum": ["positive", "neutral", "negative"]}, "score": {"type": "number"}},
}


@pytest.fixture
def third_tenant(db):
    return TenantFactory(slug="initech", name="Initech")


@pytest.fixture
def admin(members):
    return members[Role.ADMIN]


@pytest.fixture
def sentiment(tenant, admin, route):
    """A draft prompt API of acme with JSON output, tagged nlp."""
    return service_create(
        tenant=tenant,
        actor_membership=admin,
        slug="sentiment",
        name="Sentiment",
        kind="prompt",
        route=route,
        summary="Is this text positive?",
        description="Classifies **sentiment**.",
        tags=["NLP", "text"],
        visibility="public",
        approval_mode="auto",
        input_schema=SENTIMENT_INPUT,
        output_mode="json",
        output_schema=SENTIMENT_OUTPUT,
    )


@pytest.fixture
def key_for():
    """key_for(tenant, scopes=…) → the plaintext of a new key of a new app of `tenant`."""

    def issue(tenant, scopes=("catalog",)):
        app = AppFactory(tenant=tenant)
        return api_key_issue(app=app, name="catalog reader", actor_membership=None, scopes=list(scopes))

    return issue


@pytest.fixture
def fresh_gateway():
    """A gateway of the test's own (pipeline, snapshot, call sink, pooled clients, limit counters), for the try-it
    tests that call through it."""
    caches = (
        wiring.get_invoker,
        wiring.get_pipeline,
        wiring.get_snapshot_store,
        wiring.get_call_sink,
        wiring.get_limit_counters,
    )
    for factory in caches:
        factory.cache_clear()
    yield
    for factory in caches:
        factory.cache_clear()
