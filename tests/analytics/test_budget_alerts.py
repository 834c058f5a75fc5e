"""Soft budget thresholds: a budget (a plan's, a limit set's) whose spend today or this month reached its alert
percent raises one alert per period through the tenant's budget rules — in-app, e-mail, signed webhook — and the
alert resolves when the period ends. Spend is read from calls recorded through the analytics service. Globex's
globex-bot is subscribed to Acme's translate; the clock is the 15th of the current month (never a pinned date)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.access.models import LimitSet, SubscriptionStatus
from apps.analytics.models import Alert, AlertDelivery, AlertMetric, AlertRule
from apps.analytics.services.alerts import alert_rule_update, alerts_evaluate
from apps.analytics.services.budget_alerts import budget_alerts_evaluate
from apps.analytics.tasks import budget_alerts_evaluate_task
from apps.core.models import Notification
from tests.access.usage_fixtures import NOW, record_calls
from tests.factories import AlertRuleFactory, AppFactory, PlanFactory, ServiceFactory, SubscriptionFactory
from tests.fakes.webhook_receiver import WebhookReceiver, signature_valid
from tests.gateway.policies.conftest import wait_for_room

pytestmark = pytest.mark.django_db

SECRET = "whsec_test-secret-0123456789"  # AlertRuleFactory's
TOMORROW = NOW + timedelta(days=1)


@pytest.fixture(autouse=True)
def _keep_the_calls(settings):
    settings.ANALYTICS_LOG_RETENTION_DAYS = 3650  # NOW may be up to 16 days back


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def subscribed(tenant, route, other_app):
    """globex-bot on translate's Metered plan: $10 a day, alert at 80 %."""
    service = ServiceFactory(tenant=tenant, route=route, slug="translate", name="Translate")
    plan = PlanFactory(
        service=service, slug="metered", name="Metered", daily_budget=Decimal(10), budget_alert_percent=80
    )
    return SubscriptionFactory(app=other_app, plan=plan, service=service, status=SubscriptionStatus.APPROVED)


@pytest.fixture
def budget_rule(other_tenant, receiver):
    return AlertRuleFactory(
        tenant=other_tenant, name="Spend", metric=AlertMetric.BUDGET, threshold=0, webhook_url=receiver.url
    )


def spend(subscription, cost: str, *, at=NOW, count: int = 1) -> None:
    app = subscription.app
    each = str(Decimal(cost) / count)
    record_calls(count, at=at, cost=each, tenant_id=app.tenant_id, app_id=app.pk, service_id=subscription.service_id)


@pytest.fixture
def evaluate(django_capture_on_commit_callbacks):
    """Evaluate at a moment, sending the notifications it queued (as the worker would)."""

    def run(at=NOW):
        with django_capture_on_commit_callbacks(execute=True):
            return budget_alerts_evaluate(now=at)

    return run


def test_a_budget_past_its_alert_percent_fires_once_in_the_app_and_to_the_signed_webhook(
    subscribed, budget_rule, receiver, evaluate, mallory
):
    spend(subscribed, "7.90", at=NOW - timedelta(hours=3), count=2)
    assert evaluate()["budgets"] == 1
    assert not Alert.objects.exists()  # 79 %: not yet

    spend(subscribed, "0.20")
    assert evaluate()["fired"] == 1
    alert = Alert.objects.get()
    assert (alert.rule, alert.value) == (budget_rule, Decimal("81.00"))
    assert alert.subject == f"subscription:{subscribed.pk}:budget_per_day:{NOW:%Y-%m-%d}"
    message = "Budget of plan Metered of translate for app globex-bot: spent $8.10 of $10.00 today (UTC) (81 %), "
    assert alert.message == message + "past its 80 % alert."
    notification = Notification.objects.get(user=mallory)
    assert (notification.subject, notification.body) == ("[Globex] FIRED: Spend", alert.message)
    request = receiver.requests[-1]
    assert signature_valid(secret=SECRET, header=request.headers["X-Gateway-Signature"], body=request.body)
    payload = json.loads(request.body)
    assert (payload["event"], payload["alert"]["metric"], payload["alert"]["message"]) == (
        "fired",
        "budget",
        alert.message,
    )
    alert_fields = (payload["alert"]["value"], payload["alert"]["unit"], payload["alert"]["threshold"])
    assert alert_fields == (81.0, "%", None)  # each budget's own percent, in the message

    spend(subscribed, "1.00")  # more spend the same day: no second alert
    assert evaluate().get("fired", 0) == 0
    assert Alert.objects.count() == 1
    assert len(receiver.requests) == 1


