"""Alert rules (owners and admins manage them) and their evaluation, every minute, by the beat task.

An evaluation compares each enabled rule's metric (apps/analytics/selectors/alert_metrics.py) with its threshold:
a rule whose condition turned true fires an Alert and notifies once; while it stays true, later evaluations only
update the alert's last value; when it turns false (or the window has too few calls to judge), the alert is
resolved and that is notified once too. The database allows one open alert per rule, so evaluations running
at once cannot fire twice."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from apps.analytics.models import Alert, AlertEvent, AlertMetric, AlertRule
from apps.analytics.selectors.alert_metrics import alert_rule_values
from apps.analytics.services.alert_deliveries import alert_deliveries_create
from apps.catalog.models import Service
from apps.core.errors import ApplicationError, ConflictError, NotPermitted
from apps.core.services import audit_record, model_diff
from apps.tenants.models import Membership, Role, Tenant

MAX_EMAIL_RECIPIENTS = 20
WEBHOOK_SECRET_MIN_LENGTH = 16
RULE_FIELDS = {
    "name",
    "metric",
    "threshold",
    "window_minutes",
    "min_calls",
    "service",
    "model",
    "email_recipients",
    "webhook_url",
    "enabled",
}
# Changing these makes the rule measure something else: its open incident ends rather than carry on.
MEASURE_FIELDS = {"metric", "service", "model"}


def _require_admin(membership: Membership | None) -> None:
    # None: a trusted caller (management commands, tests of the evaluation).
    if membership is not None and not membership.has_role(Role.ADMIN):
        raise NotPermitted("Only owners and admins manage alert rules.")


def webhook_secret_generate() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _email_recipients(addresses: list[str] | None) -> list[str]:
    """The addresses, trimmed and each once (case-insensitive); an invalid one is refused by name."""
    cleaned: dict[str, str] = {}
    for address in addresses or []:
        address = str(address).strip()
        try:
            validate_email(address)
        except ValidationError:
            raise ApplicationError(f"“{address[:100]}” is not an e-mail address.", field="email_recipients") from None
        cleaned.setdefault(address.lower(), address)
    if len(cleaned) > MAX_EMAIL_RECIPIENTS:
        raise ApplicationError(f"At most {MAX_EMAIL_RECIPIENTS} addresses.", field="email_recipients")
    return list(cleaned.values())


def _check_service(tenant: Tenant, service: Service | None) -> None:
    # Callers look the service up within the tenant already; this keeps a foreign one out whatever the caller.
    # The same words for a foreign service and a missing one: which services other tenants have does not leak.
    if service is not None and service.tenant_id != tenant.pk:
        raise ApplicationError("No such service in this tenant.", field="service")


@sensitive_variables("secret")
def _set_secret(rule: AlertRule, secret: str) -> None:
    if len(secret) < WEBHOOK_SECRET_MIN_LENGTH:
        raise ApplicationError(
            f"The webhook secret needs at least {WEBHOOK_SECRET_MIN_LENGTH} characters.", field="webhook_secret"
        )
    rule.set_webhook_secret(secret)


def _save(rule: AlertRule) -> None:
    try:
        rule.full_clean(exclude=["tenant", "created_by"], validate_constraints=False)
    except ValidationError as exc:
        name, errors = next(iter(exc.message_dict.items()))
        raise ApplicationError(errors[0], field=name) from None
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise ConflictError(f"An alert rule named “{rule.name}” already exists.", field="name") from None


@sensitive_variables("webhook_secret", "secret")
@transaction.atomic
def alert_rule_create(
    *,
    tenant: Tenant,
    actor_membership: Membership | None,
    name: str,
    metric: str,
    threshold: Decimal,
    window_minutes: int = 5,
    min_calls: int = 10,
    service: Service | None = None,
    model: str = "",
    email_recipients: list[str] | None = None,
    webhook_url: str = "",
    webhook_secret: str = "",
    enabled: bool = True,
) -> tuple[AlertRule, str]:
    """A new rule and its webhook secret (the one given, else a generated one), which is shown this once."""
    _require_admin(actor_membership)
    _check_service(tenant, service)
    rule = AlertRule(
        tenant=tenant,
        name=name,
        metric=metric,
        threshold=threshold,
        window_minutes=window_minutes,
        min_calls=min_calls,
        service=service,
        model=model,
        email_recipients=_email_recipients(email_recipients),
        webhook_url=webhook_url,
        enabled=enabled,
        created_by=actor_membership.user if actor_membership else None,
    )
    secret = webhook_secret or webhook_secret_generate()
    _set_secret(rule, secret)
    _save(rule)
    changes = {name: getattr(rule, name) for name in sorted(RULE_FIELDS)}  # never the secret
    audit_record(action="alert_rule.create", obj=rule, tenant=tenant, changes=changes)
    return rule, secret


@sensitive_variables("data")
@transaction.atomic
def alert_rule_update(*, rule: AlertRule, actor_membership: Membership | None, data: dict[str, Any]) -> AlertRule:
    """Change any of RULE_FIELDS; `webhook_secret`, when given, replaces the secret. Disabling the rule, or making
    it measure something else, resolves its open alert (and says so to whoever was told it fired)."""
    _require_admin(actor_membership)
    if "service" in data:
        _check_service(rule.tenant, data["service"])
    if "email_recipients" in data:
        data = {**data, "email_recipients": _email_recipients(data["email_recipients"])}
    changes = model_diff(rule, {name: value for name, value in data.items() if name in RULE_FIELDS})
    for name, (_, new) in changes.items():
        setattr(rule, name, new)
    if data.get("webhook_secret"):
        _set_secret(rule, data["webhook_secret"])
        changes["webhook_secret"] = ["(replaced)", "(replaced)"]
    if not changes:
        return rule
    _save(rule)
    audit_record(action="alert_rule.update", obj=rule, tenant=rule.tenant, changes=changes)
    if not rule.enabled or MEASURE_FIELDS & changes.keys():
        resolution = "the rule was disabled" if not rule.enabled else "the rule was changed to measure something else"
        for open_alert in rule.alerts.filter(resolved_at__isnull=True):  # a budget rule may have several
            alert_resolve(alert=open_alert, value=None, now=timezone.now(), resolution=resolution)
    return rule


@transaction.atomic
def alert_rule_delete(*, rule: AlertRule, actor_membership: Membership | None) -> None:
    """Delete the rule with its alerts and their delivery history."""
    _require_admin(actor_membership)
    audit_record(action="alert_rule.delete", obj=rule, tenant=rule.tenant, changes={"alerts": rule.alerts.count()})
    rule.delete()


@transaction.atomic
def alert_rule_secret_rotate(*, rule: AlertRule, actor_membership: Membership | None) -> str:
    """A new webhook secret, returned this once; the old one stops signing at once."""
    _require_admin(actor_membership)
    secret = webhook_secret_generate()
    rule.set_webhook_secret(secret)
    rule.save(update_fields=["webhook_secret_encrypted", "updated_at"])
    audit_record(action="alert_rule.rotate_secret", obj=rule, tenant=rule.tenant)
    return secret


def _alert_message(rule: AlertRule, value: Decimal) -> str:
    return f"{rule.condition()} ({rule.scope()}): now {rule.describe(value)}."[:300]


def alert_fire(*, rule: AlertRule, value: Decimal, now: datetime, subject: str = "", message: str = "") -> Alert | None:
    """Open an alert for the rule (about `subject`, for a rule that watches many things) and notify; None when
    one is open already (another evaluation fired it first: the database refused a second)."""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=rule,
                tenant_id=rule.tenant_id,
                fired_at=now,
                value=value,
                last_value=value,
                message=message[:300] or _alert_message(rule, value),
                subject=subject,
            )
            alert_deliveries_create(alert=alert, event=AlertEvent.FIRED)
    except IntegrityError:
        return None
    return alert


def alert_resolve(*, alert: Alert, value: Decimal | None, now: datetime, resolution: str) -> bool:
    """Close the alert, saying why, and notify; False when it was closed already (by another evaluation)."""
    with transaction.atomic():
        closed = Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(
            resolved_at=now, last_value=value, resolution=resolution[:200]
        )
        if not closed:
            return False
        alert.resolved_at, alert.last_value, alert.resolution = now, value, resolution[:200]
        alert_deliveries_create(alert=alert, event=AlertEvent.RESOLVED)
    return True


def _resolution(rule: AlertRule, value: Decimal | None) -> str:
    if value is None:
        return f"fewer than {rule.min_calls} calls in the last {rule.window_minutes} min to judge"
    return f"now {rule.describe(value)}, not above {rule.describe(rule.threshold)}"


def alerts_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    """Evaluate every enabled rule at `now` (default: the current time); returns how many rules were evaluated
    and how many alerts fired, resolved or stayed firing."""
    now = now or timezone.now()
    # Budget rules are evaluated by budget_alerts_evaluate (apps/analytics/services/budget_alerts.py).
    metric_rules = AlertRule.objects.filter(enabled=True).exclude(metric=AlertMetric.BUDGET)
    rules = list(metric_rules.select_related("tenant", "service"))
    values = alert_rule_values(rules=rules, now=now)
    open_alerts = {a.rule_id: a for a in Alert.objects.filter(rule__in=metric_rules, resolved_at__isnull=True)}
    summary = Counter(rules=len(rules))
    still_firing = []
    for rule in rules:
        value, alert = values.get(rule.pk), open_alerts.get(rule.pk)
        breaching = value is not None and value > rule.threshold
        if breaching and alert is None:
            summary["fired" if alert_fire(rule=rule, value=value, now=now) else "already_fired"] += 1
        elif breaching:
            alert.last_value = value
            still_firing.append(alert)
        elif alert is not None:
            alert.rule = rule
            resolution = _resolution(rule, value)
            summary["resolved"] += alert_resolve(alert=alert, value=value, now=now, resolution=resolution)
    Alert.objects.bulk_update(still_firing, ["last_value"])
    summary["still_firing"] = len(still_firing)
    return dict(summary)
