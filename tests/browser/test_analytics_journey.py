"""Analytics in a real headless Chromium: the owner opens the dashboard (Chart.js draws the charts), filters it
by a service, goes to the log explorer, finds a call by its request id (htmx swaps the results in) and opens
the call's page with its timeline and captured bodies. No page is wider than the window and axe-core finds no critical
or serious violation; screenshots go to test-artifacts/screenshots/analytics-*."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from apps.analytics.models import CallBody
from tests.browser.checks import assert_page_passes
from tests.factories import PASSWORD, AppFactory, CallLogFactory, CallRollupFactory, ServiceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def traffic(tenant, app):
    """A day of hourly rollups of three services with a daily rhythm, and the last hour's calls in the log."""
    services = [ServiceFactory(tenant=tenant, slug=slug, name=name) for slug, name in
                (("summarize", "Summarize"), ("translate", "Translate"), ("classify", "Classify"))]  # fmt: skip
    apps = [app, AppFactory(tenant=tenant, slug="support-bot", name="Support bot")]
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    for hours_ago in range(24):
        wave = 1 + math.sin(hours_ago / 24 * 2 * math.pi)
        for n, service in enumerate(services):
            for m, caller in enumerate(apps):
                calls = int(20 + 30 * wave) // (n + 1) + 5 * m
                latencies = [120 + 40 * n + (i * 37) % 300 for i in range(calls)] + [1800 + 200 * n]
                errors = (hours_ago + n) % 5 == 0
                CallRollupFactory(
                    granularity="hour", bucket=hour - timedelta(hours=hours_ago), tenant_id=tenant.pk,
                    service_id=service.pk, app_id=caller.pk, model=("gpt-4o-mini", "claude-haiku")[(n + m) % 2],
                    latencies=latencies, errors=3 if errors else 0, server_errors=1 if errors else 0,
                    error_types={"upstream_error": 1, "rate_limited": 2} if errors else {},
                    prompt_tokens=calls * 700, completion_tokens=calls * 180, cost=Decimal(calls) * Decimal("0.00042"),
                    cache_hits=calls // 8, overhead_sum_ms=calls * 3.5,
                )  # fmt: skip
    calls = []
    for i in range(30):
        status, error = [(200, ""), (200, ""), (429, "rate_limited"), (200, ""), (502, "upstream_error")][i % 5]
        calls.append(
            CallLogFactory(
                tenant_id=tenant.pk, app_id=apps[i % 2].pk, key_prefix="gwk_billing1", service_id=services[i % 3].pk,
                route="smart", model="gpt-4o-mini", created_at=now - timedelta(minutes=2 * i + 1), status=status,
                error_type=error, stream=i % 3 == 0, ttft_ms=180.0 if i % 3 == 0 else None,
                latency_ms=420.0 + 10 * i, overhead_ms=6.5, upstream_ms=413.5 + 10 * i,
                prompt_tokens=640, completion_tokens=128, cost=Decimal("0.000173"),
            )
        )  # fmt: skip
    CallBody.objects.create(
        request_id=calls[3].request_id, created_at=calls[3].created_at, tenant_id=tenant.pk,
        service_id=services[0].pk, request='{"text": "The quarterly report shows [EMAIL] asked for a refund."}',
        response='{"summary": "A customer asked for a refund."}', expires_at=now + timedelta(days=7),
    )  # fmt: skip
    return {"services": services, "calls": calls}


def test_owner_explores_analytics_from_dashboard_to_one_call(
    page: Page, live_server, transactional_db, members, traffic
):
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("owner-user")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Analytics").click()
    expect(page).to_have_title("Analytics of Acme · AI Gateway")
    for canvas in ("chart-calls", "chart-latency", "chart-tokens", "chart-cost"):
        expect(page.locator(f"canvas#{canvas}")).to_be_visible()
    page.wait_for_function(
        "() => ['chart-calls', 'chart-latency', 'chart-tokens', 'chart-cost']"
        ".every((id) => window.Chart && Chart.getChart(document.getElementById(id)))"
    )
    assert page.evaluate("Chart.version").startswith("4.")
    assert page.evaluate("Chart.getChart(document.getElementById('chart-calls')).data.labels.length") == 24
    expect(page.locator(".top-table").first).to_contain_text("Summarize")
    assert_page_passes(page, "analytics-dashboard")

    all_calls = page.locator('[data-kpi="calls"]').inner_text()
    page.get_by_label("Service", exact=True).select_option(label="Summarize")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(rf"/analytics/\?.*\bservice={traffic['services'][0].pk}\b"))
    expect(page.locator('[data-kpi="calls"]')).not_to_have_text(all_calls)
    expect(page.locator(".top-table").first.locator("tbody tr")).to_have_count(1)

    page.get_by_role("link", name="Calls in the log →").click()
    expect(page).to_have_title("Call log of Acme · AI Gateway")
    expect(page.get_by_label("Service", exact=True)).to_have_value(str(traffic["services"][0].pk))
    expect(page.locator("#call-results tbody tr")).to_have_count(10)
    assert_page_passes(page, "analytics-logs")

    wanted = traffic["calls"][3]
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_label("Service", exact=True).select_option(label="All services")  # htmx: the table follows at once
    expect(page.locator("#call-results tbody tr")).to_have_count(30)
    page.get_by_label("Request id", exact=True).fill(wanted.request_id)
    page.get_by_label("Request id", exact=True).press("Enter")
    expect(page.locator("#call-results tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(rf"/analytics/logs/\?.*\brequest_id={wanted.request_id}\b"))
    assert page.evaluate("window.stillTheSamePage") is True  # htmx swapped the results; no page load

    # No request left in flight: a late swap's pushState would cancel the click's navigation.
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    page.get_by_role("link", name=wanted.request_id).click()
    expect(page).to_have_title(f"Call {wanted.request_id} · AI Gateway")
    expect(page.locator(".timeline .timeline-segment")).to_have_count(3)  # a stream: overhead, wait, relay
    expect(page.locator(".timeline-legend")).to_contain_text("Upstream wait")
    expect(page.locator(".timeline")).to_contain_text("First token")
    expect(page.get_by_text("A customer asked for a refund.")).to_be_visible()
    expect(page.get_by_text("gwk_billing1")).to_be_visible()
    assert_page_passes(page, "analytics-call")
