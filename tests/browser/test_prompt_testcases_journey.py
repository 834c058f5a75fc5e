"""A developer runs a prompt's test cases and its playground in a real headless Chromium, on a phone (390 px) and a
desktop (1,440 px), against the portal served as in production (its ASGI application under uvicorn, so the
playground's answer really streams) and a fake OpenAI upstream behind the prompt's route: the run of the draft shows
one case passing and one failing; the playground runs the draft and the live version side by side and shows each
answer as it streams, with latency, tokens and cost. No page is wider than the screen and axe-core finds no critical
or serious violation on any; screenshots go to test-artifacts/screenshots/prompts-*."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from playwright.sync_api import Page, expect

from apps.analytics.models import CallLog
from apps.prompts.models import PromptTestRun
from apps.prompts.services import prompt_test_case_create
from tests.browser.checks import WIDTHS, assert_page_passes
from tests.factories import PASSWORD
from tests.prompts import conftest as prompts_fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# Fixtures of the prompts tests: the prompt `summarize` on the fake upstream (v1 live, v2 draft); a fresh pipeline.
draft = prompts_fixtures.draft
fresh_gateway = prompts_fixtures.fresh_gateway


@pytest.fixture
def live_asgi(transactional_db, fresh_gateway, settings):
    """The portal's ASGI application (lifespan included) under uvicorn, static files served as runserver does."""
    from portal.asgi import application

    settings.GATEWAY_LOG_FLUSH_SECONDS = 0.2  # the playground's call records reach the log while the test waits

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        ASGIStaticFilesHandler(application), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-asgi", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def cases(draft):
    """Two cases of the prompt: the fake upstream answers "This is a test.", which passes one and fails the other."""
    for name, checks in (
        ("answers", [{"type": "contains", "value": "TEST", "ignore_case": True}, {"type": "max_tokens", "max": 50}]),
        ("mentions the cat", [{"type": "contains", "value": "cat"}]),
    ):
        prompt_test_case_create(
            template=draft.template,
            actor_membership=None,
            name=name,
            variables={"text": "The cat sat on the mat.", "words": 3},
            checks=checks,
        )


@pytest.mark.parametrize("width", WIDTHS)
def test_a_developer_runs_the_test_cases_of_a_draft_and_plays_with_two_versions(
    page: Page, live_asgi, members, draft, cases, fake_upstream, width
):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_asgi}/accounts/login/?next=/prompts/summarize/test-cases/")
    page.get_by_label("Username").fill("developer-user")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_title("Test cases of Summarize · AI Gateway")
    expect(page.locator("#test-cases tbody tr")).to_have_count(2)
    expect(page.get_by_label("Version to test")).to_have_value(str(draft.number))  # the draft, by default
    assert_page_passes(page, "prompts-testcases")

    page.get_by_role("button", name="Run 2 cases").click()
    run = PromptTestRun.objects.get()
    expect(page).to_have_url(f"{live_asgi}/prompts/summarize/test-runs/{run.pk}/")
    expect(page.locator(".test-result")).to_have_count(2)
    expect(page.locator('.test-result[data-case="answers"][data-passed="true"]')).to_contain_text("This is a test.")
    failed = page.locator('.test-result[data-case="mentions the cat"][data-passed="false"]')
    expect(failed).to_contain_text("Check 1 (contains): does not contain 'cat'.")
    expect(page.locator(".test-run-summary")).to_contain_text("1 passed, 1 failed of 2")
    assert_page_passes(page, "prompts-testrun")

    page.get_by_role("link", name="All test cases").click()
    page.get_by_role("link", name="Playground →").click()
    expect(page).to_have_title("Playground of Summarize · AI Gateway")
    page.get_by_label("text").fill("The cat sat on the mat.")
    page.get_by_label("words").fill("3")
    page.get_by_label("Side by side with").select_option(label="v1 (live)")
    # Each piece of the answer is written into the panel as its event arrives.
    page.evaluate(
        """() => {
          window.outputWrites = 0;
          new MutationObserver((records) => { window.outputWrites += records.length; })
            .observe(document.querySelector('[data-slot="a"] [data-output]'), {childList: true, characterData: true});
        }"""
    )
    page.get_by_role("button", name="Run").click()

    for slot, title in (("a", f"v{draft.number} (draft)"), ("b", "v1 (live)")):
        panel = page.locator(f'[data-slot="{slot}"]')
        expect(panel.locator("[data-status]")).to_have_text("done")
        expect(panel.locator("[data-title]")).to_have_text(title)
        expect(panel.locator("[data-output]")).to_have_text("This is a test.")
        expect(panel.locator("[data-stats]")).to_contain_text(" tokens · $")
    assert page.evaluate("window.outputWrites") > 2  # several deltas, then the whole answer
    assert_page_passes(page, "prompts-playground")

    sent = [request.body["messages"][-1]["content"] for request in fake_upstream.requests[-2:]]
    assert sorted(sent) == [
        "In at most 3 words, the gist of: The cat sat on the mat.",
        "Summarize in 3 words: The cat sat on the mat.",
    ]
    deadline = time.monotonic() + 5  # the call records reach the log from the server's sink, in the background
    while CallLog.objects.filter(endpoint="playground").count() < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert CallLog.objects.filter(endpoint="playground", tenant_id=draft.template.service.tenant_id).count() == 2
    assert CallLog.objects.filter(endpoint="test_run").count() == 2
