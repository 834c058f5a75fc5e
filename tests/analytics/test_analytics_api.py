"""The analytics read API for scripts: /api/v1/tenants/<slug>/analytics/rollups/ (the dashboard's figures) and
/analytics/logs/ (cursor-paginated calls, and one call by request id)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.access.services import personal_token_issue
from apps.tenants.models import Role
from tests.analytics.traffic import build_traffic, this_hour
from tests.factories import CallLogFactory
from tests.helpers import API, assert_field_error

pytestmark = pytest.mark.django_db

ROLLUPS = f"{API}/tenants/acme/analytics/rollups/"
LOGS = f"{API}/tenants/acme/analytics/logs/"


@pytest.fixture
def traffic(tenant, other_tenant, app, other_app, members, mallory):
    return build_traffic(tenant, other_tenant, app, other_app)


def test_rollups_answer_the_dashboards_figures(traffic, api_client_for, owner):
    response = api_client_for(owner).get(ROLLUPS, {"period": "24h"})
    assert response.status_code == 200
    body = response.json()
    expected = traffic.visible_totals()
    kpis = body["kpis"]
    assert {name: kpis[name] for name in ("calls", "errors", "p50_ms", "p95_ms", "p99_ms")} == {
        name: expected[name] for name in ("calls", "errors", "p50_ms", "p95_ms", "p99_ms")
    }
    assert Decimal(kpis["cost"]) == expected["cost"]
    assert body["period"]["granularity"] == "hour"
    assert len(body["series"]) == 24
    assert body["series"][-1]["bucket"] == this_hour().isoformat().replace("+00:00", "Z")
    assert sum(point["calls"] for point in body["series"]) == 25
    assert body["top_services"][0] == {
        **{key: body["top_services"][0][key] for key in ("error_rate", "p50_ms", "p95_ms", "p99_ms", "cost")},
        "id": traffic.summarize.pk,
        "name": "Summarize",
        "calls": 16,
        "errors": 2,
        "prompt_tokens": 1060,
        "completion_tokens": 400,
        "tokens": 1460,
    }
    assert body["top_models"][0]["id"] == "gpt-a"
    assert body["error_types"] == [
        {"error_type": "upstream_error", "count": 2},
        {"error_type": "rate_limited", "count": 1},
    ]


def test_rollups_take_the_dashboards_filters(traffic, api_client_for, owner):
    response = api_client_for(owner).get(ROLLUPS, {"period": "24h", "app": traffic.other_app.pk})
    assert response.json()["kpis"]["calls"] == 6


BAD_INPUTS = [
    (ROLLUPS, {"period": "1y"}, "period"),
    (ROLLUPS, {"date_from": "2024-03-05", "date_to": "2024-03-01"}, "date_from"),
    (ROLLUPS, {"date_from": "2023-01-01", "date_to": "2024-12-31"}, "date_to"),
    (ROLLUPS, {"date_from": "03/01/2024", "date_to": "2024-03-02"}, "date_from"),
    (ROLLUPS, {"date_from": "2024-03-01"}, "date_to"),
    (ROLLUPS, {"service": "summarize"}, "service"),
    (ROLLUPS, {"app": "0"}, "app"),
    (LOGS, {"status_class": "2XX"}, "status_class"),
    (LOGS, {"after": "1732579200000000"}, "after"),
    (LOGS, {"service": "-5"}, "service"),
    (LOGS, {"request_id": "x" * 100}, "request_id"),
]


@pytest.mark.parametrize(("url", "params", "field"), BAD_INPUTS)
def test_bad_input_answers_400_naming_the_field(traffic, api_client_for, owner, url, params, field):
    assert_field_error(api_client_for(owner).get(url, params), field)


@pytest.mark.parametrize("url", [ROLLUPS, LOGS])
@pytest.mark.parametrize("field", ["service", "app"])
def test_another_tenants_id_is_refused_exactly_like_an_unknown_one(traffic, api_client_for, owner, url, field):
    foreign = traffic.secret.pk if field == "service" else traffic.third_app.pk
    client = api_client_for(owner)
    refused, missing = client.get(url, {field: foreign}), client.get(url, {field: 987654321})
    assert refused.status_code == missing.status_code == 400
    assert refused.json() == missing.json()


def test_logs_walk_every_call_once_through_the_next_links(tenant, api_client_for, owner):
    now = datetime.now(UTC)
    made = {
        CallLogFactory(tenant_id=tenant.pk, created_at=now - timedelta(seconds=n // 4)).request_id for n in range(130)
    }
    client = api_client_for(owner)
    seen, url, pages = [], f"{LOGS}?period=1h", 0
    while url:
        body = client.get(url).json()
        seen += [row["request_id"] for row in body["results"]]
        url, pages = body["next"], pages + 1
        assert url is None or url.startswith("http://testserver/api/v1/tenants/acme/analytics/logs/?")
    assert pages == 3
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen))


def test_logs_go_back_with_the_previous_link(tenant, api_client_for, owner):
    for _ in range(60):
        CallLogFactory(tenant_id=tenant.pk)
    client = api_client_for(owner)
    first = client.get(LOGS).json()
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 10
    again = client.get(second["previous"]).json()
    assert [row["request_id"] for row in again["results"]] == [row["request_id"] for row in first["results"]]


def test_a_subscribers_call_has_no_key_prefix_and_a_foreign_route_is_not_shown(traffic, api_client_for, owner, mallory):
    rows = {row["request_id"]: row for row in api_client_for(owner).get(LOGS).json()["results"]}
    subscriber = rows[traffic.logs["subscriber"].request_id]
    assert (subscriber["app"], subscriber["is_foreign"], subscriber["key_prefix"]) == ("Globex bot (Globex)", True, "")
    assert subscriber["route"] == "smart"  # acme's own route, behind acme's service
    own = rows[traffic.logs["own"].request_id]
    assert (own["key_prefix"], own["service"], own["is_foreign"]) == ("gwk_ownkey12", "Summarize", False)
    hers = api_client_for(mallory).get(f"{API}/tenants/globex/analytics/logs/{traffic.logs['subscriber'].request_id}/")
    assert hers.status_code == 200
    assert (hers.json()["key_prefix"], hers.json()["route"]) == ("gwk_globexk1", "")


def test_one_call_by_request_id(traffic, api_client_for, owner):
    log = traffic.logs["old"]
    response = api_client_for(owner).get(f"{LOGS}{log.request_id}/")
    assert response.status_code == 200
    assert response.json()["request_id"] == log.request_id
    for hidden in ("hidden", "third"):
        response = api_client_for(owner).get(f"{LOGS}{traffic.logs[hidden].request_id}/")
        assert response.status_code == 404
        assert response.json() == {"message": "Not found."}


def test_mallorys_rollups_hold_none_of_acmes_own_calls(traffic, api_client_for, mallory):
    body = api_client_for(mallory).get(f"{API}/tenants/globex/analytics/rollups/").json()
    assert body["kpis"]["calls"] == 56
    assert {row["name"] for row in body["top_apps"]} == {"Globex bot"}


def test_a_viewer_and_a_personal_token_can_read(traffic, members):
    _, secret = personal_token_issue(user=members[Role.VIEWER].user, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get(ROLLUPS).json()["kpis"]["calls"] == 25
    assert client.get(LOGS).status_code == 200
