"""Routing across providers through the live gateway: an OpenAI-format primary failing over to an
Anthropic-format fallback for a stream, and a route whose strategy sends calls to the cheapest deployment."""

from __future__ import annotations

import socket
from decimal import Decimal

import openai
import pytest

from apps.analytics.models import CallLog
from apps.gateway import wiring
from apps.providers.services import deployment_add, model_create, provider_create, provider_update, route_update
from tests.fakes.anthropic_upstream import FakeAnthropicUpstream
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.gateway.conftest import refresh_snapshot, run

pytestmark = pytest.mark.django_db(transaction=True)

ANTHROPIC_KEY = "sk-ant-fallback"


@pytest.fixture
def anthropic_fallback(gateway_setup):
    """An Anthropic-format provider as the fallback (priority 1) of route `smart`; returns (fake, deployment)."""
    with FakeAnthropicUpstream(api_key=ANTHROPIC_KEY, reply="answered by claude") as fake:
        provider = provider_create(
            tenant=gateway_setup.tenant,
            actor_membership=None,
            slug="claude",
            name="Claude",
            kind="anthropic",
            base_url=fake.base_url,
            api_key=ANTHROPIC_KEY,
        )
        model = model_create(
            provider=provider, actor_membership=None, name="haiku", upstream_id="claude-haiku-4-5-20251001"
        )
        deployment = deployment_add(
            route=gateway_setup.route, model=model, actor_membership=None, priority=1, timeout_seconds=5
        )
        route_update(route=gateway_setup.route, actor_membership=None, data={"retries": 0})
        refresh_snapshot()
        yield fake, deployment


@pytest.fixture
def sdk(gateway_setup, live_gateway):
    return openai.OpenAI(base_url=f"{live_gateway}/v1", api_key=gateway_setup.secret, max_retries=0)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # released on exit: nothing listens there


@pytest.mark.parametrize("failure", ["status:500", "refused"])
def test_openai_primary_failing_falls_over_to_anthropic_for_a_stream(
    sdk, gateway_setup, fake_upstream, anthropic_fallback, failure
):
    fake, deployment = anthropic_fallback
    if failure == "refused":
        provider_update(
            provider=gateway_setup.provider,
            actor_membership=None,
            data={"base_url": f"http://127.0.0.1:{_closed_port()}/v1"},
        )
        refresh_snapshot()
    else:
        fake_upstream.script(failure)

    stream = sdk.chat.completions.create(
        model="smart",
        messages=[{"role": "user", "content": "Say hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "answered by claude"
    assert chunks[-1].usage.completion_tokens > 0
    assert len(fake_upstream.requests) == (1 if failure == "status:500" else 0)
    [received] = fake.requests
    assert received.path == "/v1/messages"
    assert received.body["stream"] is True
    assert received.body["model"] == "claude-haiku-4-5-20251001"
    run(wiring.get_call_sink().flush())
    [log] = CallLog.objects.all()
    assert (log.status, log.stream, log.attempts) == (200, True, 2)
    assert log.deployment_id == deployment.pk
    assert log.provider_id == deployment.model.provider_id


def test_a_cost_route_sends_its_calls_to_the_cheaper_deployment(sdk, gateway_setup, fake_upstream):
    with FakeOpenAIUpstream(api_key="sk-cheap", reply="from the cheap one") as cheap:
        provider = provider_create(
            tenant=gateway_setup.tenant,
            actor_membership=None,
            slug="cheap",
            name="Cheap",
            kind="openai",
            base_url=cheap.base_url,
            api_key="sk-cheap",
        )
        model = model_create(
            provider=provider,
            actor_membership=None,
            name="cheap-mini",
            upstream_id="cheap-mini",
            input_price_per_mtok=Decimal("0.05"),
            output_price_per_mtok=Decimal("0.10"),
        )
        cheap_deployment = deployment_add(route=gateway_setup.route, model=model, actor_membership=None)
        # The expensive deployment (gpt-4o-mini, 0.15 + 0.60) would take nearly all calls by weight alone.
        gateway_setup.route.deployments.exclude(pk=cheap_deployment.pk).update(weight=1000)
        route_update(route=gateway_setup.route, actor_membership=None, data={"strategy": "cost"})
        refresh_snapshot()

        answers = [
            sdk.chat.completions.create(model="smart", messages=[{"role": "user", "content": "hi"}]) for _ in range(10)
        ]

    assert {a.choices[0].message.content for a in answers} == {"from the cheap one"}
    assert len(cheap.requests) == 10
    assert fake_upstream.requests == []
    run(wiring.get_call_sink().flush())
    assert set(CallLog.objects.values_list("deployment_id", flat=True)) == {cheap_deployment.pk}
