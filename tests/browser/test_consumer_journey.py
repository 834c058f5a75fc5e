"""A consumer's journey, end to end in a real headless Chromium against the live portal, with the gateway served by
uvicorn and a fake OpenAI upstream: a developer of Globex searches the catalog, subscribes her app with a purpose
from Acme's service page, an Acme admin approves it in the queue, the developer issues a key on the app's page and
the service answers it over HTTP; then she tries the service in the try-it panel (a field the schema refuses is
named at the field; the form and the raw JSON both answer), and a model API in its chat panel. At 390 and 1,440
px, no page is wider than the screen and axe-core finds no critical or serious violation; screenshots go to
test-artifacts/screenshots/consumer-*."""

from __future__ import annotations

import threading
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from apps.access.models import App, Subscription
from apps.access.services import app_create
from apps.analytics.models import CallLog
from apps.catalog.models import Lifecycle, Service
from apps.catalog.services import service_set_lifecycle
from apps.prompts.services import prompt_service_create
from apps.providers.services import deployment_add, model_create, provider_create, route_create
from apps.tenants.models import Role
from tests.browser.checks import WIDTHS, assert_page_passes
from tests.conftest import FAKE_KEY
from tests.factories import PASSWORD, MembershipFactory, PlanFactory, TenantFactory, UserFactory
from tests.gateway import conftest as gateway_fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

_fresh_gateway = gateway_fixtures._fresh_gateway
live_gateway = gateway_fixtures.live_gateway
SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 3, "description": "The text to summarize"},
        "lang": {"type": "string", "enum": ["en", "de"]},
    },
    "required": ["text"],
}


def _refresh_snapshot() -> None:
    """The gateway's snapshot rebuilt now, from another thread: Playwright's loop runs in this one."""
    worker = threading.Thread(target=gateway_fixtures.refresh_snapshot)
    worker.start()
    worker.join()


