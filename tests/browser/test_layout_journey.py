"""The portal's layout in a real headless Chromium, on a phone (390 px) and a desktop (1,440 px).

Every main page, full of content, fits the screen (no horizontal page scroll) and axe-core finds no critical or
serious accessibility violation on it; screenshots of each go to test-artifacts/screenshots/layout-*. On a phone
the grouped menu folds behind one button while the bell stays in sight; an owner finds the tenant switcher in the
menu, and on an app's page withdraws a pending request and unsubscribes from an approved service, each after a
confirmation, then reads both changes in the audit trail as old → new."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.access.models import ApiKey, LimitSet, Subscription, SubscriptionStatus
from apps.analytics.models import Granularity
from apps.catalog.models import Lifecycle, Visibility
from apps.core.services import notification_send
from apps.tenants.models import Role
from apps.tenants.services import membership_set_role
from tests.browser.checks import DESKTOP, PHONE, WIDTHS, check_page, screenshot
from tests.factories import (
    PASSWORD,
    AlertRuleFactory,
    CallRollupFactory,
    MembershipFactory,
    PlanFactory,
    PromptServiceFactory,
    PromptTemplateFactory,
    ServiceFactory,
    SubscriptionFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Status = SubscriptionStatus


@pytest.fixture
def portal(tenant, other_tenant, members, mallory, route, app, other_app, issued_key):
    """Acme with a prompt API others subscribe to, its app subscribed to Globex's services (one approved, one
    pending) with a week of calls, an alert rule, a notification, audited changes; its owner is also in Globex."""
    owner = members[Role.OWNER]
    summarize = PromptServiceFactory(
        tenant=tenant, slug="summarize", name="Summarize", summary="Short summaries of long texts", route=route,
        lifecycle=Lifecycle.PUBLISHED, visibility=Visibility.PUBLIC,
    )  # fmt: skip
    PromptTemplateFactory(service=summarize, live__change_note="First version")
    PlanFactory(service=summarize, slug="standard", name="Standard", requests_per_day=1000)
    translate, classify = (
        ServiceFactory(tenant=other_tenant, slug=slug, name=name, summary=summary, visibility=Visibility.PUBLIC)
        for slug, name, summary in (("translate", "Translate", "Any language to English"),
                                    ("classify", "Classify", "Labels for support tickets"))
    )  # fmt: skip
    approved = SubscriptionFactory(
        app=app, plan=PlanFactory(service=translate, slug="team", name="Team"), purpose="Translate tickets",
        status=Status.APPROVED, requested_by=owner.user,
    )  # fmt: skip
    pending = SubscriptionFactory(
        app=app, plan=PlanFactory(service=classify, slug="basic", name="Basic"), purpose="Label tickets",
        requested_by=owner.user,
    )  # fmt: skip
    SubscriptionFactory(app=other_app, plan=summarize.plans.get(), purpose="Summaries of Globex's contracts")
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for hours_ago in range(0, 24 * 6, 5):
        CallRollupFactory(
            granularity=Granularity.HOUR, bucket=now - timedelta(hours=hours_ago), tenant_id=tenant.pk, app_id=app.pk,
            service_id=translate.pk, model="echo", latencies=[120, 180, 240, 900], errors=1 if hours_ago % 3 else 0,
            prompt_tokens=1800, completion_tokens=420, cost=Decimal("0.0042"),
        )  # fmt: skip
    AlertRuleFactory(tenant=tenant, name="Errors above 5 %")
    notification_send(
        users=[owner.user], subject="Globex asks to subscribe Globex bot to Summarize", body="Purpose: contracts.",
        link="/approvals/", email=False,
    )  # fmt: skip
    membership_set_role(membership=members[Role.VIEWER], role=Role.DEVELOPER, actor_membership=owner)
    MembershipFactory(user=owner.user, tenant=other_tenant, role=Role.VIEWER)
    key = issued_key[0]
    # The widest id a key can have (the pages are not called with it): its prefix in a heading must still fit a phone.
    ApiKey.objects.filter(pk=key.pk).update(lookup_id="mw" * 6)
    key.refresh_from_db()
    LimitSet.objects.create(tenant=tenant, api_key=key, requests_per_minute=60, budget_per_day=Decimal("5.00"))
    return {
        "owner": owner.user, "app": app, "approved": approved, "pending": pending, "summarize": summarize, "key": key,
    }  # fmt: skip


def _log_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Acme")).to_be_visible()


MAIN_PAGES = [
    ("home", "/"),
    ("catalog", "/catalog/"),
    ("service", "/catalog/summarize/"),
    ("openapi", "/catalog/summarize/openapi/"),
    ("apps", "/apps/"),
    ("app", "/apps/billing-bot/"),
    ("subscriptions", "/subscriptions/"),
    ("services", "/services/"),
    ("prompts", "/prompts/"),
    ("approvals", "/approvals/"),
    ("members", "/members/"),
    ("audit", "/audit/"),
    ("providers", "/providers/"),
    ("models", "/models/"),
    ("routes", "/routes/"),
    ("route", "/routes/smart/"),
    ("analytics", "/analytics/"),
    ("alerts", "/analytics/alerts/"),
    ("tenant-settings", "/tenant/settings/"),
    ("tenant-limits", "/limits/"),
    ("app-limits", "/apps/billing-bot/limits/"),
    ("notifications", "/notifications/"),
    ("tokens", "/account/tokens/"),
]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_main_page_fits_the_screen_and_passes_axe(page: Page, live_server, portal, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    problems = check_page(page, "layout-login", width)
    _log_in(page, live_server, "owner-user")
    key_limits = ("key-limits", f"/apps/billing-bot/keys/{portal['key'].pk}/limits/")
    for name, url in [*MAIN_PAGES, key_limits]:
        response = page.goto(f"{live_server.url}{url}")
        assert response.status == 200, f"{url} answered {response.status}"
        problems += check_page(page, f"layout-{name}", width)
    assert not problems, "\n".join(problems)


def test_on_a_phone_the_menu_folds_and_an_owner_cancels_and_unsubscribes_from_the_app_page(
    page: Page, live_server, portal
):
    page.set_viewport_size({"width": PHONE, "height": 844})
    page.on("dialog", lambda dialog: dialog.accept())  # cancelling and unsubscribing ask first
    _log_in(page, live_server, "owner-user")
    nav = page.get_by_role("navigation", name="Main")
    menu = nav.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav.get_by_role("link", name="Apps")).to_be_hidden()
    expect(nav.get_by_role("link", name="Notifications: 1 unread")).to_be_visible()  # the bell, menu folded

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_label("Tenant you are working in")).to_be_visible()
    expect(nav.get_by_role("button", name="Log out")).to_be_visible()
    for group in ("Discover", "Build", "Operate", "Govern"):
        expect(nav.get_by_text(group, exact=True)).to_be_visible()
    assert check_page(page, "layout-menu-open", PHONE) == []
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    menu.click()
    nav.get_by_role("link", name="Apps").click()
    expect(page).to_have_title("Apps of Acme · AI Gateway")
    page.get_by_role("link", name="Billing bot").first.click()

    expect(page.locator("#usage")).to_contain_text("Translate")
    rows = page.locator("#subscriptions tbody tr")
    pending_row = rows.filter(has_text="Classify")
    pending_row.get_by_role("button", name="Cancel request").click()
    expect(pending_row).to_contain_text("The request of Billing bot for Classify is withdrawn.")
    expect(pending_row.locator(".badge")).to_have_text("Cancelled")
    approved_row = rows.filter(has_text="Translate")
    approved_row.get_by_role("button", name="Unsubscribe").click()
    expect(approved_row).to_contain_text("Billing bot is unsubscribed from Translate")
    expect(approved_row.get_by_role("button")).to_have_count(0)
    screenshot(page, f"layout-app-cancelled-{PHONE}")
    statuses = Subscription.objects.filter(pk__in=[portal["pending"].pk, portal["approved"].pk]).values_list(
        "status", flat=True
    )
    assert set(statuses) == {Status.CANCELLED}

    page.goto(f"{live_server.url}/audit/?action=subscription")
    trail = page.locator("table.audit")
    expect(trail.get_by_text("subscription.unsubscribe", exact=True)).to_be_visible()
    unsubscribe = trail.locator("tr", has_text="subscription.unsubscribe")
    status_change = unsubscribe.locator(".change", has_text="status")
    expect(status_change.locator("del")).to_have_text("approved")
    expect(status_change.locator("ins")).to_have_text("cancelled")
    assert check_page(page, "layout-audit-subscriptions", PHONE) == []


def test_on_a_desktop_the_sections_stay_in_view_and_the_tenant_switcher_switches(page: Page, live_server, portal):
    page.set_viewport_size({"width": DESKTOP, "height": 900})
    _log_in(page, live_server, "owner-user")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("button", name="Menu")).to_be_hidden()
    for link in ("Catalog", "Apps", "Services", "Providers", "Analytics", "Approvals", "Members", "Audit"):
        expect(nav.get_by_role("link", name=link, exact=True)).to_be_visible()
    nav.get_by_role("link", name="Routes", exact=True).click()
    expect(nav.get_by_role("link", name="Routes", exact=True)).to_have_attribute("aria-current", "page")
    page.get_by_label("Tenant you are working in").select_option("globex")
    expect(page).to_have_title("Dashboard of Globex · AI Gateway")
    expect(nav.get_by_role("link", name="Approvals")).to_have_count(0)  # a viewer in Globex
