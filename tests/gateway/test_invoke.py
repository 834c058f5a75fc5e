"""POST /api/v1/services/<slug>/invoke through the live app: subscriptions, visibility, schemas, versions."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
import orjson
import pytest
from django.utils import timezone

from apps.access.models import Subscription
from apps.access.services import api_key_issue
from apps.catalog.models import Plan, Service
from apps.prompts.ab import choose_version
from apps.prompts.models import PromptTemplate, PromptVersion
from apps.tenants.models import Tenant
from tests.factories import AppFactory, TenantFactory
from tests.gateway.conftest import refresh_snapshot

pytestmark = pytest.mark.django_db(transaction=True)

INPUT_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1}, "lang": {"type": "string", "enum": ["en", "de"]}},
    "required": ["text"],
    "additionalProperties": False,
}


def add_version(template: PromptTemplate, number: int, user: str) -> PromptVersion:
    return PromptVersion.objects.create(
        template=template,
        number=number,
        user_template=user,
        system_template="You classify.",
        variables_schema=INPUT_SCHEMA,
    )


@pytest.fixture
def service(gateway_setup):
    """Prompt API `summarize` of tenant acme on route `smart`, text output, version 1 live, public."""
    svc = Service.objects.create(
        tenant=gateway_setup.tenant,
        slug="summarize",
        name="Summarize",
        kind="prompt",
        visibility="public",
        lifecycle="published",
        route=gateway_setup.route,
        input_schema=INPUT_SCHEMA,
    )
    template = PromptTemplate.objects.create(service=svc)
    template.live_version = add_version(template, 1, "v1: {{ text }}")
    template.save()
    Plan.objects.create(service=svc, slug="free", name="Free")
    refresh_snapshot()
    return svc


@pytest.fixture
def consumer(transactional_db):
    """An app of another tenant, with a key: (app, secret)."""
    tenant = TenantFactory(slug="globex", name="Globex")
    app = AppFactory(tenant=tenant, slug="globex-bot")
    _, secret = api_key_issue(app=app, name="k", actor_membership=None)
    refresh_snapshot()
    return app, secret


def invoke(live_gateway, secret, body, slug="summarize", **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {secret}", **kwargs.pop("headers", {})}
    return httpx.post(f"{live_gateway}/api/v1/services/{slug}/invoke", json=body, headers=headers, timeout=30, **kwargs)


def subscribe(app, service, status, **fields) -> Subscription:
    sub = Subscription.objects.create(
        app=app, service=service, plan=service.plans.get(), status=status, purpose="tests", **fields
    )
    refresh_snapshot()
    return sub


def test_own_tenant_app_invokes_without_subscription(live_gateway, gateway_setup, service, fake_upstream):
    response = invoke(live_gateway, gateway_setup.secret, {"text": "hello world"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["output"] == fake_upstream.reply
    assert body["version"] == 1
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert body["usage"]["total_tokens"] > 0
    sent = fake_upstream.requests[-1].body
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"] == [
        {"role": "system", "content": "You classify."},
        {"role": "user", "content": "v1: hello world"},
    ]


@pytest.mark.parametrize(
    ("status", "fields", "expected", "code"),
    [
        (None, {}, 403, "not_subscribed"),
        ("pending", {}, 403, "subscription_pending"),
        ("approved", {}, 200, None),
        ("approved", {"expires_at": timezone.now() + timedelta(days=1)}, 200, None),
        ("suspended", {}, 403, "subscription_suspended"),
        ("approved", {"expires_at": timezone.now() - timedelta(seconds=1)}, 403, "subscription_expired"),
        ("revoked", {}, 403, "not_subscribed"),
        ("rejected", {}, 403, "not_subscribed"),
    ],
    ids=["none", "pending", "approved", "approved-timeboxed", "suspended", "expired", "revoked", "rejected"],
)
def test_other_tenant_needs_an_approved_subscription(live_gateway, service, consumer, status, fields, expected, code):
    app, secret = consumer
    if status:
        subscribe(app, service, status, **fields)
    response = invoke(live_gateway, secret, {"text": "hi"})
    assert response.status_code == expected, response.text
    if code:
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["message"]


def test_private_service_of_another_tenant_is_404(live_gateway, service, consumer):
    Service.objects.filter(pk=service.pk).update(visibility="private")
    subscribe(consumer[0], service, "approved")
    response = invoke(live_gateway, consumer[1], {"text": "hi"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "service_not_found"
    assert invoke(live_gateway, consumer[1], {"text": "hi"}, slug="no-such").json() == response.json() | {
        "error": response.json()["error"] | {"message": "No service 'no-such' is visible to your tenant."}
    }


def test_shared_service_is_visible_only_to_chosen_tenants(live_gateway, service, consumer):
    Service.objects.filter(pk=service.pk).update(visibility="shared")
    subscribe(consumer[0], service, "approved")
    assert invoke(live_gateway, consumer[1], {"text": "hi"}).status_code == 404
    service.shared_with.add(Tenant.objects.get(slug="globex"))
    refresh_snapshot()
    assert invoke(live_gateway, consumer[1], {"text": "hi"}).status_code == 200


@pytest.mark.parametrize(("lifecycle", "status"), [("draft", 409), ("retired", 404), ("deprecated", 200)])
def test_only_published_and_deprecated_services_answer(live_gateway, gateway_setup, service, lifecycle, status):
    Service.objects.filter(pk=service.pk).update(lifecycle=lifecycle)
    refresh_snapshot()
    response = invoke(live_gateway, gateway_setup.secret, {"text": "hi"})
    assert response.status_code == status
    if lifecycle == "deprecated":
        assert response.headers["Deprecation"] == "true"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"(body)": "'text' is a required property"}),
        ({"text": ""}, {"text": "'' should be non-empty"}),
        ({"text": 3}, {"text": "3 is not of type 'string'"}),
        ({"text": "hi", "lang": "fr"}, {"lang": "'fr' is not one of ['en', 'de']"}),
        ({"text": "hi", "extra": 1}, {"(body)": "Additional properties are not allowed ('extra' was unexpected)"}),
        ([1, 2], {"(body)": "not an object"}),
    ],
    ids=["missing", "empty", "type", "enum", "extra", "array"],
)
def test_schema_violations_are_400_with_the_fields(live_gateway, gateway_setup, service, fake_upstream, body, fields):
    response = invoke(live_gateway, gateway_setup.secret, body)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == fields
    assert fake_upstream.requests == []


def test_json_output_is_parsed_and_checked_with_one_retry(live_gateway, gateway_setup, service, fake_upstream):
    schema = {"type": "object", "properties": {"label": {"enum": ["pos", "neg"]}}, "required": ["label"]}
    Service.objects.filter(pk=service.pk).update(output_mode="json", output_schema=schema)
    refresh_snapshot()
    fake_upstream.reply = '{"label": "pos"}'
    response = invoke(live_gateway, gateway_setup.secret, {"text": "great"})
    assert response.json()["output"] == {"label": "pos"}
    assert fake_upstream.requests[-1].body["response_format"]["json_schema"]["schema"] == schema
    fake_upstream.reply = '{"label": "maybe"}'
    sent = len(fake_upstream.requests)
    response = invoke(live_gateway, gateway_setup.secret, {"text": "meh"})
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "invalid_output"
    assert len(fake_upstream.requests) == sent + 2  # the first answer and one retry


def test_stream_sends_text_deltas_then_a_done_event(live_gateway, gateway_setup, service, fake_upstream):
    headers = {"Authorization": f"Bearer {gateway_setup.secret}"}
    url = f"{live_gateway}/api/v1/services/summarize/invoke?stream=true"
    with httpx.stream("POST", url, json={"text": "hi"}, headers=headers) as response:
        events = [orjson.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    assert "".join(e["text"] for e in events if e["type"] == "delta") == fake_upstream.reply
    assert events[-1]["type"] == "done"
    assert events[-1]["version"] == 1


@pytest.mark.parametrize(
    ("value", "streams"), [("true", True), ("1", True), ("TRUE", True), ("false", False), ("0", False), (None, False)]
)
def test_stream_takes_true_false_1_or_0(live_gateway, gateway_setup, service, value, streams):
    params = {} if value is None else {"stream": value}
    response = invoke(live_gateway, gateway_setup.secret, {"text": "hi"}, params=params)
    assert response.status_code == 200, response.text
    expected = "text/event-stream" if streams else "application/json"
    assert response.headers["Content-Type"].startswith(expected)


@pytest.mark.parametrize("query", ["stream=maybe", "stream=yes", "stream=", "stream=on", "stream=true&stream=false"])
def test_any_other_stream_value_is_a_400_naming_it(live_gateway, gateway_setup, service, fake_upstream, query):
    response = httpx.post(
        f"{live_gateway}/api/v1/services/summarize/invoke?{query}",
        json={"text": "hi"},
        headers={"Authorization": f"Bearer {gateway_setup.secret}"},
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "stream")
    assert error["message"].startswith("Invalid value for 'stream'")
    assert "true, false, 1 or 0" in error["message"]
    assert response.headers["X-Request-Id"].startswith("req_")
    assert fake_upstream.requests == []


CONVERSATIONS = 200


def test_ab_split_follows_weights_and_sticks_per_app(live_gateway, gateway_setup, service, fake_upstream):
    template = service.prompt
    add_version(template, 2, "v2: {{ text }}")
    PromptTemplate.objects.filter(pk=template.pk).update(
        ab_split=[{"version": 1, "weight": 70}, {"version": 2, "weight": 30}]
    )
    refresh_snapshot()
    versions = {invoke(live_gateway, gateway_setup.secret, {"text": "x"}).json()["version"] for _ in range(20)}
    assert len(versions) == 1  # one app: always the same version
    PromptTemplate.objects.filter(pk=template.pk).update(sticky_by="conversation")
    refresh_snapshot()

    async def calls() -> Counter:
        headers = {"Authorization": f"Bearer {gateway_setup.secret}"}
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=live_gateway, headers=headers, limits=limits, timeout=30) as client:
            semaphore = asyncio.Semaphore(50)

            async def one(n: int) -> int:
                async with semaphore:
                    r = await client.post(
                        "/api/v1/services/summarize/invoke", json={"text": "x"}, headers={"X-Conversation-Id": f"c{n}"}
                    )
                    return r.json()["version"]

            return Counter(await asyncio.gather(*(one(n) for n in range(CONVERSATIONS))))

    counts = asyncio.run(calls())
    # Each conversation gets the version the weighted choice gives its key (tests/prompts/test_ab.py shows the
    # shares over many keys follow the weights): the served versions are exactly those, not merely about 70/30.
    split = [(1, 70), (2, 30)]
    expected = Counter(
        choose_version(live=1, split=split, sticky_key=f"{service.pk}:conversation:c{n}") for n in range(CONVERSATIONS)
    )
    assert counts == expected
    assert 0.5 <= counts[1] / CONVERSATIONS <= 0.9
    prompts_sent = Counter(r.body["messages"][-1]["content"][:3] for r in fake_upstream.requests[-CONVERSATIONS:])
    assert prompts_sent == {"v1:": counts[1], "v2:": counts[2]}  # what the upstream received matches the version


def test_rollback_takes_effect_on_the_next_call(live_gateway, gateway_setup, service, fake_upstream):
    template = service.prompt
    PromptTemplate.objects.filter(pk=template.pk).update(live_version=add_version(template, 2, "v2: {{ text }}"))
    refresh_snapshot()
    assert invoke(live_gateway, gateway_setup.secret, {"text": "a"}).json()["version"] == 2
    assert fake_upstream.requests[-1].body["messages"][-1]["content"] == "v2: a"
    PromptTemplate.objects.filter(pk=template.pk).update(live_version=template.versions.get(number=1))
    refresh_snapshot()
    assert invoke(live_gateway, gateway_setup.secret, {"text": "b"}).json()["version"] == 1
    assert fake_upstream.requests[-1].body["messages"][-1]["content"] == "v1: b"


def test_model_api_of_another_tenant_is_reachable_through_v1_with_a_subscription(live_gateway, service, consumer):
    app, secret = consumer
    model_api = Service.objects.create(
        tenant=service.tenant,
        slug="acme-smart",
        name="Acme smart",
        kind="model",
        visibility="public",
        lifecycle="published",
        route=service.route,
    )
    Plan.objects.create(service=model_api, slug="free", name="Free")
    refresh_snapshot()
    headers = {"Authorization": f"Bearer {secret}"}
    chat = {"model": "acme-smart", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(f"{live_gateway}/v1/chat/completions", json=chat, headers=headers).status_code == 404
    assert httpx.get(f"{live_gateway}/v1/models", headers=headers).json()["data"] == []
    subscribe(app, model_api, "approved")
    assert httpx.post(f"{live_gateway}/v1/chat/completions", json=chat, headers=headers).status_code == 200
    assert [m["id"] for m in httpx.get(f"{live_gateway}/v1/models", headers=headers).json()["data"]] == ["acme-smart"]
    chat_owner_route = {**chat, "model": "smart"}  # the owner's own alias stays private
    assert httpx.post(f"{live_gateway}/v1/chat/completions", json=chat_owner_route, headers=headers).status_code == 404
