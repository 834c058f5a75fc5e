"""Evaluating alert rules: each metric fires above its threshold and not at or under it, once per incident, and
resolves once; min_calls, windows, scopes and the UTC day are respected; a concurrent second fire is refused."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.analytics.models import Alert, AlertDelivery, AlertMetric, AlertRule, CallLog
from apps.analytics.services import alerts as alert_services
from apps.analytics.services.alerts import alert_fire, alert_rule_update, alerts_evaluate
from apps.analytics.tasks import alerts_evaluate_task
from tests.clock import days_ago_at
from tests.factories import AlertRuleFactory, CallRollupFactory, ServiceFactory, TenantFactory

pytestmark = pytest.mark.django_db

NOW = days_ago_at(2, 12, 30, 20)
MINUTE = timedelta(minutes=1)


def minute(at: datetime, ago: int = 0) -> datetime:
    """The start of the minute bucket `ago` minutes before `at`."""
    return at.replace(second=0, microsecond=0) - ago * MINUTE


def calls(tenant, *, at: datetime = NOW, ago: int = 0, count: int = 20, errors: int = 0, **fields):
    """`count` calls of `tenant` in one minute bucket, `errors` of them answered 5xx, all at 90 ms by default."""
    latencies = fields.pop("latencies", [90.0] * count)
    return CallRollupFactory(
        tenant_id=tenant.pk, bucket=minute(at, ago), latencies=latencies, errors=errors, server_errors=errors, **fields
    )


def breaker_opened(tenant, *, at: datetime, **fields) -> CallLog:
    """A failed call of `tenant` at `at` that opened the circuit breaker of deployment 7."""
    return CallLog.objects.create(
        request_id=f"req_{at.timestamp()}_{fields.get('model', '')}",
        created_at=at,
        endpoint="chat",
        tenant_id=tenant.pk,
        status=502,
        latency_ms=30.0,
        breaker_opened_id=7,
        **fields,
    )


def evaluate(at: datetime = NOW) -> dict[str, int]:
    return alerts_evaluate(now=at)


@pytest.fixture
def now():
    """The current minute (plus 20 s): call-log rows need a partition, made for the days around today."""
    return timezone.now().astimezone(UTC).replace(second=20, microsecond=0)


@pytest.fixture
def traffic(tenant, now):
    """In the last 5 minutes: 20 calls, 2 of them 5xx (10 %), p95 under 100 ms, 1.50 USD; one breaker opened."""
    calls(tenant, at=now, count=20, errors=2, cost=Decimal("1.5"), ago=1)
    breaker_opened(tenant, at=now - MINUTE)
    return now


@pytest.mark.parametrize(
    ("metric", "threshold", "fires"),
    [
        (AlertMetric.ERROR_RATE, "5", True),
        (AlertMetric.ERROR_RATE, "10", False),  # at the threshold is not above it
        (AlertMetric.ERROR_RATE, "15", False),
        (AlertMetric.P95_LATENCY, "50", True),
        (AlertMetric.P95_LATENCY, "100", False),
        (AlertMetric.DAILY_SPEND, "1", True),
        (AlertMetric.DAILY_SPEND, "1.5", False),
        (AlertMetric.BREAKER_OPEN, "0", True),
        (AlertMetric.BREAKER_OPEN, "1", False),
    ],
)
def test_each_metric_fires_above_its_threshold_and_not_at_or_under_it(tenant, traffic, metric, threshold, fires):
    rule = AlertRuleFactory(tenant=tenant, metric=metric, threshold=Decimal(threshold))
    summary = evaluate(traffic)
    assert summary.get("fired", 0) == int(fires)
    assert Alert.objects.filter(rule=rule).exists() is fires


def test_the_values_are_the_metrics_in_their_units(tenant, traffic):
    rules = {
        metric: AlertRuleFactory(tenant=tenant, metric=metric, threshold=Decimal(0), name=metric)
        for metric in AlertMetric.values
        if metric != AlertMetric.BUDGET  # budget rules: tests/analytics/test_budget_alerts.py
    }
    evaluate(traffic)
    values = {metric: Alert.objects.get(rule=rule).value for metric, rule in rules.items()}
    assert values[AlertMetric.ERROR_RATE] == Decimal(10)
    assert Decimal(75) < values[AlertMetric.P95_LATENCY] <= Decimal(100)  # within the 75-100 ms histogram bucket
    assert values[AlertMetric.DAILY_SPEND] == Decimal("1.5")
    assert values[AlertMetric.BREAKER_OPEN] == Decimal(1)
    assert Alert.objects.get(rule=rules[AlertMetric.ERROR_RATE]).message == (
        "Error rate above 0 % over 5 min (all calls): now 10 %."
    )


def test_a_rule_fires_once_while_its_condition_holds_and_resolves_once(tenant):
    rule = AlertRuleFactory(tenant=tenant, threshold=Decimal(5))
    calls(tenant, count=20, errors=10, ago=1)
    assert evaluate()["fired"] == 1
    calls(tenant, count=20, errors=2, ago=0)  # 12 of 40: still above 5 %
    for _ in range(3):
        summary = evaluate()
        assert summary.get("fired", 0) == 0
        assert summary["still_firing"] == 1
    alert = Alert.objects.get(rule=rule)
    assert alert.is_firing
    assert (alert.value, alert.last_value) == (Decimal(50), Decimal(30))
    deliveries = AlertDelivery.objects.filter(alert=alert).count()

    later = NOW + 6 * MINUTE  # the window has moved past the errors, and nothing else came in
    assert evaluate(later)["resolved"] == 1
    assert evaluate(later).get("resolved", 0) == 0
    alert.refresh_from_db()
    assert alert.resolved_at == later
    assert alert.resolution == "fewer than 10 calls in the last 5 min to judge"
    assert Alert.objects.filter(rule=rule).count() == 1
    assert AlertDelivery.objects.filter(alert=alert, event="fired").count() == deliveries
    assert AlertDelivery.objects.filter(alert=alert, event="resolved").count() == deliveries


def test_a_new_incident_after_resolution_is_a_new_alert(tenant):
    rule = AlertRuleFactory(tenant=tenant)
    calls(tenant, count=20, errors=10)
    evaluate()
    calls(tenant, at=NOW + 10 * MINUTE, count=20, errors=0)
    evaluate(NOW + 10 * MINUTE)
    calls(tenant, at=NOW + 20 * MINUTE, count=20, errors=20)
    evaluate(NOW + 20 * MINUTE)
    alerts = list(Alert.objects.filter(rule=rule).order_by("fired_at"))
    assert [alert.is_firing for alert in alerts] == [False, True]
    assert alerts[0].resolution == "now 0 %, not above 5 %"


@pytest.mark.parametrize(("count", "fires"), [(9, False), (10, True)])
def test_error_rate_and_latency_need_min_calls_in_the_window(tenant, count, fires):
    errors = AlertRuleFactory(tenant=tenant, metric=AlertMetric.ERROR_RATE, threshold=Decimal(5), min_calls=10)
    slow = AlertRuleFactory(tenant=tenant, metric=AlertMetric.P95_LATENCY, threshold=Decimal(10), min_calls=10)
    calls(tenant, count=count, errors=count)
    evaluate()
    assert Alert.objects.filter(rule=errors).exists() is fires
    assert Alert.objects.filter(rule=slow).exists() is fires


def test_only_calls_inside_the_window_count(tenant):
    rule = AlertRuleFactory(tenant=tenant, window_minutes=5, min_calls=1)
    calls(tenant, ago=5, count=20, errors=20)  # 12:25: five minutes back is out of a 5-minute window
    calls(tenant, ago=4, count=20, errors=0)  # 12:26 to 12:30 are in
    evaluate()
    assert not Alert.objects.filter(rule=rule).exists()
    AlertRule.objects.filter(pk=rule.pk).update(window_minutes=6)
    evaluate()
    assert Alert.objects.get(rule=rule).value == Decimal(50)


def test_other_tenants_traffic_does_not_count(tenant, other_tenant):
    rule = AlertRuleFactory(tenant=tenant)
    calls(other_tenant, count=20, errors=20)
    calls(tenant, count=20, errors=0)
    evaluate()
    assert not Alert.objects.filter(rule=rule).exists()


def test_a_scoped_rule_counts_only_its_service_and_model(tenant):
    service = ServiceFactory(tenant=tenant)
    scoped = AlertRuleFactory(tenant=tenant, service=service, model="gpt-4o")
    calls(tenant, count=20, errors=20, service_id=service.pk, model="other-model")
    calls(tenant, count=20, errors=20, model="gpt-4o")  # no service
    evaluate()
    assert not Alert.objects.filter(rule=scoped).exists()
    calls(tenant, count=20, errors=20, service_id=service.pk, model="gpt-4o")
    evaluate()
    assert Alert.objects.get(rule=scoped).value == Decimal(100)
    assert "(service " in Alert.objects.get(rule=scoped).message


def test_latency_rules_with_and_without_a_scope_each_read_their_own_calls(tenant):
    service = ServiceFactory(tenant=tenant)
    everything = AlertRuleFactory(tenant=tenant, metric=AlertMetric.P95_LATENCY, threshold=Decimal(1000))
    scoped = AlertRuleFactory(tenant=tenant, metric=AlertMetric.P95_LATENCY, threshold=Decimal(1000), service=service)
    calls(tenant, count=20, service_id=service.pk, latencies=[90.0] * 20)
    calls(tenant, count=20, model="slow-model", latencies=[5000.0] * 20)
    evaluate()
    assert Alert.objects.get(rule=everything).value > Decimal(1000)
    assert not Alert.objects.filter(rule=scoped).exists()


def test_daily_spend_counts_from_midnight_utc_and_resets_then(tenant):
    rule = AlertRuleFactory(tenant=tenant, metric=AlertMetric.DAILY_SPEND, threshold=Decimal(1), window_minutes=5)
    midnight = days_ago_at(1, 0)
    calls(tenant, at=midnight - 3 * timedelta(hours=1), cost=Decimal("0.8"))  # 21:00, outside any 5-minute window
    calls(tenant, at=midnight - 10 * MINUTE, cost=Decimal("0.3"))
    assert evaluate(midnight - 2 * MINUTE)["fired"] == 1
    assert Alert.objects.get(rule=rule).value == Decimal("1.1")

    assert evaluate(midnight + MINUTE)["resolved"] == 1
    calls(tenant, at=midnight, cost=Decimal("0.9"))  # the 00:00 bucket belongs to the new day
    assert evaluate(midnight + 2 * MINUTE).get("fired", 0) == 0
    calls(tenant, at=midnight + 2 * MINUTE, cost=Decimal("0.2"))
    assert evaluate(midnight + 3 * MINUTE)["fired"] == 1
    assert Alert.objects.filter(rule=rule, resolved_at__isnull=True).get().value == Decimal("1.1")


def test_breaker_rule_looks_at_its_window_and_scope(tenant, now):
    rule = AlertRuleFactory(tenant=tenant, metric=AlertMetric.BREAKER_OPEN, threshold=Decimal(0), window_minutes=5)
    scoped = AlertRuleFactory(tenant=tenant, metric=AlertMetric.BREAKER_OPEN, threshold=Decimal(0), model="gpt-4o")
    breaker_opened(tenant, at=now - 5 * MINUTE, model="llama")  # exactly 5 minutes back: out
    assert evaluate(now).get("fired", 0) == 0
    breaker_opened(tenant, at=now - 4 * MINUTE, model="llama")
    assert evaluate(now)["fired"] == 1
    assert Alert.objects.filter(rule=rule).exists()
    assert not Alert.objects.filter(rule=scoped).exists()
    assert evaluate(now + 5 * MINUTE)["resolved"] == 1


def test_a_second_fire_of_an_open_rule_is_refused_by_the_database(tenant):
    """What two evaluations running at once would do: both find no open alert, both try to open one."""
    rule = AlertRuleFactory(tenant=tenant, webhook_url="https://hooks.example.com/x")
    assert alert_fire(rule=rule, value=Decimal(50), now=NOW) is not None
    assert alert_fire(rule=rule, value=Decimal(60), now=NOW) is None
    assert Alert.objects.filter(rule=rule).count() == 1
    assert AlertDelivery.objects.filter(alert__rule=rule, channel="webhook").count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(rule=rule, tenant=tenant, fired_at=NOW, value=Decimal(1), message="twice")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent transactions (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_two_evaluations_at_once_fire_one_alert(monkeypatch):
    """Both find no open alert, and both try to open one: a barrier holds each just before its insert until the
    other is there too."""
    tenant = TenantFactory()
    rule = AlertRuleFactory(tenant=tenant, email_recipients=["oncall@example.com"])
    calls(tenant, count=20, errors=20)
    barrier = threading.Barrier(2, timeout=10)
    fire = alert_services.alert_fire

    def fire_when_both_are_here(**kwargs):
        barrier.wait()
        return fire(**kwargs)

    monkeypatch.setattr(alert_services, "alert_fire", fire_when_both_are_here)

    def evaluate_in_thread(results: list) -> None:
        try:
            results.append(evaluate())
        finally:
            connections.close_all()

    results: list[dict[str, int]] = []
    threads = [threading.Thread(target=evaluate_in_thread, args=(results,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(result.get("fired", 0) for result in results) == [0, 1]
    assert sorted(result.get("already_fired", 0) for result in results) == [0, 1]
    assert Alert.objects.filter(rule=rule).count() == 1
    assert AlertDelivery.objects.filter(alert__rule=rule).count() == 1


def test_disabled_rules_are_not_evaluated_and_disabling_resolves_the_open_alert(tenant):
    rule = AlertRuleFactory(tenant=tenant)
    calls(tenant, count=20, errors=20)
    evaluate()
    alert_rule_update(rule=rule, actor_membership=None, data={"enabled": False})
    alert = Alert.objects.get(rule=rule)
    assert not alert.is_firing
    assert alert.resolution == "the rule was disabled"
    assert evaluate() == {"rules": 0, "still_firing": 0}
    assert Alert.objects.filter(rule=rule).count() == 1


def test_evaluation_queries_do_not_grow_with_the_number_of_rules(tenant, other_tenant):
    def queries_for(rules_per_metric: int) -> int:
        AlertRule.objects.all().delete()
        for target in (tenant, other_tenant):
            for metric in AlertMetric.values:
                for _ in range(rules_per_metric):
                    AlertRuleFactory(tenant=target, metric=metric, threshold=Decimal(10**6), min_calls=1)
        with CaptureQueriesContext(connection) as captured:
            evaluate()
        return len(captured)

    calls(tenant, count=20, errors=1)
    calls(other_tenant, count=20, errors=1)
    assert queries_for(1) == queries_for(5)
    # rules, per tenant its sums and its histograms, the breakers, open alerts
    assert queries_for(5) <= 1 + 2 * 2 + 1 + 1


def test_the_beat_task_evaluates_every_enabled_rule(tenant):
    AlertRuleFactory(tenant=tenant, metric=AlertMetric.DAILY_SPEND, threshold=Decimal(0))
    CallRollupFactory(tenant_id=TenantFactory().pk, bucket=minute(timezone.now()), cost=Decimal(1))
    calls(tenant, at=timezone.now(), cost=Decimal(1))
    summary = alerts_evaluate_task.delay().get()
    assert summary["rules"] == 1
    assert summary["fired"] == 1
