"""The drift banner in a real headless Chromium, on a phone (390 px) and a desktop (1,440 px): above the page's
content, listing long object names without a horizontal scroll of the page, and no serious accessibility
violation."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.gitops.models import GitLabConnection
from tests.browser.checks import WIDTHS, assert_page_passes
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def drifted(tenant, members):
    connection = GitLabConnection(tenant=tenant, gitlab_url="https://gitlab.example.com", project="acme/definitions")
    connection.set_token("glpat-never-shown")
    long_route = "team%2F" + "a-very-long-route-name-" * 4
    connection.drift = [
        {"action": "update", "path": f"definitions/routes/{long_route}.yaml"},
        {"action": "create", "path": "definitions/services/summarize.yaml"},
        {"action": "delete", "path": "definitions/prompts/summarize/v7.yaml"},
        *({"action": "update", "path": f"definitions/providers/p{n}.yaml"} for n in range(4)),
    ]
    connection.drift_checked_at = timezone.now()
    connection.save()
    return connection


@pytest.mark.parametrize("width", WIDTHS)
def test_the_drift_banner_fits_the_screen_and_passes_axe(page: Page, live_server, drifted, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("admin-user")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/routes/")

    banner = page.locator("#gitops-drift")
    expect(banner).to_contain_text("The portal and GitLab differ (7 files)")
    expect(banner).to_contain_text("service summarize: only in the portal")
    expect(banner).to_contain_text("prompt summarize, version 7: only in GitLab")
    expect(banner).to_contain_text("and 2 more")
    expect(banner.get_by_role("link", name="Open the GitLab page")).to_be_visible()
    assert_page_passes(page, "gitops-drift-banner")
