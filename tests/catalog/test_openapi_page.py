"""The catalog's "OpenAPI document" link: a readable page of the service's document and its JSON to download, for
any signed-in person whose tenants may see the service, however many tenants they belong to."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from apps.catalog.models import Lifecycle, OutputMode, Service, ServiceKind, Visibility
from tests.factories import MembershipFactory, ServiceFactory

pytestmark = pytest.mark.django_db

PAGE, JSON = "/catalog/sentiment/openapi/", "/catalog/sentiment/openapi.json"


@pytest.fixture
def published(sentiment):
    Service.objects.filter(pk=sentiment.pk).update(lifecycle=Lifecycle.PUBLISHED)
    return sentiment


@pytest.fixture
def in_two_tenants(mallory, third_tenant):
    """Mallory, owner of globex, is also a viewer of initech."""
    MembershipFactory(user=mallory, tenant=third_tenant, role="viewer")
    return mallory


def openapi_link(page: str) -> str:
    return re.search(r'<a href="([^"]+)">OpenAPI document</a>', page).group(1)


def test_the_catalog_link_opens_a_readable_page_for_a_person_in_two_tenants(published, in_two_tenants, client_for):
    client = client_for(in_two_tenants)
    link = openapi_link(client.get("/catalog/sentiment/").content.decode())
    response = client.get(link)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "POST /api/v1/services/sentiment/invoke" in page  # the operation
    assert "<code>stream</code><br><small>query · boolean · optional</small>" in page  # its parameter
    assert "<code>true</code> or <code>1</code> streams" in page
    assert "<code>text</code><br><small>string · required</small>" in page  # the request body's fields
    assert "what to classify" in page
    assert "<code>output.label</code>" in page  # the JSON answer's fields, through its $ref
    assert "one of &quot;positive&quot;, &quot;neutral&quot;, &quot;negative&quot;" in page
    assert "Event <code>DeltaEvent</code>" in page  # the stream's events and an example stream
    assert "Event <code>DoneEvent</code>" in page
    assert "data: {&quot;type&quot;: &quot;delta&quot;" in page
    assert "data: [DONE]" in page
    assert "{\n  &quot;text&quot;: &quot;&lt;text&gt;&quot;\n}" in page  # the request example
    assert "<td>429</td>" in page  # the errors and their body
    assert "<code>error.message</code><br><small>string · required</small>" in page
    assert f'href="{JSON}"' in page


def test_the_download_link_answers_the_valid_document_as_a_file(published, in_two_tenants, client_for):
    response = client_for(in_two_tenants).get(JSON)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="sentiment.openapi.json"'
    document = response.json()
    validate(document)
    assert document["servers"] == [{"url": "http://testserver"}]
    assert list(document["paths"]) == ["/api/v1/services/sentiment/invoke"]


def test_the_page_has_no_inline_script(published, mallory, client_for):
    page = client_for(mallory).get(PAGE).content.decode()
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts
    assert all(" src=" in tag for tag in scripts)
    assert " on" not in "".join(re.findall(r"<[a-z]+ [^>]*>", page)).replace(" open", "")  # no onclick=…


@pytest.mark.parametrize(
    ("visibility", "lifecycle"),
    [
        (Visibility.PRIVATE, Lifecycle.PUBLISHED),
        (Visibility.PUBLIC, Lifecycle.DRAFT),
        (Visibility.PUBLIC, Lifecycle.RETIRED),
        (Visibility.SHARED, Lifecycle.PUBLISHED),  # shared with nobody
    ],
)
def test_what_none_of_their_tenants_may_see_is_404(sentiment, in_two_tenants, client_for, visibility, lifecycle):
    Service.objects.filter(pk=sentiment.pk).update(visibility=visibility, lifecycle=lifecycle)
    client = client_for(in_two_tenants)
    assert client.get(PAGE).status_code == 404
    assert client.get(JSON).status_code == 404
    assert client.get("/catalog/no-such-service/openapi/").status_code == 404


def test_a_service_shared_with_any_of_their_tenants_is_readable(sentiment, in_two_tenants, third_tenant, client_for):
    Service.objects.filter(pk=sentiment.pk).update(visibility=Visibility.SHARED, lifecycle=Lifecycle.PUBLISHED)
    sentiment.shared_with.set([third_tenant])  # initech, not globex: the tenant Mallory works in
    client = client_for(in_two_tenants)
    assert client.get(PAGE).status_code == 200
    assert client.get(JSON).status_code == 200


def test_the_owner_reads_its_draft(sentiment, owner, client_for):
    assert client_for(owner).get(PAGE).status_code == 200


def test_a_person_in_no_tenant_sees_nothing(published, client_for, django_user_model):
    loner = django_user_model.objects.create_user("loner", password="x")
    assert client_for(loner).get(PAGE).status_code == 404


@pytest.mark.parametrize("url", [PAGE, JSON])
def test_both_need_a_login(published, client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": ServiceKind.PROMPT, "output_mode": OutputMode.TEXT},
        {"kind": ServiceKind.MODEL},
        {"kind": ServiceKind.PROMPT, "lifecycle": Lifecycle.DEPRECATED, "output_mode": OutputMode.JSON},
    ],
    ids=["prompt-text", "model", "deprecated"],
)
def test_every_kind_of_service_has_a_valid_document_and_page(tenant, route, owner, client_for, fields):
    output = {"type": "object", "properties": {"answer": {"type": "string"}}}
    ServiceFactory(tenant=tenant, route=route, slug="svc", output_schema=output, **fields)
    client = client_for(owner)
    validate(client.get("/catalog/svc/openapi.json").json())
    page = client.get("/catalog/svc/openapi/").content.decode()
    assert ("POST /v1/chat/completions" in page) == (fields["kind"] == ServiceKind.MODEL)
    assert ("Deprecated." in page) == (fields.get("lifecycle") == Lifecycle.DEPRECATED)


def test_apps_still_read_the_same_document_with_their_key(published, other_tenant, key_for, mallory, client_for):
    _, secret = key_for(other_tenant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = client.get("/api/v1/services/sentiment/openapi.json")
    assert response.status_code == 200
    validate(response.json())
    assert response.json() == client_for(mallory).get(JSON).json()