def test_the_alert_resolves_when_the_period_rolls_over_and_a_new_period_can_fire_again(
    subscribed, budget_rule, receiver, evaluate
):
    spend(subscribed, "9.00")
    evaluate()
    assert evaluate(TOMORROW.replace(hour=0, minute=0, second=30))["resolved"] == 1
    alert = Alert.objects.get()
    assert alert.resolution == "the day ended (UTC): the budget counts from zero again"
    assert [json.loads(r.body)["event"] for r in receiver.requests] == ["fired", "resolved"]

    spend(subscribed, "8.50", at=TOMORROW)
    assert evaluate(TOMORROW)["fired"] == 1
    assert Alert.objects.filter(resolved_at__isnull=True).get().subject.endswith(f"{TOMORROW:%Y-%m-%d}")


def test_limit_set_budgets_alert_per_month_for_the_tenant_app_and_key(other_tenant, other_app, budget_rule, evaluate):
    LimitSet.objects.create(tenant=other_tenant, budget_per_month=Decimal(100), budget_alert_percent=50)
    LimitSet.objects.create(tenant=other_tenant, app=other_app, budget_per_day=Decimal(5), budget_alert_percent=90)
    month_start = NOW.replace(day=1, hour=1)
    record_calls(3, at=month_start, cost="20", tenant_id=other_tenant.pk, app_id=AppFactory(tenant=other_tenant).pk)
    record_calls(1, at=NOW, cost="4", tenant_id=other_tenant.pk, app_id=other_app.pk)  # 80 % of the app's day
    evaluate()
    alert = Alert.objects.get()
    assert alert.subject == f"tenant:{other_tenant.pk}:budget_per_month:{month_start:%Y-%m-%d}"
    assert alert.message.startswith("Budget of tenant globex: spent $64.00 of $100.00 this month (UTC) (64 %)")


def test_a_tenant_without_a_budget_rule_gets_one_that_tells_its_owners_and_admins(
    subscribed, evaluate, mallory, mailoutbox
):
    spend(subscribed, "8.00")
    evaluate()
    rule = AlertRule.objects.get(metric=AlertMetric.BUDGET)
    assert (rule.tenant, rule.name, rule.webhook_url, rule.enabled) == (
        subscribed.app.tenant,
        "Budget alerts",
        "",
        True,
    )
    assert Notification.objects.filter(user=mallory, subject="[Globex] FIRED: Budget alerts").count() == 1
    assert [mail.to for mail in mailoutbox] == [[mallory.email]]
    assert AlertDelivery.objects.get().status == "sent"


def test_a_disabled_budget_rule_keeps_the_tenant_silent(subscribed, budget_rule, receiver, evaluate):
    budget_rule.enabled = False
    budget_rule.save()
    spend(subscribed, "9.50")
    evaluate()
    assert not Alert.objects.exists()
    assert AlertRule.objects.filter(metric=AlertMetric.BUDGET).count() == 1  # no default rule either
    assert receiver.requests == []


def test_a_rule_for_one_service_hears_only_of_its_plan_budgets(subscribed, budget_rule, other_tenant, evaluate):
    budget_rule.service = ServiceFactory(tenant=other_tenant, slug="other")
    budget_rule.save()
    spend(subscribed, "9.00")
    evaluate()
    assert not Alert.objects.exists()


