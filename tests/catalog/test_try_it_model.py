"""The try-it panel of a model API (apps/access/views_try_it.py, ChatTryItForm): a chat form (system and user
message, max_tokens, temperature) or raw JSON, sent as one non-streaming chat completion through the gateway's real
/v1 path as one of my apps (ServiceTrier.chat → GatewayPipeline.chat_as_app), on my session; the answer text, its
status, headers, latency and curl; the gateway's refusals as messages or at their field; the call in the log."""

from __future__ import annotations

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from apps.access.models import Subscription
from apps.access.services import api_key_issue
from apps.analytics.models import CallLog
from apps.catalog.models import Plan, Service
from apps.catalog.services.ports import TryItCall, service_trier
from apps.tenants.models import Role
from tests.factories import AppFactory, MembershipFactory, UserFactory

# The call record is written by the sink's own thread: it must see committed rows.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_gateway")]


@pytest.fixture
def service(tenant, route):
    """Acme's published public model API `acme-chat` on its echo route `smart`, one plan of 2 requests a minute."""
    svc = Service.objects.create(
        tenant=tenant,
        slug="acme-chat",
        name="Acme chat",
        kind="model",
        visibility="public",
        lifecycle="published",
        route=route,
    )
    Plan.objects.create(service=svc, slug="free", name="Free", requests_per_minute=2)
    return svc


@pytest.fixture
def dev(other_tenant):
    user = UserFactory(username="dev")
    MembershipFactory(tenant=other_tenant, role=Role.DEVELOPER, user=user)
    return user


def _managed_app(user, tenant, slug, service=None, status="approved"):
    app = AppFactory(tenant=tenant, slug=slug, name=slug.replace("-", " ").capitalize())
    assign_perm("access.manage_app", user, app)
    if service is not None:
        Subscription.objects.create(app=app, service=service, plan=service.plans.get(), status=status, purpose="t")
    return app


@pytest.fixture
def bot(other_tenant, dev, service):
    """Globex's app that dev manages, with an approved subscription to acme-chat."""
    return _managed_app(dev, other_tenant, "globex-bot", service)


def url(slug="acme-chat"):
    return reverse("access:service-try-it", args=[slug])


def send(client, app="globex-bot", **fields):
    data = {"mode": "form", "form-app": app, **{f"form-{k}": v for k, v in fields.items()}}
    return client.post(url(), data, HTTP_HX_REQUEST="true")


def send_raw(client, raw, app="globex-bot"):
    return client.post(url(), {"mode": "raw", "raw-app": app, "raw-raw": raw}, HTTP_HX_REQUEST="true")


def test_the_page_loads_the_panel_whose_form_is_a_chat_with_a_raw_json_alternative(client_for, dev, bot, service):
    client = client_for(dev)
    page = client.get(reverse("catalog:service-detail", args=[service.slug])).content.decode()
    assert f'hx-get="{url()}"' in page
    body = client.get(url()).content.decode()
    for label in ("System message", "User message", "max_tokens", "temperature", "Body (JSON)"):
        assert f">{label}</label>" in body
    assert '<option value="globex-bot">Globex bot</option>' in body
    assert "&quot;model&quot;: &quot;acme-chat&quot;" in body  # the raw example names the service
    assert "input fields" not in body  # the prompt panel's note about the input schema
    assert "gwk_" not in body


def test_a_subscribed_app_gets_the_answer_headers_latency_and_curl_and_a_try_it_call_log(client_for, dev, bot):
    _, secret = api_key_issue(app=bot, name="ci", actor_membership=None)
    fields = {"system": "Be brief.", "user": "Hello from the panel", "max_tokens": "50", "temperature": "0.5"}
    response = send(client_for(dev), **fields)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-status="200"' in body
    assert '<code class="try-it-answer">Hello from the panel</code>' in body  # the echo route's answer
    assert "X-Request-Id: req_" in body
    assert "X-RateLimit-Limit-Requests: 2" in body  # the plan's limit, counted on this call
    assert "X-RateLimit-Remaining-Requests: 1" in body
    assert " ms</span>" in body
    assert "curl -sS -X POST &#x27;http://testserver/v1/chat/completions&#x27;" in body
    assert "Bearer $GATEWAY_API_KEY" in body
    assert "&quot;max_tokens&quot;: 50" in body
    assert "&quot;temperature&quot;: 0.5" in body
    assert "&quot;role&quot;: &quot;system&quot;" in body
    assert secret not in body
    assert "gwk_" not in body
    log = CallLog.objects.get()
    assert (log.endpoint, log.key_prefix, log.app_id, log.tenant_id, log.service_id, log.status) == (
        "try_it",
        "",
        bot.pk,
        bot.tenant_id,
        bot.subscriptions.get().service_id,
        200,
    )
    assert log.prompt_tokens > 0  # accounted like any call


