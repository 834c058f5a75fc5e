"""Content-Security-Policy: every HTML page carries one that allows scripts, styles and connections only from the
portal itself (no inline script or style, no eval), and the pages work under it: a real Chromium loads them and
reports no violation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, CallLogFactory, CallRollupFactory, ServiceFactory

STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return dict(directives)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/catalog/", "/apps/", "/analytics/", "/members/", "/tenant/settings/"])
def test_every_page_of_a_member_has_the_strict_policy(client_for, owner, url):
    response = client_for(owner).get(url)
    assert response.status_code == 200
    policy = _policy(response)
    assert {name: policy.get(name) for name in STRICT} == STRICT
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/", "/no-such-page/"])
def test_anonymous_pages_and_error_pages_have_it_too(client, url):
    assert _policy(client.get(url)) | STRICT == _policy(client.get(url))


@pytest.mark.django_db
def test_only_the_swagger_ui_page_allows_inline_styles(client):
    """Swagger UI (a third-party UI) styles its page inline; its scripts still come only from the portal."""
    policy = _policy(client.get("/api/docs/"))
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["script-src"] == "'self'"


VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture
def pages_with_content(tenant, app):
    """What the pages draw: a published service in the catalog, a day of rollups for the charts, a call's timeline."""
    service = ServiceFactory(tenant=tenant, slug="summarize", name="Summarize", summary="Short summaries")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for hours_ago in range(6):
        CallRollupFactory(
            granularity="hour",
            bucket=hour - timedelta(hours=hours_ago),
            tenant_id=tenant.pk,
            service_id=service.pk,
            app_id=app.pk,
            model="gpt-4o-mini",
            latencies=[100 + 20 * i for i in range(10 + hours_ago)],
        )
    call = CallLogFactory(tenant_id=tenant.pk, app_id=app.pk, service_id=service.pk, ttft_ms=50.0, latency_ms=420.0)
    return ["/", "/catalog/", "/catalog/summarize/", "/analytics/", f"/analytics/logs/{call.request_id}/"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_pages_work_in_chromium_with_no_violation(page: Page, live_server, owner, pages_with_content):
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.add_init_script(VIOLATIONS)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(owner.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    for url in pages_with_content:
        response = page.goto(f"{live_server.url}{url}")
        assert response.status == 200, url
        assert "content-security-policy" in response.headers, url
        page.wait_for_load_state("networkidle")
        if url == "/analytics/":  # Chart.js drew under the policy
            expect(page.locator("canvas").first).to_be_visible()
            assert page.evaluate("Object.keys(Chart.instances).length") > 0
        if url.startswith("/analytics/logs/"):  # the timeline was placed by static/js, not inline styles
            assert page.evaluate("document.querySelector('.timeline-segment').style.width") != ""
        assert page.evaluate("window.__cspViolations") == [], url
    # htmx runs under the policy: it injects no <style> and evaluates no code, and its requests go to the portal.
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    page.evaluate("htmx.ajax('GET', '/catalog/', {target: 'main', swap: 'innerHTML'})")
    expect(page.get_by_text("Short summaries")).to_be_visible()
    assert page.evaluate("window.__cspViolations") == []
    refusals = [line for line in console if "Content Security Policy" in line or "Refused to" in line]
    assert refusals == []
