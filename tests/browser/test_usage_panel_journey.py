"""The usage panels in a real headless Chromium: Globex's owner reads, on globex-bot's page, what its subscription
has used of each limit of its plan and of the app's own limits, with when each resets; Acme's admin reads the same
usage on the approval card. At 390 and 1,440 px the pages fit the screen and axe-core finds no critical or serious
violation; screenshots go to test-artifacts/screenshots/usage-*."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from apps.access.models import LimitSet, SubscriptionStatus
from tests.access.usage_fixtures import NOW, call_log_reader, frozen_now, record_calls  # noqa: F401
from tests.browser.checks import WIDTHS, check_page
from tests.factories import PASSWORD, PlanFactory, ServiceFactory, SubscriptionFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("frozen_now", "call_log_reader"),
]


@pytest.fixture
def subscribed(tenant, members, route, other_app, mallory):
    """globex-bot on Acme's translate, plan Metered (every kind of limit), partly used; an app limit set too."""
    service = ServiceFactory(tenant=tenant, route=route, slug="translate", name="Translate")
    plan = PlanFactory(
        service=service, slug="metered", name="Metered", requests_per_minute=60, tokens_per_minute=20_000,
        requests_per_day=1000, requests_per_month=20_000, daily_budget=Decimal(5), monthly_budget=Decimal(100),
        budget_alert_percent=80,
    )  # fmt: skip
    subscription = SubscriptionFactory(
        app=other_app, plan=plan, service=service, status=SubscriptionStatus.APPROVED, requested_by=mallory,
        expires_at=NOW + timedelta(days=20),
    )  # fmt: skip
    LimitSet.objects.create(tenant=other_app.tenant, app=other_app, requests_per_day=500, budget_per_day=Decimal(4))
    where = {"tenant_id": other_app.tenant_id, "app_id": other_app.pk, "service_id": service.pk}
    record_calls(40, at=NOW.replace(second=0), tokens=300, cost="0.01", **where)
    record_calls(300, at=NOW - timedelta(hours=5), tokens=300, cost="0.01", **where)
    return subscription


def _log_in(page: Page, live_server, username: str, next_url: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_app_page_and_the_approval_card_show_usage_that_fits_and_passes_axe(
    page: Page, live_server, subscribed, width
):
    page.set_viewport_size({"width": width, "height": 900})
    _log_in(page, live_server, "mallory", "/apps/globex-bot/")
    panel = page.locator(f"#subscription-usage-{subscribed.pk}")
    expect(panel).to_contain_text("Requests today: 340 requests of 1,000 requests (34 %), 660 requests left")
    expect(panel).to_contain_text("Resets in 11 h 29 min")
    expect(panel.get_by_role("progressbar", name="Spend today").first).to_be_visible()
    expect(panel.get_by_role("heading", name="Also applies: app Globex bot")).to_be_visible()
    problems = check_page(page, "usage-app", width)

    page.context.clear_cookies()
    _log_in(page, live_server, "admin-user", "/approvals/?status=approved")
    card = page.locator(f"#subscription-{subscribed.pk}")
    expect(card).to_contain_text("Used now")
    expect(card).to_contain_text("Spend today: $3.40 of $5.00 (68 %), $1.60 left")
    problems += check_page(page, "usage-approvals", width)
    assert not problems, "\n".join(problems)
