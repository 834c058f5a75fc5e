"""Invoking a published service is a gateway call: it needs the key's `gateway` scope. A key with only the
`catalog` scope reads the catalog and nothing more (it used to invoke services, 4 calls out of 4)."""

from __future__ import annotations

import httpx
import pytest

from apps.access.services import api_key_issue
from apps.catalog.models import Service
from apps.prompts.models import PromptTemplate, PromptVersion
from tests.gateway.conftest import _fresh_gateway, gateway_setup, live_gateway, refresh_snapshot  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

SCOPE_REFUSAL = {
    "error": {
        "message": "This key may not call the gateway (it lacks the 'gateway' scope).",
        "type": "permission_error",
        "param": None,
        "code": "forbidden",
    }
}


@pytest.fixture
def summarize(gateway_setup):  # noqa: F811
    """Prompt API `summarize` of the key's own tenant (no subscription needed), published on route `smart`."""
    service = Service.objects.create(
        tenant=gateway_setup.tenant,
        slug="summarize",
        name="Summarize",
        kind="prompt",
        lifecycle="published",
        route=gateway_setup.route,
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    )
    template = PromptTemplate.objects.create(service=service)
    template.live_version = PromptVersion.objects.create(template=template, number=1, user_template="{{ text }}")
    template.save()
    return service


def secret_with(gateway_setup, scopes: list[str]) -> str:  # noqa: F811
    _, secret = api_key_issue(app=gateway_setup.app, name=" + ".join(scopes), actor_membership=None, scopes=scopes)
    refresh_snapshot()
    return secret


def invoke(base_url: str, secret: str, query: str = "") -> httpx.Response:
    return httpx.post(
        f"{base_url}/api/v1/services/summarize/invoke{query}",
        json={"text": "hello"},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )


@pytest.mark.parametrize("query", ["", "?stream=true"])
def test_a_catalog_only_key_may_not_invoke(live_gateway, gateway_setup, summarize, fake_upstream, query):  # noqa: F811
    secret = secret_with(gateway_setup, ["catalog"])
    for _ in range(4):
        response = invoke(live_gateway, secret, query)
        assert response.status_code == 403
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == SCOPE_REFUSAL
    assert fake_upstream.requests == []
    catalog = httpx.get(f"{live_gateway}/api/v1/services/", headers={"Authorization": f"Bearer {secret}"})
    assert catalog.status_code == 200  # the key itself is good: it reads the catalog


def test_a_key_with_the_gateway_scope_invokes(live_gateway, gateway_setup, summarize, fake_upstream):  # noqa: F811
    response = invoke(live_gateway, secret_with(gateway_setup, ["gateway"]))
    assert response.status_code == 200, response.text
    assert response.json()["output"] == fake_upstream.reply


@pytest.mark.parametrize(("body", "query"), [(b"{not json", ""), (b"[1, 2]", ""), (b'{"text": "hi"}', "?stream=maybe")])
def test_a_bad_key_is_a_401_whatever_the_body_or_the_query(live_gateway, summarize, body, query):  # noqa: F811
    # As on /v1: the key is checked before the body and the query, so a caller with no valid key learns nothing
    # about what the endpoint would accept.
    response = httpx.post(
        f"{live_gateway}/api/v1/services/summarize/invoke{query}",
        content=body,
        headers={"Authorization": "Bearer gwk_bad_key", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_a_good_key_with_a_bad_query_is_still_a_400_naming_it(live_gateway, gateway_setup, summarize):  # noqa: F811
    response = invoke(live_gateway, secret_with(gateway_setup, ["gateway"]), "?stream=maybe")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "stream"
