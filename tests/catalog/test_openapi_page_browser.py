"""The OpenAPI document page in a real headless Chromium on a 390 px wide phone: reached from the catalog by a
person in two tenants, nothing wider than the screen, no critical or serious axe-core violation, and its "Download
JSON" link downloads the document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from playwright.sync_api import Page, expect

from apps.catalog.models import Lifecycle, Service
from tests.browser.checks import assert_page_passes
from tests.factories import PASSWORD, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_phone_reads_the_openapi_page_and_downloads_the_json(page: Page, live_server, sentiment, mallory, tenant):
    Service.objects.filter(pk=sentiment.pk).update(lifecycle=Lifecycle.PUBLISHED)
    MembershipFactory(user=mallory, tenant=tenant, role="viewer")  # two tenants
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/accounts/login/?next=/catalog/sentiment/")
    page.get_by_label("Username").fill("mallory")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="OpenAPI document").click()

    expect(page).to_have_url(f"{live_server.url}/catalog/sentiment/openapi/")
    expect(page.get_by_role("heading", name="Sentiment", level=1)).to_be_visible()
    expect(page.get_by_text("Event DeltaEvent")).to_be_visible()
    assert_page_passes(page, "catalog-openapi")  # tables and code scroll inside their boxes

    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSON").click()
    assert download.value.suggested_filename == "sentiment.openapi.json"
    document = json.loads(Path(download.value.path()).read_text())
    validate(document)
    assert list(document["paths"]) == ["/api/v1/services/sentiment/invoke"]
