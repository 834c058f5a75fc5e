"""Reads of alert rules, their incidents and deliveries, always within one tenant."""

from __future__ import annotations

from django.db.models import Case, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value, When
from django.http import Http404

from apps.analytics.models import Alert, AlertDelivery, AlertRule
from apps.tenants.models import Tenant


class AlertState:
    FIRING = "firing"
    RESOLVED = "resolved"
    CHOICES = [(FIRING, "Firing"), (RESOLVED, "Resolved")]


def alert_rule_list(*, tenant: Tenant) -> QuerySet[AlertRule]:
    """The tenant's rules, each with `firing_since`: when its open alert fired (None: not firing)."""
    open_alert = Alert.objects.filter(rule=OuterRef("pk"), resolved_at__isnull=True).values("fired_at")[:1]
    return (
        AlertRule.objects.for_tenant(tenant)
        .select_related("service", "created_by")
        .annotate(firing_since=Subquery(open_alert))
        .order_by("name", "id")
    )


def alert_rule_get(*, tenant: Tenant, pk: int | str) -> AlertRule:
    rule = alert_rule_list(tenant=tenant).filter(pk=pk).first() if str(pk).isdigit() else None
    if rule is None:
        raise Http404("No such alert rule.")
    return rule


def alert_list(*, tenant: Tenant, state: str | None = None, rule: AlertRule | None = None) -> QuerySet[Alert]:
    """The tenant's alerts, firing ones first, then the most recent; `state` keeps only firing or resolved ones."""
    alerts = Alert.objects.filter(tenant=tenant).select_related("rule", "tenant")
    if rule is not None:
        alerts = alerts.filter(rule=rule)
    if state == AlertState.FIRING:
        alerts = alerts.filter(resolved_at__isnull=True)
    elif state == AlertState.RESOLVED:
        alerts = alerts.filter(resolved_at__isnull=False)
    firing_first = Case(When(resolved_at__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField())
    return alerts.order_by(firing_first, "-fired_at", "-id")


def alert_list_with_deliveries(*, tenant: Tenant, rule: AlertRule) -> QuerySet[Alert]:
    """A rule's incidents, each with its deliveries (oldest first, the order they were sent in)."""
    deliveries = AlertDelivery.objects.order_by("created_at", "id")
    return alert_list(tenant=tenant, rule=rule).prefetch_related(Prefetch("deliveries", queryset=deliveries))


def alert_get(*, tenant: Tenant, pk: int | str) -> Alert:
    deliveries = AlertDelivery.objects.order_by("created_at", "id")
    alerts = alert_list(tenant=tenant).prefetch_related(Prefetch("deliveries", queryset=deliveries))
    alert = alerts.filter(pk=pk).first() if str(pk).isdigit() else None
    if alert is None:
        raise Http404("No such alert.")
    return alert
