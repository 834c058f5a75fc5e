"""Publishing a service, end to end in a real headless Chromium, on a phone (390 px) and a desktop (1,440 px): an
admin goes from the catalog to the tenant's services and creates a prompt API (a template error is shown at its
field, the description is previewed), adds a plan (a negative limit is stopped at its field), publishes it,
deprecates it with a sunset date (one in the past is refused at its field) and retires it, each after a
confirmation, which closes another tenant's subscription. No page is wider than the screen and axe-core finds no
critical or serious violation on any; screenshots go to test-artifacts/screenshots/publishing-*."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.access.models import Subscription, SubscriptionStatus
from apps.catalog.models import Lifecycle, Service
from apps.prompts.models import PromptTemplate
from tests.browser.checks import WIDTHS, assert_page_passes
from tests.factories import PASSWORD, AppFactory, SubscriptionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", WIDTHS)
def test_an_admin_creates_publishes_deprecates_and_retires_a_service(
    page: Page, live_server, transactional_db, members, route, other_tenant, width
):
    page.set_viewport_size({"width": width, "height": 900})
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))  # deprecate and retire ask
    page.goto(f"{live_server.url}/accounts/login/?next=/catalog/")
    page.get_by_label("Username").fill("admin-user")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Services Acme publishes →").click()
    expect(page.get_by_role("heading", name="No services yet")).to_be_visible()
    assert_page_passes(page, "publishing-01-services-empty")

    # A new prompt API; a template that uses an undeclared variable is refused at its field, the rest kept.
    page.get_by_role("button", name="Create your first service").click()
    expect(page).to_have_title("New service · AI Gateway")
    assert_page_passes(page, "publishing-02-new-service")
    page.get_by_label("Model API").check()
    expect(page.get_by_label("User template")).to_be_hidden()  # prompt fields only for prompt APIs
    page.get_by_label("Prompt API").check()
    expect(page.get_by_label("User template")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Summarize")
    page.get_by_label("Slug").fill("summarize")
    page.get_by_label("Summary").fill("Shorter text, same meaning")
    page.get_by_label("Description").fill("Makes any text **shorter**.\n\n- keeps names\n- keeps numbers")
    page.get_by_role("button", name="Preview description").click()
    expect(page.locator("#description-preview strong")).to_have_text("shorter")
    page.get_by_label("Tags").fill("nlp, text")
    page.get_by_label("Visibility").select_option("public")
    page.get_by_label("Approval mode").select_option("auto")
    page.get_by_label("System template").fill("You summarize text in two sentences.")
    page.get_by_label("User template").fill("Summarize: {{ txet }}")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("#id_user_template_error")).to_contain_text("txet")
    expect(page.get_by_label("Summary")).to_have_value("Shorter text, same meaning")
    assert_page_passes(page, "publishing-03-new-service-error")
    page.get_by_label("User template").fill("Summarize: {{ text }}")
    page.get_by_role("button", name="Create draft").click()

    expect(page).to_have_url(f"{live_server.url}/catalog/summarize/manage/")
    expect(page.get_by_text("Summarize is created, as a draft")).to_be_visible()
    assert PromptTemplate.objects.get(service__slug="summarize").live_version.number == 1
    assert_page_passes(page, "publishing-04-manage-draft")

    # A plan: a negative limit is stopped at its field by the browser already (the server refuses it too: the
    # view tests), and nothing is sent.
    page.get_by_role("button", name="Add a plan").click()
    page.get_by_label("Name", exact=True).fill("Standard")
    page.get_by_label("Slug").fill("standard")
    page.get_by_label("Requests per day").fill("-1")
    page.get_by_role("button", name="Add plan").click()
    assert page.get_by_label("Requests per day").evaluate("field => field.validity.rangeUnderflow")
    expect(page).to_have_url(f"{live_server.url}/catalog/summarize/plans/")
    assert_page_passes(page, "publishing-05-plan-form")
    page.get_by_label("Requests per day").fill("1000")
    page.get_by_label("Monthly budget", exact=True).fill("50")
    page.get_by_role("button", name="Add plan").click()
    expect(page.get_by_text("Plan Standard is added to Summarize.")).to_be_visible()

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Summarize is published")).to_be_visible()
    assert asked == []  # publishing asks nothing
    expect(page.locator("h1 .badge")).to_have_text("Published")
    assert_page_passes(page, "publishing-06-manage-published")

    # Another tenant's app subscribes (its own pages are another issue's), then the service is deprecated.
    service = Service.objects.get(slug="summarize")
    subscription = SubscriptionFactory(
        plan=service.plans.get(), app=AppFactory(tenant=other_tenant), status=SubscriptionStatus.APPROVED
    )
    yesterday = timezone.localdate() - timedelta(days=1)
    page.get_by_label("Sunset date").fill(yesterday.isoformat())
    page.get_by_role("button", name="Deprecate").click()
    expect(page.locator("#id_sunset_on_error")).to_have_text("The sunset date must be after today.")
    expect(page.locator("h1 .badge")).to_have_text("Published")
    assert_page_passes(page, "publishing-07-deprecate-error")
    sunset = timezone.localdate() + timedelta(days=30)
    page.get_by_label("Sunset date").fill(sunset.isoformat())
    page.get_by_role("button", name="Deprecate").click()
    expect(page.get_by_text("Summarize is deprecated")).to_be_visible()
    expect(page.get_by_text(f"to be retired on {sunset:%Y-%m-%d}")).to_be_visible()
    assert_page_passes(page, "publishing-08-manage-deprecated")

    page.get_by_role("link", name="Its catalog page →").click()
    expect(page.locator(".message-warning")).to_contain_text(f"will be retired on {sunset:%-d %B %Y}")
    assert_page_passes(page, "publishing-09-catalog-deprecated")
    page.get_by_role("button", name="Manage this service").click()

    page.get_by_role("button", name="Retire").click()
    expect(page.get_by_text("Summarize is retired")).to_be_visible()
    assert [question.split("?")[0] for question in asked] == [
        "Deprecate Summarize",  # the refused date
        "Deprecate Summarize",
        "Retire Summarize for good",
    ]
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)  # retired is final
    assert_page_passes(page, "publishing-10-manage-retired")
    assert Service.objects.get(slug="summarize").lifecycle == Lifecycle.RETIRED
    assert Subscription.objects.get(pk=subscription.pk).status == SubscriptionStatus.REVOKED

    page.goto(f"{live_server.url}/services/")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody .badge")).to_have_text("Retired")
    assert_page_passes(page, "publishing-11-services")