def _log_in(page: Page, base: str, username: str, next_url: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def published(transactional_db, fake_upstream):
    """Acme publishes prompt API `summarize` (public, approval by hand, plan Free) on the fake upstream's route;
    Acme has an admin; Globex has a developer who manages app `globex-bot`."""
    acme = TenantFactory(slug="acme", name="Acme")
    MembershipFactory(tenant=acme, role=Role.ADMIN, user=UserFactory(username="admin-user"))
    provider = provider_create(
        tenant=acme, actor_membership=None, slug="fake-openai", name="Fake OpenAI", kind="openai",
        base_url=fake_upstream.base_url, api_key=FAKE_KEY,
    )  # fmt: skip
    model = model_create(
        provider=provider, actor_membership=None, name="gpt-4o-mini", upstream_id="gpt-4o-mini", modalities=["text"],
        input_price_per_mtok=Decimal("0.15"), output_price_per_mtok=Decimal("0.60"),
    )  # fmt: skip
    route = route_create(tenant=acme, actor_membership=None, alias="smart", deadline_seconds=10, retries=1)
    deployment_add(route=route, model=model, actor_membership=None, timeout_seconds=5)
    service = prompt_service_create(
        tenant=acme, actor_membership=None, slug="summarize", name="Summarize", route=route, system_template="",
        user_template="Summarize in {{ lang | default('en') }}: {{ text }}", variables_schema=SCHEMA,
        visibility="public", approval_mode="manual", change_note="first", summary="Shorter text, same meaning",
    )  # fmt: skip
    PlanFactory(service=service, slug="free", name="Free")
    service_set_lifecycle(service=service, actor_membership=None, lifecycle=Lifecycle.PUBLISHED)
    globex = TenantFactory(slug="globex", name="Globex")
    dev = MembershipFactory(tenant=globex, role=Role.DEVELOPER, user=UserFactory(username="dev-user"))
    app_create(tenant=globex, actor_membership=dev, slug="globex-bot", name="Globex bot")
    return service


@pytest.mark.parametrize("width", WIDTHS)
def test_a_developer_subscribes_gets_approved_calls_the_service_and_tries_it(
    page: Page, browser: Browser, live_server, live_gateway, published, fake_upstream, width
):
    page.set_viewport_size({"width": width, "height": 900})
    base = live_server.url
    _log_in(page, base, "dev-user", "/catalog/")
    page.get_by_label("Search").fill("summar")
    page.get_by_role("button", name="Filter").click()
    assert_page_passes(page, "consumer-01-catalog-search")
    page.get_by_role("link", name="Summarize").click()

    # Subscribe from the service page: app, plan and purpose; it waits for Acme.
    expect(page.get_by_text("None of Globex's apps has asked for this service yet.")).to_be_visible()
    expect(page.get_by_text("None of the apps you manage may call it yet")).to_be_visible()
    page.get_by_text("Subscribe an app").click()
    page.get_by_label("App", exact=True).select_option(label="Globex bot")
    page.get_by_label("Plan").select_option(label="Free")
    page.get_by_label("Purpose").fill("Summaries of support tickets, ~2,000 a month")
    assert_page_passes(page, "consumer-02-service-subscribe")
    page.get_by_role("button", name="Request subscription").click()
    expect(page.get_by_text("Globex bot asked for the Free plan: Acme decides.")).to_be_visible()
    expect(page.locator("#subscribe .badge")).to_have_text("Pending approval")
    subscription = Subscription.objects.get(service=published)
    assert (subscription.status, subscription.app.slug) == ("pending", "globex-bot")
    assert_page_passes(page, "consumer-03-service-pending")

    # An Acme admin approves it in the queue.
    admin = browser.new_page(viewport={"width": width, "height": 900})
    _log_in(admin, base, "admin-user", "/approvals/")
    expect(admin.get_by_text("Summaries of support tickets, ~2,000 a month")).to_be_visible()
    admin.get_by_role("button", name="Approve").click()
    expect(admin.locator(f"#subscription-{subscription.pk} .badge").first).to_have_text("Approved")
    admin.close()

    # The developer issues a key on the app's page, and the service answers it over HTTP.
    page.reload()
    expect(page.locator("#subscribe .badge")).to_have_text("Approved")
    expect(page.get_by_text("with no end date")).to_be_visible()
    page.get_by_role("link", name="Globex bot").first.click()
    page.get_by_label("Name").fill("ticket-worker")
    page.get_by_role("button", name="Issue key").click()
    secret = page.locator("#new-secret").inner_text()
    _refresh_snapshot()
    answer = httpx.post(
        f"{live_gateway}/api/v1/services/summarize/invoke",
        json={"text": "The quarterly report."},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert answer.status_code == 200, answer.text
    assert fake_upstream.requests[-1].body["messages"][-1]["content"] == "Summarize in en: The quarterly report."

    # Try it: a field the schema refuses is named at the field; then the form answers, and the raw JSON too.
    page.goto(f"{base}/catalog/summarize/")
    try_it = page.locator("#try-it")
    expect(try_it.get_by_label("Call as app").first).to_have_value("globex-bot")
    try_it.get_by_label("text").fill("ab")
    try_it.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#id_form-field_0_error")).to_contain_text("is too short")
    expect(try_it.get_by_label("text")).to_have_value("ab")
    try_it.get_by_label("text").fill("Meeting moved to Friday")
    try_it.get_by_label("lang").select_option("de")
    try_it.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#try-it [data-status]")).to_have_text("HTTP 200")
    expect(page.locator("#try-it .try-it-headers")).to_contain_text("X-Service-Version: 1")
    expect(page.locator("#try-it-curl")).to_contain_text("Bearer $GATEWAY_API_KEY")
    assert fake_upstream.requests[-1].body["messages"][-1]["content"] == "Summarize in de: Meeting moved to Friday"
    assert secret not in page.content()
    assert_page_passes(page, "consumer-04-try-it")
    page.get_by_text("Send raw JSON instead").click()
    page.get_by_label("Body (JSON)").fill('{"text": "Raw and ready"}')
    page.get_by_role("button", name="Send JSON").click()
    expect(page.locator("#try-it-curl")).to_contain_text("Raw and ready")  # the new answer is in
    expect(page.locator("#try-it [data-status]")).to_have_text("HTTP 200")
    assert fake_upstream.requests[-1].body["messages"][-1]["content"] == "Summarize in en: Raw and ready"
    assert_page_passes(page, "consumer-05-try-it-raw")
    tried = CallLog.objects.filter(endpoint="try_it", app_id=subscription.app_id)
    assert tried.filter(status=200).count() == 2


def test_a_service_hidden_since_the_page_was_shown_is_refused_in_the_panel(page: Page, live_server, published):
    """The subscribe panel says so at the action (its 404 is shown in place, not as the generic failure)."""
    page.set_viewport_size({"width": 390, "height": 900})
    _log_in(page, live_server.url, "dev-user", "/catalog/summarize/")
    page.get_by_text("Subscribe an app").click()
    page.get_by_label("Purpose").fill("Summaries of support tickets")
    Service.objects.filter(pk=published.pk).update(visibility="private")
    page.get_by_role("button", name="Request subscription").click()
    expect(page.locator("#subscribe [role=alert]")).to_have_text(
        "No service 'summarize' is visible to Globex: nothing was requested."
    )
    assert not Subscription.objects.exists()
    assert_page_passes(page, "consumer-06-service-hidden")


@pytest.fixture
def model_api(published):
    """Acme's model API `acme-chat` on the same route (plan Free), with globex-bot's subscription approved."""
    service = Service.objects.create(
        tenant=published.tenant, slug="acme-chat", name="Acme chat", kind="model", visibility="public",
        lifecycle="published", route=published.route,
    )  # fmt: skip
    plan = PlanFactory(service=service, slug="free", name="Free")
    app = App.objects.get(slug="globex-bot")
    Subscription.objects.create(app=app, service=service, plan=plan, status="approved", purpose="Chat")
    return service


def test_a_developer_tries_a_model_api_in_the_chat_panel(page: Page, live_server, model_api, fake_upstream):
    """A model API's try-it: a bad max_tokens is refused at its field (by the browser: the field carries its bounds);
    then one chat completion answers in the panel."""
    page.set_viewport_size({"width": 390, "height": 900})
    _log_in(page, live_server.url, "dev-user", "/catalog/acme-chat/")
    try_it = page.locator("#try-it")
    try_it.get_by_label("User message").fill("Hello, model")
    try_it.get_by_label("max_tokens").fill("0")
    try_it.get_by_role("button", name="Send", exact=True).click()
    assert try_it.get_by_label("max_tokens").evaluate("field => field.validity.rangeUnderflow")
    assert not CallLog.objects.exists()
    try_it.get_by_label("max_tokens").fill("64")
    try_it.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#try-it [data-status]")).to_have_text("HTTP 200")
    expect(page.locator("#try-it .try-it-answer")).to_have_text("This is a test.")  # the fake upstream's answer
    expect(page.locator("#try-it-curl")).to_contain_text('"model": "acme-chat"')
    assert fake_upstream.requests[-1].body["messages"][-1]["content"] == "Hello, model"
    assert_page_passes(page, "consumer-07-try-it-model")
    assert CallLog.objects.get(endpoint="try_it").service_id == model_api.pk