def test_the_plans_rate_limit_refuses_in_the_panel_as_a_message(client_for, dev, bot):
    client = client_for(dev)
    for _ in range(2):
        assert 'data-status="200"' in send(client, user="hello").content.decode()
    response = send(client, user="hello")
    assert response.status_code == 200  # the panel answered; the gateway's 429 is in it
    body = response.content.decode()
    assert 'data-status="429"' in body
    assert 'class="message message-error try-it-error" role="alert"' in body
    assert "Retry-After: " in body
    assert "try-it-answer" not in body
    assert list(CallLog.objects.order_by("status").values_list("status", flat=True)) == [200, 200, 429]


def test_bad_max_tokens_and_temperature_are_field_errors_without_a_call(client_for, dev, bot):
    client = client_for(dev)
    response = send(client, user="hello", max_tokens="0", temperature="3")
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_form-max_tokens_error"' in body
    assert "greater than or equal to 1" in body
    assert 'id="id_form-temperature_error"' in body
    assert 'id="id_form-user_error"' not in body
    response = send(client, user="", max_tokens="many")
    assert 'id="id_form-user_error"' in response.content.decode()
    assert 'id="id_form-max_tokens_error"' in response.content.decode()
    assert not CallLog.objects.exists()


def test_raw_json_goes_through_the_gateways_check_which_names_the_parameter(client_for, dev, bot):
    client = client_for(dev)
    response = send_raw(client, '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 0}')
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_raw-raw_error"' in body
    assert "Invalid &#x27;max_tokens&#x27;" in body
    assert 'data-status="400"' in body
    response = send_raw(client, '{"messages": [{"role": "user", "content": "Hi"}], "stream": true}')
    assert response.status_code == 400
    assert "shows one answer" in response.content.decode()
    # refused by the gateway: recorded as the app's try-it calls, like /v1 records its refusals
    assert list(CallLog.objects.values_list("endpoint", "status")) == [("try_it", 400), ("try_it", 400)]
    response = send_raw(client, '{"model": "smart", "messages": [{"role": "user", "content": "Hi"}]}')
    assert response.status_code == 400
    assert "This panel calls the model &#x27;acme-chat&#x27;" in response.content.decode()
    response = send_raw(client, '{"messages": [{"role": "user", "content": "Raw hello"}]}')
    assert response.status_code == 200
    assert '<code class="try-it-answer">Raw hello</code>' in response.content.decode()
    assert CallLog.objects.count() == 3  # not the other model's


def test_an_app_without_an_approved_subscription_is_refused_in_the_panel(client_for, dev, other_tenant, service):
    _managed_app(dev, other_tenant, "pending-bot", service, status="pending")
    client = client_for(dev)
    body = client.get(url()).content.decode()
    assert "pending-bot" not in body
    assert "None of the apps you manage may call it yet" in body
    response = send(client, app="pending-bot", user="hello")
    assert response.status_code == 400
    assert "None of the apps you manage may call it yet" in response.content.decode()
    assert not CallLog.objects.exists()


def test_the_gateway_refuses_an_app_without_an_approved_subscription_too(other_tenant, dev, service):
    """The port itself, past the panel's check: the pipeline asks for the subscription from its snapshot."""
    app = _managed_app(dev, other_tenant, "pending-bot", service, status="pending")
    call = TryItCall(
        tenant_id=other_tenant.pk,
        tenant_slug=other_tenant.slug,
        app_id=app.pk,
        app_slug=app.slug,
        service_slug=service.slug,
        body={"model": service.slug, "messages": [{"role": "user", "content": "hello"}]},
    )
    result = service_trier().chat(call)
    assert result.status == 404
    assert result.body["error"]["code"] == "model_not_found"
    assert CallLog.objects.get().endpoint == "try_it"


def test_another_tenants_app_is_refused_even_with_a_subscription(client_for, dev, bot, third_tenant, service):
    _managed_app(UserFactory(username="initech-dev"), third_tenant, "initech-bot", service)
    client = client_for(dev)
    assert "initech-bot" not in client.get(url()).content.decode()
    response = send(client, app="initech-bot", user="hello")
    assert response.status_code == 400
    assert 'id="id_form-app_error"' in response.content.decode()
    assert not CallLog.objects.exists()


def test_the_owners_apps_call_the_route_by_its_alias(client_for, owner, tenant, service):
    _managed_app(owner, tenant, "acme-app")
    response = send(client_for(owner), app="acme-app", user="Mine")
    assert response.status_code == 200
    body = response.content.decode()
    assert '<code class="try-it-answer">Mine</code>' in body
    assert "&quot;model&quot;: &quot;smart&quot;" in body  # the curl the owners' apps would send
    log = CallLog.objects.get()
    assert (log.endpoint, log.status, log.service_id) == ("try_it", 200, None)  # a route call, no subscription
