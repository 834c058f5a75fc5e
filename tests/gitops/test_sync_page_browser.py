"""The GitLab page in a real headless Chromium, on a phone (390 px) and a desktop (1,440 px): no horizontal scroll of
the page and no serious accessibility violation, with a history holding a long error and a plan waiting for review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.gitops.models import GitLabConnection, SyncRun
from tests.browser.checks import WIDTHS, assert_page_passes
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history(tenant, members):
    connection = GitLabConnection(tenant=tenant, gitlab_url="https://gitlab.example.com", project="acme/definitions")
    connection.set_token("glpat-never-shown")
    connection.set_webhook_secret("whsec")
    connection.save()
    now = timezone.now()
    sha = "9f2c1e0d" * 5
    SyncRun.objects.create(
        tenant=tenant,
        direction="out",
        trigger="save",
        status="succeeded",
        started_at=now,
        finished_at=now + timedelta(seconds=1.4),
        commit_sha=sha,
        commit_url=f"https://gitlab.example.com/acme/definitions/-/commit/{sha}",
        files_changed=[{"action": "update", "path": "definitions/routes/smart.yaml"}],
    )
    SyncRun.objects.create(
        tenant=tenant,
        direction="out",
        trigger="schedule",
        status="failed",
        started_at=now,
        finished_at=now + timedelta(seconds=30),
        error="GitLab did not answer within 10 s (after 3 attempts) " + "x" * 200,
    )
    SyncRun.objects.create(
        tenant=tenant,
        direction="in",
        trigger="webhook",
        status="awaiting_review",
        started_at=now,
        finished_at=now,
        commit_sha=sha,
        plan="Plan for tenant acme: 0 to create, 1 to change, 0 to delete.\n\n"
        "~ update Route smart (routes/smart.yaml)\n" + "+  description: " + "long " * 60,
    )
    return connection


@pytest.mark.parametrize("width", WIDTHS)
def test_the_gitlab_page_fits_the_screen_and_passes_axe(page: Page, live_server, history, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("admin-user")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/tenant/gitlab/")

    expect(page.get_by_role("heading", level=1, name="GitLab sync of Acme")).to_be_visible()
    expect(page.get_by_role("button", name="Sync now")).to_be_visible()
    assert "glpat-never-shown" not in page.content()
    assert_page_passes(page, "gitlab-sync")
