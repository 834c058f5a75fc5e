"""The analytics dashboard (/analytics/) and its rollups CSV: figures equal what the rollups hold, series are
zero-filled, filters narrow, bad input answers 400 naming the field, and a tenant sees its own calls and calls to
its services, nothing else."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.analytics import histogram
from apps.analytics.periods import granularity_for
from apps.analytics.services.rollups import rollups_compute
from apps.tenants.models import Role
from tests.analytics.traffic import build_traffic, hourly, this_hour
from tests.factories import CallLogFactory, CallRollupFactory, MembershipFactory

pytestmark = pytest.mark.django_db

URL = "/analytics/"


@pytest.fixture
def traffic(tenant, other_tenant, app, other_app, members, mallory):
    return build_traffic(tenant, other_tenant, app, other_app)


def get(client, params: dict | None = None, status: int = 200):
    response = client.get(URL, params or {})
    assert response.status_code == status, response.content[:2000]
    return response


def test_kpis_equal_what_the_visible_rollups_hold(traffic, client_for, owner):
    response = get(client_for(owner), {"period": "24h"})
    kpis = response.context["dashboard"].kpis
    expected = traffic.visible_totals()
    assert {name: kpis[name] for name in expected} == expected
    assert kpis["calls"] == 25
    assert kpis["error_rate"] == pytest.approx(3 / 25)
    assert kpis["server_error_rate"] == pytest.approx(1 / 25)
    assert kpis["cache_hit_rate"] == pytest.approx(3 / 25)
    assert kpis["avg_overhead_ms"] == pytest.approx(52 / 25)
    assert kpis["tokens"] == 1000 + 400 + 100 + 50 + 60
    html = response.content.decode()
    assert 'data-kpi="calls">25<' in html
    assert "Globex secret" not in html
    assert "gpt-secret" not in html


def test_series_has_one_point_per_bucket_with_zeros_where_nothing_happened(traffic, client_for, owner):
    dashboard = get(client_for(owner), {"period": "24h"}).context["dashboard"]
    series = {point["bucket"]: point for point in dashboard.series}
    assert len(series) == 24
    assert max(series) == this_hour()
    two_hours_ago = series[this_hour() - timedelta(hours=2)]
    assert two_hours_ago["calls"] == 14
    assert two_hours_ago["p95_ms"] == traffic.visible_totals(bucket=this_hour() - timedelta(hours=2))["p95_ms"]
    quiet = series[this_hour() - timedelta(hours=1)]
    assert (quiet["calls"], quiet["errors"], quiet["tokens"], quiet["p95_ms"]) == (0, 0, 0, None)
    assert sum(point["calls"] for point in dashboard.series) == 25


def test_charts_get_their_data_as_json(traffic, client_for, owner):
    html = get(client_for(owner), {"period": "24h"}).content.decode()
    assert '<script id="analytics-charts" type="application/json">' in html
    assert '"granularity": "hour"' in html
    for canvas in ("chart-calls", "chart-latency", "chart-tokens", "chart-cost"):
        assert f'id="{canvas}"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html


def test_top_lists_rank_services_apps_and_models_and_name_them(traffic, client_for, owner):
    dashboard = get(client_for(owner), {"period": "24h"}).context["dashboard"]
    services = {row["name"]: row["calls"] for row in dashboard.top_services}
    assert services == {"Summarize": 16, "Translate": 4, "(no service)": 5}
    assert dashboard.top_services[0]["name"] == "Summarize"
    apps = {row["name"]: row["calls"] for row in dashboard.top_apps}
    assert apps == {"Billing bot": 19, "Globex bot (Globex)": 6}
    summarize = dashboard.top_services[0]
    assert summarize["p95_ms"] == traffic.visible_totals(service_id=traffic.summarize.pk)["p95_ms"]
    assert {row["name"]: row["calls"] for row in dashboard.top_models} == {"gpt-a": 16, "gpt-b": 9}
    assert dashboard.error_types == [
        {"error_type": "upstream_error", "count": 2},
        {"error_type": "rate_limited", "count": 1},
    ]


def test_a_deleted_service_or_app_shows_as_its_id(traffic, client_for, owner):
    hourly(traffic.acme.pk, 1, [40], service_id=987654, app_id=876543)
    dashboard = get(client_for(owner), {"period": "24h"}).context["dashboard"]
    assert "#987654" in [row["name"] for row in dashboard.top_services]
    assert "#876543" in [row["name"] for row in dashboard.top_apps]


@pytest.mark.parametrize(
    ("filters", "calls"),
    [
        ({"service": "summarize"}, 16),
        ({"app": "app"}, 19),
        ({"app": "other_app"}, 6),
        ({"model": "gpt-b"}, 9),
        ({"service": "summarize", "app": "app"}, 10),
        ({"model": "no-such-model"}, 0),
    ],
)
def test_filters_narrow_every_figure(traffic, client_for, owner, filters, calls):
    ids = {"summarize": traffic.summarize.pk, "app": traffic.app.pk, "other_app": traffic.other_app.pk}
    params = {name: ids.get(value, value) for name, value in filters.items()}
    dashboard = get(client_for(owner), {"period": "24h", **params}).context["dashboard"]
    assert dashboard.kpis["calls"] == calls
    assert sum(point["calls"] for point in dashboard.series) == calls
    assert sum(row["calls"] for row in dashboard.top_services) == calls


@pytest.mark.parametrize(
    ("period", "granularity", "points"),
    [("1h", "minute", 60), ("6h", "minute", 360), ("24h", "hour", 24), ("7d", "hour", 168), ("30d", "day", 30),
     ("90d", "day", 90)],
)  # fmt: skip
def test_the_period_picks_the_granularity_and_reads_only_its_rows(
    tenant, client_for, owner, period, granularity, points
):
    now = datetime.now(UTC)
    buckets = {
        "minute": now.replace(second=0, microsecond=0),
        "hour": now.replace(minute=0, second=0, microsecond=0),
        "day": now.replace(hour=0, minute=0, second=0, microsecond=0),
    }
    for level, calls in (("minute", 1), ("hour", 10), ("day", 100)):
        CallRollupFactory(granularity=level, bucket=buckets[level], tenant_id=tenant.pk, latencies=[50] * calls)
    dashboard = get(client_for(owner), {"period": period}).context["dashboard"]
    assert dashboard.period.granularity == granularity
    assert len(dashboard.series) == points
    assert dashboard.kpis["calls"] == {"minute": 1, "hour": 10, "day": 100}[granularity]


def test_granularity_thresholds():
    assert granularity_for(timedelta(hours=6)) == "minute"
    assert granularity_for(timedelta(hours=6, minutes=1)) == "hour"
    assert granularity_for(timedelta(days=7)) == "hour"
    assert granularity_for(timedelta(days=7, minutes=1)) == "day"


def test_a_custom_range_of_whole_days_replaces_the_period(tenant, client_for, owner):
    today = datetime.now(UTC).date()
    day = datetime.combine(today - timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    CallRollupFactory(granularity="hour", bucket=day + timedelta(hours=5), tenant_id=tenant.pk, latencies=[20] * 3)
    CallRollupFactory(granularity="day", bucket=day, tenant_id=tenant.pk, latencies=[20] * 7)
    one_day = {"period": "1h", "date_from": day.date().isoformat(), "date_to": day.date().isoformat()}
    dashboard = get(client_for(owner), one_day).context["dashboard"]
    assert (dashboard.period.granularity, len(dashboard.series), dashboard.kpis["calls"]) == ("hour", 24, 3)
    eight_days = {"date_from": (today - timedelta(days=7)).isoformat(), "date_to": today.isoformat()}
    dashboard = get(client_for(owner), eight_days).context["dashboard"]
    assert (dashboard.period.granularity, len(dashboard.series), dashboard.kpis["calls"]) == ("day", 8, 7)


TODAY = datetime.now(UTC).date()
BAD_INPUTS = [
    ({"period": "2h"}, "period", "Unknown period"),
    ({"date_from": "2024-02-30", "date_to": "2024-03-01"}, "date_from", "not a date"),
    ({"date_from": "yesterday", "date_to": "2024-03-01"}, "date_from", "not a date"),
    ({"date_from": "2024-03-01", "date_to": "soon"}, "date_to", "not a date"),
    ({"date_from": "2024-03-02", "date_to": "2024-03-01"}, "date_from", "after the end date"),
    ({"date_from": "2020-01-01", "date_to": "2024-01-01"}, "date_to", "at most 400"),
    ({"date_from": str(TODAY), "date_to": str(TODAY + timedelta(days=1))}, "date_to", "in the future"),
    ({"date_from": str(TODAY + timedelta(days=3)), "date_to": str(TODAY + timedelta(days=4))}, "date_from", "future"),
    ({"date_from": "0001-01-01", "date_to": "9999-12-31"}, "date_to", "in the future"),
    ({"date_from": "2024-03-01"}, "date_to", "both dates"),
    ({"date_to": "2024-03-01"}, "date_from", "both dates"),
    ({"service": "abc"}, "service", "Unknown service."),
    ({"service": "99999999"}, "service", "Unknown service."),
    ({"service": "1e3"}, "service", "Unknown service."),
    ({"app": "-1"}, "app", "Unknown app."),
    ({"model": "m" * 201}, "model", "at most 200"),
]
BAD_INPUT_PARAMS = [
    pytest.param(params, field, text, id=f"{field}-{i}") for i, (params, field, text) in enumerate(BAD_INPUTS)
]


@pytest.mark.parametrize(("params", "field", "text"), BAD_INPUT_PARAMS)
def test_bad_input_answers_400_with_the_field_named(traffic, client_for, owner, params, field, text):
    response = get(client_for(owner), params, status=400)
    form = response.context["form"]
    assert list(form.errors) == [field]
    assert text in " ".join(form.errors[field])
    assert text in response.content.decode().replace("&#x27;", "'")
    assert response.context["dashboard"] is None


def test_another_tenants_service_or_app_is_refused_like_one_that_does_not_exist(traffic, client_for, owner):
    client = client_for(owner)
    for field, foreign in (("service", traffic.secret.pk), ("app", traffic.third_app.pk)):
        refused = get(client, {field: foreign}, status=400).context["form"].errors
        missing = get(client, {field: 99999999}, status=400).context["form"].errors
        assert refused == missing


def test_mallory_sees_her_own_calls_and_none_of_acmes(traffic, client_for, mallory):
    response = get(client_for(mallory), {"period": "24h"})
    dashboard = response.context["dashboard"]
    assert dashboard.kpis["calls"] == 6 + 50  # her app calling acme's service, and her own service
    assert {row["name"] for row in dashboard.top_apps} == {"Globex bot"}
    assert {row["name"] for row in dashboard.top_services} == {"Summarize", "Globex secret"}
    assert "Billing bot" not in response.content.decode()
    assert "Translate" not in response.content.decode()


def test_mallory_cannot_filter_by_acmes_own_service(traffic, client_for, mallory):
    errors = get(client_for(mallory), {"service": traffic.translate.pk}, status=400).context["form"].errors
    assert errors == {"service": ["Unknown service."]}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER, Role.ADMIN, Role.OWNER])
def test_every_member_role_sees_the_dashboard(traffic, client_for, members, role):
    assert get(client_for(members[role].user)).context["dashboard"].kpis["calls"] == 25


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def _queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        get(client, {"period": "24h"})
    return [query["sql"] for query in captured.captured_queries]


def test_the_dashboard_reads_rollups_only_in_a_fixed_number_of_queries(
    traffic, client_for, owner, django_assert_max_num_queries
):
    client = client_for(owner)
    get(client)  # the first page of a session also stores the current tenant in it
    small = _queries(client)
    assert not any("analytics_calllog" in sql for sql in small)
    for hours_ago in range(24):
        for service in (traffic.summarize, traffic.translate):
            hourly(traffic.acme.pk, hours_ago, [10, 20, 30], service_id=service.pk, app_id=traffic.app.pk, model="x")
    MembershipFactory(tenant=traffic.acme, role=Role.VIEWER)
    large = _queries(client)
    assert len(large) == len(small)
    # 9 of any portal page (session, user, membership, navigation, notifications, the GitLab drift banner, the
    # session's save), 2 for the scope's names (services, apps) and 3 for the figures (per service/app/model, per
    # bucket, per error type).
    with django_assert_max_num_queries(14):
        get(client, {"period": "24h"})


def test_rollups_csv_has_one_named_row_per_rollup(traffic, client_for, owner):
    response = client_for(owner).get("/analytics/rollups.csv", {"period": "24h", "service": traffic.summarize.pk})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="rollups-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted((row["app"], row["calls"]) for row in rows) == [("Billing bot", "10"), ("Globex bot (Globex)", "6")]
    first = next(row for row in rows if row["app"] == "Billing bot")
    assert (first["granularity"], first["service"], first["model"], first["errors"]) == (
        "hour",
        "Summarize",
        "gpt-a",
        "2",
    )
    assert float(first["p95_ms"]) == pytest.approx(traffic.visible[0].p95_ms)
    assert first["cost"] == "0.01250000"


def test_rollups_csv_refuses_bad_filters_with_400(traffic, client_for, owner):
    response = client_for(owner).get("/analytics/rollups.csv", {"service": traffic.secret.pk})
    assert response.status_code == 400
    assert response.content.decode() == "service: Unknown service."


def test_figures_of_logs_rolled_up_by_the_rollup_job_equal_the_logs(tenant, app, client_for, owner):
    now = datetime.now(UTC)
    latencies = [12.0, 40.0, 95.0, 180.0, 640.0, 2500.0]
    for minutes_ago, latency in enumerate(latencies, start=3):
        failed = latency > 1000
        CallLogFactory(
            tenant_id=tenant.pk, app_id=app.pk, latency_ms=latency, created_at=now - timedelta(minutes=minutes_ago),
            status=503 if failed else 200, error_type="upstream_error" if failed else "", prompt_tokens=10,
            completion_tokens=5, cost=Decimal("0.001"),
        )  # fmt: skip
    for granularity in ("minute", "hour"):
        rollups_compute(granularity=granularity, start=now - timedelta(hours=2), end=now)
    kpis = get(client_for(owner), {"period": "24h"}).context["dashboard"].kpis
    counts = histogram.empty()
    for latency in latencies:
        counts[histogram.bucket_index(latency)] += 1
    assert (kpis["calls"], kpis["errors"], kpis["server_errors"], kpis["tokens"]) == (6, 1, 1, 90)
    assert kpis["cost"] == Decimal("0.006")
    assert (kpis["p50_ms"], kpis["p99_ms"]) == (histogram.percentile(counts, 0.5), histogram.percentile(counts, 0.99))
