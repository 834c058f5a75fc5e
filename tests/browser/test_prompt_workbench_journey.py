"""The prompt workbench, end to end in a real headless Chromium against the live portal, with the gateway served by
uvicorn and a fake OpenAI upstream: an admin edits a prompt, sees a template error inline as she types, previews the
exact messages, saves a draft, publishes it, and the next invocation of the service answers with the new version
(X-Service-Version); rolling back restores the old one. A viewer sees no edit button and gets the 403 page on the
editor. The workbench's pages have no horizontal scroll at 390 and 1,440 px; screenshots go to
test-artifacts/screenshots/prompts-*."""

from __future__ import annotations

import threading
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Page, expect

from apps.access.services import api_key_issue
from apps.catalog.models import Lifecycle
from apps.catalog.services import service_set_lifecycle
from apps.prompts.services import prompt_service_create
from apps.providers.services import deployment_add, model_create, provider_create, route_create
from apps.tenants.models import Role
from tests.browser.checks import assert_page_passes
from tests.conftest import FAKE_KEY
from tests.factories import PASSWORD, AppFactory, MembershipFactory, TenantFactory, UserFactory
from tests.gateway import conftest as gateway_fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The data plane's fixtures: a fresh pipeline per test, and the portal's ASGI application under uvicorn.
_fresh_gateway = gateway_fixtures._fresh_gateway
live_gateway = gateway_fixtures.live_gateway
SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


