"""The try-it panel of a service's page (apps/access/views_try_it.py): a form from the service's input schema, or raw
JSON, sent through the gateway's real invoke path as one of my apps (ServiceTrier port → invoke_as_app), on my
session; the answer, its headers, latency and curl; the input's problems at their field; the call in the log."""

from __future__ import annotations

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from apps.access.models import Subscription
from apps.analytics.models import CallLog
from apps.catalog.models import Plan, Service
from apps.prompts.models import PromptTemplate, PromptVersion
from apps.tenants.models import Role
from tests.factories import AppFactory, MembershipFactory, UserFactory

# The call record is written by the sink's own thread: it must see committed rows.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_gateway")]

INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 3, "description": "what to summarize"},
        "lang": {"type": "string", "enum": ["en", "de"]},
        "words": {"type": "integer"},
        "formal": {"type": "boolean"},
    },
    "required": ["text"],
    "additionalProperties": False,
}


@pytest.fixture
def service(tenant, route):
    """Acme's published public prompt API `summarize` on the echo route, version 1 live, one plan."""
    svc = Service.objects.create(
        tenant=tenant,
        slug="summarize",
        name="Summarize",
        kind="prompt",
        visibility="public",
        lifecycle="published",
        route=route,
        input_schema=INPUT_SCHEMA,
    )
    template = PromptTemplate.objects.create(service=svc)
    template.live_version = PromptVersion.objects.create(
        template=template,
        number=1,
        system_template="You summarize.",
        user_template="Summarize in {{ lang or 'en' }}: {{ text }}",
        variables_schema=INPUT_SCHEMA,
    )
    template.save()
    Plan.objects.create(service=svc, slug="free", name="Free")
    return svc


@pytest.fixture
def dev(other_tenant):
    user = UserFactory(username="dev")
    MembershipFactory(tenant=other_tenant, role=Role.DEVELOPER, user=user)
    return user


@pytest.fixture
def bot(other_tenant, dev, service):
    """Globex's app that dev manages, with an approved subscription to summarize."""
    app = AppFactory(tenant=other_tenant, slug="globex-bot", name="Globex bot")
    assign_perm("access.manage_app", dev, app)
    Subscription.objects.create(app=app, service=service, plan=service.plans.get(), status="approved", purpose="t")
    return app


def url(slug="summarize"):
    return reverse("access:service-try-it", args=[slug])


def send(client, **fields):
    data = {"mode": "form", "form-app": "globex-bot", **{f"form-{k}": v for k, v in fields.items()}}
    return client.post(url(), data, HTTP_HX_REQUEST="true")


def test_the_form_has_a_typed_field_per_input_property_and_a_raw_json_alternative(client_for, dev, bot):
    body = client_for(dev).get(url()).content.decode()
    assert '<label for="id_form-field_0">text</label>' in body
    assert 'name="form-field_0"' in body
    assert "required" in body
    # then the others by name: formal (a boolean), lang (an enum), words (an integer)
    assert '<label for="id_form-field_1">formal</label>' in body
    assert '<option value="true">true</option>' in body
    assert '<label for="id_form-field_2">lang</label>' in body
    assert '<option value="&quot;de&quot;">de</option>' in body
    assert '<input type="number" name="form-field_3"' in body
    assert '<label for="id_raw-raw">Body (JSON)</label>' in body
    assert '<option value="globex-bot">Globex bot</option>' in body
    assert "gwk_" not in body  # no key in the page


def test_a_call_answers_with_the_output_headers_latency_and_curl_and_is_logged_as_the_apps(client_for, dev, bot):
    response = send(client_for(dev), field_0="The quarterly report", field_1="true", field_2='"de"', field_3="12")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-status="200"' in body
    assert "Summarize in de: The quarterly report" in body  # the echo route answers the rendered prompt
    assert "X-Service-Version: 1" in body
    assert "X-Request-Id: req_" in body
    assert " ms</span>" in body
    assert "curl -sS -X POST &#x27;http://testserver/api/v1/services/summarize/invoke&#x27;" in body
    assert "Bearer $GATEWAY_API_KEY" in body
    assert "&quot;words&quot;: 12" in body
    assert "&quot;formal&quot;: true" in body
    log = CallLog.objects.get()
    assert (log.endpoint, log.key_prefix, log.app_id, log.tenant_id, log.service_id, log.status) == (
        "try_it",
        "",
        bot.pk,
        bot.tenant_id,
        bot.subscriptions.get().service_id,
        200,
    )


def test_the_schemas_refusal_is_shown_at_its_field(client_for, dev, bot):
    response = send(client_for(dev), field_0="ab")
    assert response.status_code == 400
    body = response.content.decode()
    assert '<small id="id_form-field_0_error" class="field-error">&#x27;ab&#x27; is too short</small>' in body
    assert 'data-status="400"' in body


def test_raw_json_is_sent_as_is_and_bad_json_is_refused_at_its_field_without_a_call(client_for, dev, bot):
    client = client_for(dev)
    data = {"mode": "raw", "raw-app": "globex-bot", "raw-raw": '{"text": "Raw body here", "extra": 1}'}
    response = client.post(url(), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400  # additionalProperties: the pipeline's own check, named at the raw field
    assert "(body): Additional properties are not allowed" in response.content.decode()
    response = client.post(url(), {**data, "raw-raw": '{"text": '}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert 'id="id_raw-raw_error"' in response.content.decode()
    assert "Not valid JSON" in response.content.decode()
    assert CallLog.objects.count() == 1  # only the first reached the gateway


def test_only_my_apps_with_an_approved_subscription_are_offered(client_for, dev, bot, other_tenant, service):
    pending = AppFactory(tenant=other_tenant, slug="pending-bot", name="Pending bot")
    assign_perm("access.manage_app", dev, pending)
    Subscription.objects.create(app=pending, service=service, plan=service.plans.get(), status="pending", purpose="t")
    AppFactory(tenant=other_tenant, slug="not-mine", name="Not mine")
    client = client_for(dev)
    body = client.get(url()).content.decode()
    assert "pending-bot" not in body
    assert "not-mine" not in body
    response = client.post(url(), {"mode": "form", "form-app": "pending-bot", "form-field_0": "hello"})
    assert response.status_code == 400
    assert 'id="id_form-app_error"' in response.content.decode()
    assert not CallLog.objects.exists()


def test_a_viewer_gets_no_panel_and_the_403_naming_the_role(client_for, other_tenant, bot):
    viewer = UserFactory(username="viewer")
    MembershipFactory(tenant=other_tenant, role=Role.VIEWER, user=viewer)
    client = client_for(viewer)
    body = client.get(url()).content.decode()
    assert "needs the developer role" in body
    assert "<form" not in body
    response = send(client, field_0="hello")
    assert response.status_code == 403
    assert "developer role" in response.content.decode()
    assert not CallLog.objects.exists()


def test_another_tenants_private_service_is_404(client_for, dev, bot, service):
    Service.objects.filter(pk=service.pk).update(visibility="private")
    client = client_for(dev)
    assert client.get(url()).status_code == 404
    assert send(client, field_0="hello").status_code == 404
    assert not CallLog.objects.exists()
