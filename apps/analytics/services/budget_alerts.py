"""Soft budget thresholds: every minute (the `analytics.budget_alerts_evaluate` beat task), each budget with an
alert percent (apps/analytics/selectors/budgets.py) whose spend in its current day or month (UTC), read from the
call log, reached that percent raises an alert — once per budget and period — through the tenant's budget rules
(AlertRule of metric "budget": who is e-mailed, which webhook is called; owners and admins are told in the app).
The alert resolves when its period ends, or when the budget stops being watched.

A tenant with a budget to alert about and no budget rule gets one, "Budget alerts", sent to its owners and admins:
a budget's alert percent is a request to be told. Admins add a webhook or other recipients to it, or disable it.

Queries per evaluation, however many budgets: two for the budgets, one aggregate over the call log for their
spend, one for the tenants' budget rules, one for the alerts already raised this period, one for the open ones;
then one write per alert raised or resolved (and one rule created per tenant, the first time)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from apps.access.selectors.limit_usage import METRIC_PERIODS, Reading, period_bounds
from apps.analytics.models import Alert, AlertMetric, AlertRule
from apps.analytics.selectors.budgets import WatchedBudget, budgets_watched
from apps.analytics.selectors.limit_usage import call_log_limit_usage
from apps.analytics.services.alerts import alert_fire, alert_resolve, alert_rule_create
from apps.core.errors import ConflictError
from apps.tenants.models import Tenant

DEFAULT_RULE_NAME = "Budget alerts"
PERIOD_WORDS = {"day": "today (UTC)", "month": "this month (UTC)"}
PERCENT = Decimal("0.01")


def _crossed(budget: WatchedBudget, reading: Reading | None) -> bool:
    # A budget of $0 refuses every call; spending nothing against it is no news.
    return reading is not None and reading.used > 0 and reading.used * 100 >= budget.limit * budget.alert_percent


def _message(budget: WatchedBudget, reading: Reading) -> str:
    period = PERIOD_WORDS[METRIC_PERIODS[budget.metric]]
    return (
        f"Budget of {budget.name}: spent ${reading.used:,.2f} of ${budget.limit:,.2f} {period} "
        f"({reading.percent:.0f} %), past its {budget.alert_percent} % alert."
    )


def _in_scope(rule: AlertRule, budget: WatchedBudget) -> bool:
    """A rule narrowed to a service hears about the plan budgets of that service's subscriptions only."""
    return not rule.service_id or rule.service_id == budget.service_id


def _rules_by_tenant(tenant_ids: set[int]) -> dict[int, list[AlertRule]]:
    """The budget rules of these tenants (disabled ones too: a tenant that turned its rule off chose silence),
    creating the default rule for a tenant that has none."""
    rules: dict[int, list[AlertRule]] = defaultdict(list)
    for rule in AlertRule.objects.filter(tenant_id__in=tenant_ids, metric=AlertMetric.BUDGET).select_related("tenant"):
        rules[rule.tenant_id].append(rule)
    for tenant in Tenant.objects.filter(pk__in=tenant_ids - rules.keys()):
        for name in (DEFAULT_RULE_NAME, f"{DEFAULT_RULE_NAME} (automatic)"):
            try:
                rule, _ = alert_rule_create(
                    tenant=tenant, actor_membership=None, name=name, metric=AlertMetric.BUDGET, threshold=Decimal(0)
                )
            except ConflictError:  # a rule of another kind holds the name
                continue
            rules[tenant.pk].append(rule)
            break
    return rules


def _period_over(subject: str, now: datetime) -> bool:
    """Whether the period an alert's subject names ("app:4:budget_per_day:2026-12-04") has ended by `now`."""
    metric, day = subject.rsplit(":", 2)[1:]
    start, _ = period_bounds(METRIC_PERIODS[metric], now)
    return day != f"{start:%Y-%m-%d}"


def _resolve_stale(current: set[str], now: datetime) -> int:
    resolved = 0
    open_alerts = Alert.objects.filter(rule__metric=AlertMetric.BUDGET, resolved_at__isnull=True).select_related(
        "rule__tenant"
    )
    for alert in open_alerts:
        if alert.subject in current:
            continue
        if _period_over(alert.subject, now):
            period = METRIC_PERIODS[alert.subject.rsplit(":", 2)[1]]
            resolution = f"the {period} ended (UTC): the budget counts from zero again"
        else:
            resolution = "the budget was removed, its alert turned off, or its subscription ended"
        resolved += alert_resolve(alert=alert, value=None, now=now, resolution=resolution)
    return resolved


def budget_alerts_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    """Raise the alerts of the budgets that reached their alert percent this period, resolve those whose period
    ended; returns how many budgets were watched and alerts fired and resolved."""
    now = now or timezone.now()
    budgets = budgets_watched(now=now)
    scopes: dict = defaultdict(dict)
    for budget in budgets:
        scopes[budget.scope][budget.metric] = budget.limit
    spend = call_log_limit_usage(scopes=scopes, now=now)
    crossed = [
        (budget, reading)
        for budget in budgets
        if _crossed(budget, reading := spend.get((budget.scope.kind, budget.scope.scope_id), {}).get(budget.metric))
    ]
    summary = Counter(budgets=len(budgets))
    if crossed:
        rules = _rules_by_tenant({budget.tenant_id for budget, _ in crossed})
        subjects = {budget.subject(now) for budget, _ in crossed}
        raised = set(
            Alert.objects.filter(subject__in=subjects, rule__metric=AlertMetric.BUDGET).values_list(
                "rule_id", "subject"
            )
        )
        for budget, reading in crossed:
            subject = budget.subject(now)
            for rule in rules.get(budget.tenant_id, []):
                if not rule.enabled or not _in_scope(rule, budget) or (rule.pk, subject) in raised:
                    continue
                value = Decimal(reading.percent).quantize(PERCENT)
                fired = alert_fire(rule=rule, value=value, now=now, subject=subject, message=_message(budget, reading))
                summary["fired" if fired else "already_fired"] += 1
    summary["resolved"] = _resolve_stale({budget.subject(now) for budget in budgets}, now)
    return dict(summary)