def test_budgets_of_nothing_or_without_spend_never_alert(tenant, route, other_app, budget_rule, evaluate):
    service = ServiceFactory(tenant=tenant, route=route, slug="free")
    zero = PlanFactory(service=service, monthly_budget=Decimal(0), budget_alert_percent=1)
    SubscriptionFactory(app=other_app, plan=zero, service=service, status=SubscriptionStatus.APPROVED)
    assert evaluate() == {"budgets": 1, "resolved": 0}
    assert not Alert.objects.exists()


def test_an_ended_subscription_resolves_its_alert(subscribed, budget_rule, evaluate):
    spend(subscribed, "9.00")
    evaluate()
    subscribed.status = SubscriptionStatus.REVOKED
    subscribed.save()
    assert evaluate(NOW + timedelta(minutes=1))["resolved"] == 1
    assert "its subscription ended" in Alert.objects.get().resolution


def test_the_metric_rules_evaluation_leaves_budget_alerts_alone(subscribed, budget_rule, evaluate):
    spend(subscribed, "9.00")
    evaluate()
    alerts_evaluate(now=NOW + timedelta(minutes=1))
    assert Alert.objects.get().resolved_at is None


def test_the_evaluation_reads_with_a_constant_number_of_queries(other_tenant, tenant, route, budget_rule, evaluate):
    def budgets(count: int) -> int:
        for _ in range(count):
            app = AppFactory(tenant=other_tenant)
            LimitSet.objects.create(tenant=other_tenant, app=app, budget_per_day=Decimal(1), budget_alert_percent=50)
            service = ServiceFactory(tenant=tenant, route=route)
            plan = PlanFactory(
                service=service, daily_budget=Decimal(1), monthly_budget=Decimal(9), budget_alert_percent=50
            )
            SubscriptionFactory(app=app, plan=plan, service=service, status=SubscriptionStatus.APPROVED)
            record_calls(1, at=NOW, cost="0.75", tenant_id=other_tenant.pk, app_id=app.pk, service_id=service.pk)
        evaluate()  # raises what crossed; the next evaluations only read
        with CaptureQueriesContext(connection) as queries:
            evaluate(NOW + timedelta(seconds=20))
        return len(queries)

    assert budgets(1) == budgets(5)
    assert Alert.objects.count() == 12  # each app's and each plan's daily budget (75 %), once; monthly: 8 %


def test_the_beat_task_raises_the_alert_once_at_the_current_time(
    subscribed, budget_rule, receiver, django_capture_on_commit_callbacks
):
    wait_for_room("day", 10)  # the spend and the evaluations in one UTC day
    spend(subscribed, "9.00", at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert budget_alerts_evaluate_task.apply().get() == {"budgets": 1, "fired": 1, "resolved": 0}
        assert budget_alerts_evaluate_task.apply().get() == {"budgets": 1, "resolved": 0}
    assert [json.loads(r.body)["event"] for r in receiver.requests] == ["fired"]


def test_disabling_the_budget_rule_resolves_every_alert_it_has_open(
    subscribed, budget_rule, other_tenant, other_app, evaluate
):
    LimitSet.objects.create(tenant=other_tenant, app=other_app, budget_per_day=Decimal(5), budget_alert_percent=50)
    spend(subscribed, "9.00", at=NOW - timedelta(minutes=5))
    evaluate()
    assert Alert.objects.filter(rule=budget_rule, resolved_at__isnull=True).count() == 2  # the plan's and the app's
    alert_rule_update(rule=budget_rule, actor_membership=None, data={"enabled": False})
    assert not Alert.objects.filter(resolved_at__isnull=True).exists()
    assert set(Alert.objects.values_list("resolution", flat=True)) == {"the rule was disabled"}
