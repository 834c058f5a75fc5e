"""A prompt API of `tenant`: `summarize` on route `smart`, version 1 live, created through the services."""

from __future__ import annotations

import atexit
from decimal import Decimal

import pytest

from apps.gateway import wiring
from apps.prompts.services import prompt_service_create, prompt_version_create
from apps.providers.services import deployment_add, model_create, provider_create, route_create
from tests.conftest import FAKE_KEY
from tests.prompts.inputs import VERSION_1, version_input


@pytest.fixture
def prompt_service(tenant, members, route):
    return prompt_service_create(
        tenant=tenant,
        actor_membership=None,
        slug="summarize",
        name="Summarize",
        route=route,
        visibility="private",
        approval_mode="manual",
        change_note="first",
        **VERSION_1,
    )


@pytest.fixture
def template(prompt_service):
    return prompt_service.prompt


WIRING = (wiring.get_invoker, wiring.get_pipeline, wiring.get_snapshot_store, wiring.get_call_sink)


@pytest.fixture
def fresh_gateway(settings):
    """A data-plane pipeline of the test's own (snapshot, breakers, pooled clients, call sink); call records are
    written when the test flushes them, not in the background."""
    settings.GATEWAY_LOG_FLUSH_SECONDS = 3600
    for factory in WIRING:
        factory.cache_clear()
    yield
    atexit.unregister(wiring.get_call_sink().flush_at_exit)
    for factory in WIRING:
        factory.cache_clear()


@pytest.fixture
def draft(tenant, members, fake_upstream):
    """Prompt service `summarize` on route `smart` (the fake upstream's gpt-4o-mini), version 1 live and version 2
    a draft with another user template."""
    provider = provider_create(
        tenant=tenant,
        actor_membership=None,
        slug="fake-openai",
        name="Fake OpenAI",
        kind="openai",
        base_url=fake_upstream.base_url,
        api_key=FAKE_KEY,
    )
    model = model_create(
        provider=provider,
        actor_membership=None,
        name="gpt-4o-mini",
        upstream_id="gpt-4o-mini",
        input_price_per_mtok=Decimal("0.15"),
        output_price_per_mtok=Decimal("0.60"),
    )
    route = route_create(tenant=tenant, actor_membership=None, alias="smart", deadline_seconds=10, retries=0)
    deployment_add(route=route, model=model, actor_membership=None, timeout_seconds=5)
    service = prompt_service_create(
        tenant=tenant,
        actor_membership=None,
        slug="summarize",
        name="Summarize",
        route=route,
        visibility="private",
        approval_mode="manual",
        **version_input(),
    )
    return prompt_version_create(
        template=service.prompt,
        author=members["developer"],
        **version_input(user_template="In at most {{ words }} words, the gist of: {{ text }}"),
    )
