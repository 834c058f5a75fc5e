"""A tenant rich enough to exercise every kind of the definitions format, built through the portal's services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.access.services.limits import limit_set_create
from apps.catalog.services import plan_create, service_create, service_set_lifecycle
from apps.prompts import services as prompts
from apps.providers import services as providers
from tests.factories import TEXT_SCHEMA, TenantFactory


def build_rich_tenant(slug: str = "rich"):
    """Two providers, routes with two deployments and a cache, tenant limits, a deprecated model API (sunset date,
    semantic cache) with two plans and their budgets, a prompt API with three versions split A/B and test cases."""
    tenant = TenantFactory(slug=slug, name="Rich Corp", require_internal_subscriptions=True, limits_fail_open=False)
    TenantFactory(slug=f"{slug}-partner", name="Partner")
    echo = providers.provider_create(tenant=tenant, actor_membership=None, slug="echo", name="Echo", kind="echo")
    other = providers.provider_create(
        tenant=tenant,
        actor_membership=None,
        slug="local",
        name="Local echo",
        kind="echo",
        options={"delay_ms": 0, "headers": {"X-Team": "ml"}},
    )
    fast = providers.model_create(provider=echo, actor_membership=None, name="echo-fast", upstream_id="echo")
    slow = providers.model_create(
        provider=other,
        actor_membership=None,
        name="llama3.1:8b",
        upstream_id="llama3.1:8b",
        modalities=["text", "embedding"],
        context_window=8192,
        input_price_per_mtok=Decimal("0.15"),
        output_price_per_mtok=Decimal("0.6"),
    )
    smart = providers.route_create(tenant=tenant, actor_membership=None, alias="team/smart", description="Best")
    providers.deployment_add(route=smart, model=fast, actor_membership=None, weight=3, timeout_seconds=20)
    providers.deployment_add(route=smart, model=slow, actor_membership=None, priority=1)
    cheap = providers.route_create(
        tenant=tenant, actor_membership=None, alias="cheap", retries=2, cache_ttl_seconds=300, strategy="cost"
    )
    providers.deployment_add(route=cheap, model=slow, actor_membership=None)
    chat = service_create(
        tenant=tenant,
        actor_membership=None,
        slug="rich-chat",
        name="Chat",
        kind="model",
        route=smart,
        summary="Chat with the best model",
        description="Line one.\nLine two.\n",
        tags=["nlp", "chat"],
        visibility="shared",
        shared_with=[TenantFactory._meta.model.objects.get(slug=f"{slug}-partner")],
        approval_mode="auto",
        cache_ttl_seconds=60,
        semantic_cache=True,
        semantic_cache_route="cheap",
        semantic_cache_threshold=0.9,
    )
    plan_create(service=chat, actor_membership=None, slug="free", name="Free", requests_per_day=100)
    plan_create(
        service=chat,
        actor_membership=None,
        slug="pro",
        name="Pro",
        requests_per_minute=60,
        monthly_budget=Decimal("25.50"),
        daily_budget=Decimal("2"),
        budget_alert_percent=80,
        allowed_models=["cheap"],
        over_budget_route="cheap",
        position=1,
    )
    limit_set_create(
        tenant=tenant,
        actor_membership=None,
        requests_per_minute=600,
        budget_per_month=Decimal("1000"),
        over_budget_route=cheap,
    )
    service_set_lifecycle(service=chat, actor_membership=None, lifecycle="published")
    service_set_lifecycle(
        service=chat, actor_membership=None, lifecycle="deprecated", sunset_on=timezone.localdate() + timedelta(days=30)
    )
    summary = prompts.prompt_service_create(
        tenant=tenant,
        actor_membership=None,
        slug="rich-summary",
        name="Summary",
        route=cheap,
        system_template="You summarize text.\nBe brief.",
        user_template="Summarize: {{ text }}",
        variables_schema=dict(TEXT_SCHEMA),
        examples=[{"user": "Summarize: a b c", "assistant": "abc"}],
        parameters={"temperature": 0.2, "max_tokens": 100},
        visibility="private",
        approval_mode="manual",
        change_note="first",
    )
    template = summary.prompt
    for text in ("Summarize briefly: {{ text }}", "Summarize in one line:\n{{ text }}"):
        prompts.prompt_version_create(
            template=template, author=None, system_template="", user_template=text, variables_schema=dict(TEXT_SCHEMA)
        )
    prompts.prompt_version_publish(template=template, version_number=2, actor_membership=None)
    prompts.prompt_ab_set(
        template=template,
        split=[{"version": 2, "weight": 80}, {"version": 3, "weight": 20}],
        sticky_by="conversation",
        actor_membership=None,
    )
    prompts.prompt_test_case_create(
        template=template,
        actor_membership=None,
        name="short",
        variables={"text": "hello"},
        checks=[{"type": "contains", "value": "hello"}],
    )
    plan_create(service=summary, actor_membership=None, slug="basic", name="Basic")
    service_set_lifecycle(service=summary, actor_membership=None, lifecycle="published")
    return tenant


@pytest.fixture
def rich_tenant(db):
    return build_rich_tenant()


from tests.gitops.gitlab_fixtures import fake_gitlab, synced_tenant  # noqa: E402, F401 - the GitLab sync tests' fixtures