def _invoke(base: str, secret: str, fake_upstream) -> tuple[str, str]:
    """(X-Service-Version, the user message the upstream got) of one invocation, after the snapshot caught up."""
    _refresh_snapshot()
    response = httpx.post(
        f"{base}/api/v1/services/echo-prompt/invoke",
        json={"text": "hi"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200, response.text
    return response.headers["X-Service-Version"], fake_upstream.requests[-1].body["messages"][-1]["content"]


def _refresh_snapshot() -> None:
    """The gateway's snapshot rebuilt now, from another thread: Playwright's loop runs in this one."""
    worker = threading.Thread(target=gateway_fixtures.refresh_snapshot)
    worker.start()
    worker.join()


def _log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/?next=/prompts/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def gateway_setup(transactional_db, fake_upstream):
    """Tenant acme with app `bot` and its key, route `smart` on the fake upstream (as tests/gateway's fixture,
    whose snapshot refresh cannot run in Playwright's thread)."""
    tenant = TenantFactory(slug="acme", name="Acme")
    app = AppFactory(tenant=tenant, slug="bot")
    _, secret = api_key_issue(app=app, name="e2e", actor_membership=None)
    provider = provider_create(
        tenant=tenant, actor_membership=None, slug="fake-openai", name="Fake OpenAI", kind="openai",
        base_url=fake_upstream.base_url, api_key=FAKE_KEY,
    )  # fmt: skip
    model = model_create(
        provider=provider, actor_membership=None, name="gpt-4o-mini", upstream_id="gpt-4o-mini", modalities=["text"],
        input_price_per_mtok=Decimal("0.15"), output_price_per_mtok=Decimal("0.60"),
    )  # fmt: skip
    route = route_create(tenant=tenant, actor_membership=None, alias="smart", deadline_seconds=10, retries=1)
    deployment_add(route=route, model=model, actor_membership=None, timeout_seconds=5)
    return gateway_fixtures.GatewaySetup(
        tenant=tenant, app=app, key=None, secret=secret, route=route, provider=provider
    )


@pytest.fixture
def prompt_api(gateway_setup):
    """Prompt API `echo-prompt` of acme on the fake upstream's route, v1 live and published; an admin and a viewer."""
    tenant = gateway_setup.tenant
    for role in (Role.ADMIN, Role.VIEWER):
        MembershipFactory(tenant=tenant, role=role, user=UserFactory(username=f"{role}-user"))
    service = prompt_service_create(
        tenant=tenant,
        actor_membership=None,
        slug="echo-prompt",
        name="Echo prompt",
        route=gateway_setup.route,
        system_template="",
        user_template="one: {{ text }}",
        variables_schema=SCHEMA,
        visibility="private",
        approval_mode="auto",
        change_note="first",
    )
    service_set_lifecycle(service=service, actor_membership=None, lifecycle=Lifecycle.PUBLISHED)
    return service


def test_an_admin_edits_previews_publishes_and_rolls_back_a_prompt(
    page: Page, live_server, prompt_api, gateway_setup, live_gateway, fake_upstream
):
    secret = gateway_setup.secret
    assert _invoke(live_gateway, secret, fake_upstream) == ("1", "one: hi")
    page.set_viewport_size({"width": 1440, "height": 900})
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    _log_in(page, live_server.url, "admin-user")
    expect(page).to_have_title("Prompts of Acme · AI Gateway")
    page.get_by_role("link", name="Echo prompt").click()
    expect(page.locator("#version-1")).to_contain_text("live")
    page.get_by_role("button", name="Edit prompt").click()

    # A typo is caught as it is typed, with its line; fixing it clears the message.
    user_template = page.get_by_label("User template")
    user_template.fill("two:\n{{ txet }}")
    expect(page.locator("#id_user_template_problems")).to_contain_text("Line 2: txet is not declared")
    assert_page_passes(page, "prompts-editor-error")
    user_template.fill("two: {{ text }}")
    expect(page.locator("#check-summary")).to_contain_text("No problems found")
    expect(page.locator("#id_user_template_problems")).to_be_empty()

    page.get_by_label("Sample variables").fill('{"text": "hi"}')
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview pre")).to_have_text("two: hi")
    assert_page_passes(page, "prompts-editor-preview")
    page.get_by_label("Change note").fill("shorter")
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_text("Version 2 is saved as a draft")).to_be_visible()
    assert _invoke(live_gateway, secret, fake_upstream) == ("1", "one: hi")  # a draft serves no traffic

    page.get_by_role("button", name="Publish v2").click()
    expect(page.get_by_text("Version 2 is live")).to_be_visible()
    assert asked[-1].startswith("Publish v2 of Echo prompt?")
    assert _invoke(live_gateway, secret, fake_upstream) == ("2", "two: hi")
    assert_page_passes(page, "prompts-prompt-page")

    page.get_by_role("button", name="Compare").click()
    expect(page.locator("ins", has_text="two: {{ text }}")).to_be_visible()
    assert_page_passes(page, "prompts-diff")
    page.go_back()

    page.get_by_role("button", name="Roll back to v1").click()
    expect(page.get_by_text("Rolled back: version 1 is live again.")).to_be_visible()
    assert _invoke(live_gateway, secret, fake_upstream) == ("1", "one: hi")

    page.set_viewport_size({"width": 390, "height": 844})
    pages = {
        "list": "",
        "prompt-page": "echo-prompt/",
        "editor": "echo-prompt/edit/",
        "diff": "echo-prompt/diff/?a=1&b=2",
    }
    for name, path in pages.items():
        page.goto(f"{live_server.url}/prompts/{path}")
        assert_page_passes(page, f"prompts-{name}")
    page.goto(f"{live_server.url}/prompts/echo-prompt/edit/")  # and the editor with its preview filled in
    page.get_by_label("Sample variables").fill('{"text": "hi"}')
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview pre")).to_have_text("one: hi")
    assert_page_passes(page, "prompts-editor-preview")


def test_a_viewer_sees_no_edit_button_and_gets_403_on_the_editor(page: Page, live_server, prompt_api):
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page, live_server.url, "viewer-user")
    page.get_by_role("link", name="Echo prompt").click()
    expect(page.locator("#version-1")).to_contain_text("live")
    expect(page.get_by_role("button", name="Edit prompt")).to_have_count(0)
    expect(page.get_by_role("button", name="Publish v1")).to_have_count(0)
    response = page.goto(f"{live_server.url}/prompts/echo-prompt/edit/")
    assert response.status == 403
    expect(page.get_by_text("This page needs the developer role in Acme")).to_be_visible()
    assert_page_passes(page, "prompts-viewer-403")
