"""The log explorer (/analytics/logs/), one call's page and the calls CSV: scope, filters, keyset pagination
(every row once, no OFFSET), htmx fragments, partition-bounded queries and bad input."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.analytics.models import CallBody
from apps.analytics.periods import period_last
from apps.analytics.selectors import Cursor, call_log_list, call_timeline
from apps.analytics.selectors.scope import analytics_scope_get
from apps.analytics.views import export
from tests.analytics.traffic import build_traffic
from tests.factories import CallLogFactory

pytestmark = pytest.mark.django_db

URL = "/analytics/logs/"


@pytest.fixture
def traffic(tenant, other_tenant, app, other_app, members, mallory):
    return build_traffic(tenant, other_tenant, app, other_app)


def request_ids(response) -> list[str]:
    return [call.log.request_id for call in response.context["page"].calls]


def test_the_log_shows_the_tenants_calls_and_calls_to_its_services_newest_first(traffic, client_for, owner):
    response = client_for(owner).get(URL)
    assert response.status_code == 200
    logs = traffic.logs
    assert request_ids(response) == [logs[name].request_id for name in ("own-5xx", "subscriber", "own-error", "own")]
    html = response.content.decode()
    assert logs["hidden"].request_id not in html
    assert logs["third"].request_id not in html
    assert "Globex bot (Globex)" in html
    assert "gwk_globexk1" not in html


def test_a_subscribers_call_shows_its_app_but_never_its_key(traffic, client_for, owner):
    call = next(c for c in client_for(owner).get(URL).context["page"].calls if c.is_foreign)
    assert (call.app, call.key_prefix, call.service) == ("Globex bot (Globex)", "", "Summarize")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status_class": "2xx"}, ["subscriber", "own"]),
        ({"status_class": "4xx"}, ["own-error"]),
        ({"status_class": "5xx"}, ["own-5xx"]),
        ({"error_type": "rate_limited"}, ["own-error"]),
        ({"model": "gpt-b"}, ["own-5xx", "own-error"]),
        ({"service": "summarize"}, ["subscriber", "own"]),
        ({"app": "other_app"}, ["subscriber"]),
        ({"period": "7d"}, ["own-5xx", "subscriber", "own-error", "own", "old"]),
        ({"request_id": "old"}, ["old"]),  # outside the period: a request id is looked up in the whole log
        ({"request_id": "hidden"}, []),
        ({"request_id": "no-such-request"}, []),
    ],
)
def test_filters(traffic, client_for, owner, params, expected):
    ids = {"summarize": traffic.summarize.pk, "other_app": traffic.other_app.pk}
    params = {name: ids.get(value, value) for name, value in params.items()}
    if "request_id" in params and params["request_id"] in traffic.logs:
        params["request_id"] = traffic.logs[params["request_id"]].request_id
    response = client_for(owner).get(URL, params)
    assert response.status_code == 200
    assert request_ids(response) == [traffic.logs[name].request_id for name in expected]


def test_htmx_gets_the_results_alone_and_a_browser_the_whole_page(traffic, client_for, owner):
    client = client_for(owner)
    fragment = client.get(URL, {"status_class": "4xx"}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert traffic.logs["own-error"].request_id in fragment.content.decode()
    page = client.get(URL, {"status_class": "4xx"}).content.decode()
    assert "<html" in page
    assert 'hx-target="#call-results"' in page


BAD_INPUTS = [
    ({"status_class": "3xx"}, "status_class"),
    ({"after": "not-a-cursor"}, "after"),
    ({"before": "12_x"}, "before"),
    ({"after": f"{10**30}_1"}, "after"),
    ({"after": f"1_{10**30}"}, "after"),
    ({"request_id": "r" * 65}, "request_id"),
    ({"error_type": "e" * 65}, "error_type"),
    ({"period": "forever"}, "period"),
    ({"date_from": "2024-04-31", "date_to": "2024-05-01"}, "date_from"),
    ({"service": "nope"}, "service"),
]


@pytest.mark.parametrize(("params", "field"), BAD_INPUTS)
def test_bad_input_answers_400_with_the_field_named(traffic, client_for, owner, params, field):
    client = client_for(owner)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get(URL, params, **headers)
        assert response.status_code == 400
        assert list(response.context["form"].errors) == [field]
        label = response.context["form"][field].label
        assert f"{label}: " in response.content.decode()


def test_keyset_pagination_returns_every_call_exactly_once(tenant, client_for, owner):
    now = datetime.now(UTC)
    expected = []
    for n in range(123):
        # Groups of three calls share a timestamp: the id breaks the tie.
        created = now - timedelta(minutes=1, seconds=n // 3)
        expected.append(CallLogFactory(tenant_id=tenant.pk, created_at=created).pk)
    expected.sort(key=lambda pk: pk, reverse=True)
    client = client_for(owner)
    seen, params, pages = [], {}, []
    while True:
        page = client.get(URL, params).context["page"]
        pages.append(page)
        seen += [call.log.pk for call in page.calls]
        if page.older is None:
            break
        params = {"after": page.older.token()}
    assert [len(page.calls) for page in pages] == [50, 50, 23]
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen))
    created = [(call.log.created_at, call.log.pk) for page in pages for call in page.calls]
    assert created == sorted(created, reverse=True)
    # and back: "newer" from the last page gives the middle page again
    back = client.get(URL, {"before": pages[2].newer.token()}).context["page"]
    assert [call.log.pk for call in back.calls] == [call.log.pk for call in pages[1].calls]
    assert back.newer is not None
    assert back.older == pages[1].older


def test_the_query_reads_only_the_periods_partitions(traffic, owner):
    scope = analytics_scope_get(tenant=traffic.acme)
    calls = call_log_list(scope=scope, period=period_last("1h", now=datetime.now(UTC)), now=datetime.now(UTC))
    sql = str(calls.query)
    assert '"created_at" >=' in sql
    assert '"created_at" <' in sql
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + calls.query.sql_with_params()[0], calls.query.sql_with_params()[1])
            plan = "\n".join(row[0] for row in cursor.fetchall())
        scanned = set(re.findall(r"analytics_calllog_p\d{8}\b", plan))
        assert 1 <= len(scanned) <= 2, plan  # today's partition (and yesterday's near midnight)


def test_a_page_of_the_log_takes_a_fixed_number_of_queries(traffic, client_for, owner):
    client = client_for(owner)
    client.get(URL)
    with CaptureQueriesContext(connection) as before:
        client.get(URL)
    for _ in range(60):
        CallLogFactory(tenant_id=traffic.acme.pk, app_id=traffic.app.pk, service_id=traffic.summarize.pk)
    with CaptureQueriesContext(connection) as after:
        client.get(URL)
    assert len(after) == len(before)
    assert not any("OFFSET" in query["sql"] for query in after.captured_queries)


def test_the_calls_own_page_shows_every_field_and_its_timeline(traffic, client_for, owner):
    log = traffic.logs["own"]
    response = client_for(owner).get(f"{URL}{log.request_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in (log.request_id, "gwk_ownkey12", "Summarize", "Billing bot", "smart", "#7", "#8", "Timeline"):
        assert text in html
    labels = [segment.label for segment in response.context["segments"]]
    assert labels == ["Gateway overhead", "Upstream wait"]
    assert "Not captured" in html


def test_a_subscribers_call_hides_its_key_on_the_owners_page(traffic, client_for, owner):
    log = traffic.logs["subscriber"]
    response = client_for(owner).get(f"{URL}{log.request_id}/")
    html = response.content.decode()
    assert "gwk_globexk1" not in html
    assert "hidden: another tenant's key" in html
    assert [marker.label for marker in response.context["markers"]] == ["Received", "First token", "Done"]


def test_captured_bodies_are_shown_when_kept(traffic, client_for, owner):
    log = traffic.logs["own"]
    CallBody.objects.create(
        request_id=log.request_id,
        created_at=log.created_at,
        tenant_id=traffic.acme.pk,
        service_id=traffic.summarize.pk,
        request='{"text": "<b>hello</b>"}',
        response='{"summary": "hi"}',
        expires_at=log.created_at + timedelta(days=7),
    )
    html = client_for(owner).get(f"{URL}{log.request_id}/").content.decode()
    assert "&lt;b&gt;hello&lt;/b&gt;" in html
    assert "{&quot;summary&quot;: &quot;hi&quot;}" in html


@pytest.mark.parametrize("name", ["hidden", "third"])
def test_a_call_the_tenant_may_not_see_is_404(traffic, client_for, owner, name):
    assert client_for(owner).get(f"{URL}{traffic.logs[name].request_id}/").status_code == 404


def test_mallory_gets_404_for_acmes_own_call_and_sees_her_call_to_acmes_service(traffic, client_for, mallory):
    client = client_for(mallory)
    assert client.get(f"{URL}{traffic.logs['own'].request_id}/").status_code == 404
    response = client.get(f"{URL}{traffic.logs['subscriber'].request_id}/")
    assert response.status_code == 200
    assert "gwk_globexk1" in response.content.decode()  # her own key
    assert "smart" not in response.content.decode()  # acme's route is not hers to see


def test_timeline_segments_fill_the_bar():
    stream = CallLogFactory.build(latency_ms=400, overhead_ms=20, upstream_ms=380, stream=True, ttft_ms=100)
    segments, markers = call_timeline(stream)
    assert [(s.label, s.ms) for s in segments] == [
        ("Gateway overhead", 20),
        ("Upstream wait", 80),
        ("Streaming to the client", 300),
    ]
    assert sum(s.width_pct for s in segments) == pytest.approx(100)
    assert [(m.label, m.offset_pct) for m in markers] == [("Received", 0), ("First token", 25), ("Done", 100)]
    empty, _ = call_timeline(CallLogFactory.build(latency_ms=0, overhead_ms=0, upstream_ms=0))
    assert all(s.width_pct == 0 for s in empty)


def test_cursor_tokens_round_trip():
    cursor = Cursor(created_at=datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC), id=42)
    assert Cursor.parse(cursor.token()) == cursor
    for token in ("", "1_", "_1", "a_1", "1-1", "²_1", f"1_{2**63}", f"{10**30}_1"):
        with pytest.raises(ValueError, match="not a page cursor"):
            Cursor.parse(token)


def _csv(response) -> list[dict]:
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_csv_has_the_explorers_calls_with_its_filters(traffic, client_for, owner):
    rows = _csv(client_for(owner).get("/analytics/logs.csv", {"model": "gpt-a"}))
    assert [row["request_id"] for row in rows] == [traffic.logs[n].request_id for n in ("subscriber", "own")]
    subscriber = rows[0]
    assert (subscriber["app"], subscriber["key_prefix"], subscriber["service"]) == (
        "Globex bot (Globex)",
        "",
        "Summarize",
    )
    assert rows[1]["key_prefix"] == "gwk_ownkey12"


def test_the_csv_is_capped_with_a_note(traffic, client_for, owner, monkeypatch):
    monkeypatch.setattr(export, "MAX_ROWS", 2)
    response = client_for(owner).get("/analytics/logs.csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 1 + 2 + 1
    assert lines[-1].startswith("# Only the first 2 rows")


def test_the_csv_defuses_spreadsheet_formulas(tenant, client_for, owner):
    CallLogFactory(tenant_id=tenant.pk, model="=HYPERLINK(1)", error_type="@evil")
    row = _csv(client_for(owner).get("/analytics/logs.csv"))[0]
    assert (row["model"], row["error_type"]) == ("'=HYPERLINK(1)", "'@evil")


def test_the_csv_refuses_bad_filters(traffic, client_for, owner):
    response = client_for(owner).get("/analytics/logs.csv", {"status_class": "1xx"})
    assert response.status_code == 400
    assert response.content.decode().startswith("status_class: ")


def test_a_semantic_cache_embedding_is_listed_next_to_its_call_and_has_its_own_page(tenant, client_for, owner):
    call = CallLogFactory(tenant_id=tenant.pk, request_id="req_" + "a" * 32, route="smart")
    embedding = CallLogFactory(
        tenant_id=tenant.pk, request_id=f"{call.request_id}.semantic", endpoint="semantic_cache", route="embed"
    )
    web = client_for(owner)
    page = web.get(f"{URL}{embedding.request_id}/")
    assert page.status_code == 200
    assert "semantic_cache" in page.content.decode()
    assert request_ids(web.get(URL)) == [embedding.request_id, call.request_id]
