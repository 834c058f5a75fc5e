"""The foundation, end to end in a real headless Chromium: an owner logs in, creates an app, issues a key, sees
its secret once, revokes it, changes a member's role and finds all of it in the audit trail. No page is wider than the
window and axe-core finds no critical or serious violation; screenshots go to
test-artifacts/screenshots/foundation-*."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from apps.access.selectors import api_key_authenticate
from apps.tenants.models import Membership, Role
from tests.browser.checks import assert_page_passes
from tests.factories import PASSWORD, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

API_KEY = re.compile(r"^gwk_[a-z0-9]{12}_[A-Za-z0-9_-]{43,}$")


def test_owner_journey_from_login_to_audit_trail(page: Page, live_server, transactional_db, members, tenant):
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm asks before revoking
    page.goto(f"{live_server.url}/")
    expect(page).to_have_title("Log in · AI Gateway")
    assert_page_passes(page, "foundation-01-login")
    page.get_by_label("Username").fill("owner-user")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_title(f"Dashboard of {tenant.name} · AI Gateway")
    expect(page.get_by_text("Create your first app")).to_be_visible()
    assert_page_passes(page, "foundation-02-dashboard-empty")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Apps").click()
    page.get_by_label("Name").fill("Chat bot")
    page.get_by_label("Slug").fill("chat-bot")
    page.get_by_label("Description").fill("Answers customer questions")
    page.get_by_role("button", name="Create app").click()
    expect(page).to_have_url(f"{live_server.url}/apps/chat-bot/")
    expect(page.get_by_role("heading", name="Chat bot", level=1)).to_be_visible()

    page.get_by_label("Name").fill("production")
    page.get_by_role("button", name="Issue key").click()
    secret_box = page.locator(".secret-once")
    expect(secret_box).to_contain_text("will not be shown again")
    secret = page.locator("#new-secret").inner_text().strip()
    assert API_KEY.match(secret)
    assert api_key_authenticate(plaintext=secret).name == "production"
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("[data-copy-target]")).not_to_have_text("Copy")
    assert_page_passes(page, "foundation-03-key-secret-shown-once")

    page.reload()
    expect(page.locator(".secret-once")).to_have_count(0)
    assert secret not in page.content()
    row = page.locator("#api-keys tbody tr", has_text="production")
    expect(row.locator(".badge-active")).to_have_text("Active")

    row.get_by_role("button", name="Revoke").click()
    expect(row.locator(".badge-revoked")).to_have_text("Revoked")
    assert api_key_authenticate(plaintext=secret) is None
    assert_page_passes(page, "foundation-04-key-revoked")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Apps").click()
    expect(page.locator("tbody tr", has_text="Chat bot").locator(".badge-revoked")).to_be_visible()
    assert_page_passes(page, "foundation-04b-app-list")

    developer = members[Role.DEVELOPER]
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    expect(page).to_have_title(f"Members of {tenant.name} · AI Gateway")
    with page.expect_response(f"**/members/{developer.pk}/role/") as answer:
        page.get_by_label("Role of developer-user").select_option("viewer")
    assert answer.value.status == 200
    expect(page.locator(f"#member-{developer.pk} select")).to_have_value("viewer")
    assert Membership.objects.get(pk=developer.pk).role == Role.VIEWER
    assert_page_passes(page, "foundation-05-members-role-changed")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    expect(page).to_have_title(f"Audit trail of {tenant.name} · AI Gateway")
    for action in ("app.create", "api_key.issue", "api_key.revoke", "membership.change_role"):
        expect(page.locator("table.audit").get_by_text(action, exact=True)).to_be_visible()
    assert_page_passes(page, "foundation-06-audit-trail")

    page.get_by_text("Filter events").click()
    page.get_by_label("From", exact=True).fill("2024-03-02")
    page.get_by_label("To", exact=True).fill("2024-03-01")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("The end date must not be before the start date.")).to_be_visible()
    assert_page_passes(page, "foundation-07-audit-filter-error")


def test_refusals_show_in_place_and_the_tenant_switcher_switches(
    page: Page, live_server, transactional_db, members, tenant, other_tenant, app
):
    owner = members[Role.OWNER]
    MembershipFactory(user=owner.user, tenant=other_tenant, role=Role.VIEWER)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("owner-user")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/apps/{app.slug}/")
    page.get_by_label("Name").fill("no scopes")
    for scope in page.get_by_role("checkbox").all():
        scope.uncheck()
    page.get_by_role("button", name="Issue key").click()
    expect(page.locator("#api-keys")).to_contain_text("Pick at least one scope.")
    expect(page.locator(".secret-once")).to_have_count(0)

    page.goto(f"{live_server.url}/members/")
    page.get_by_label("Role of owner-user").select_option("admin")
    expect(page.locator(f"#member-{owner.pk}")).to_contain_text("A tenant must keep at least one owner.")
    expect(page.locator(f"#member-{owner.pk} select")).to_have_value("owner")
    assert_page_passes(page, "foundation-08-refusal-in-place")

    page.goto(f"{live_server.url}/account/tokens/")
    page.get_by_label("Name").fill("GitLab CI")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-secret")).to_have_text(re.compile(r"^gwp_"))
    assert_page_passes(page, "foundation-09-personal-token-shown-once")

    page.get_by_label("Tenant you are working in").select_option(other_tenant.slug)
    expect(page).to_have_title(f"Dashboard of {other_tenant.name} · AI Gateway")
    expect(page.get_by_text(f"You are now working in {other_tenant.name}.")).to_be_visible()
