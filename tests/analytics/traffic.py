"""Call data for the dashboard, log explorer and analytics API tests: rollups and logs of acme (the tenant
under test), of globex's app calling acme's service (visible to acme without its key), and of calls acme must
never see (globex's own service, and a third tenant's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from apps.access.models import App
from apps.analytics import histogram
from apps.analytics.models import CallLog, CallRollup
from apps.catalog.models import Service
from apps.tenants.models import Tenant
from tests.factories import (
    AppFactory,
    CallLogFactory,
    CallRollupFactory,
    PlanFactory,
    ServiceFactory,
    SubscriptionFactory,
    TenantFactory,
)


def this_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class Traffic:
    acme: Tenant
    globex: Tenant
    summarize: Service  # acme's, subscribed to by globex's app
    translate: Service  # acme's
    secret: Service  # globex's own: acme never sees anything of it
    app: App  # acme's billing-bot
    other_app: App  # globex-bot
    third_app: App | None = None  # initech's: unrelated to acme
    visible: list[CallRollup] = field(default_factory=list)  # what acme may see
    hidden: list[CallRollup] = field(default_factory=list)
    logs: dict[str, CallLog] = field(default_factory=dict)

    def visible_totals(self, **where) -> dict:
        rows = [r for r in self.visible if all(getattr(r, name) == value for name, value in where.items())]
        merged = histogram.merge(r.latency_histogram for r in rows)
        return {
            "calls": sum(r.calls for r in rows),
            "errors": sum(r.errors for r in rows),
            "p50_ms": histogram.percentile(merged, 0.5),
            "p95_ms": histogram.percentile(merged, 0.95),
            "p99_ms": histogram.percentile(merged, 0.99),
            "prompt_tokens": sum(r.prompt_tokens for r in rows),
            "completion_tokens": sum(r.completion_tokens for r in rows),
            "cost": sum((r.cost for r in rows), Decimal(0)),
        }


def hourly(tenant_id: int, hours_ago: int, latencies: list[float], **fields) -> CallRollup:
    errors = fields.pop("errors", 0)
    return CallRollupFactory(
        granularity="hour",
        bucket=this_hour() - timedelta(hours=hours_ago),
        tenant_id=tenant_id,
        latencies=latencies,
        errors=errors,
        error_types=fields.pop("error_types", {"upstream_error": errors} if errors else {}),
        **fields,
    )


def build_traffic(acme: Tenant, globex: Tenant, app: App, other_app: App) -> Traffic:
    summarize = ServiceFactory(tenant=acme, slug="summarize", name="Summarize")
    translate = ServiceFactory(tenant=acme, slug="translate", name="Translate")
    secret = ServiceFactory(tenant=globex, slug="globex-secret", name="Globex secret")
    SubscriptionFactory(app=other_app, plan=PlanFactory(service=summarize))
    traffic = Traffic(acme, globex, summarize, translate, secret, app, other_app)
    ids = {"app_id": app.pk}
    traffic.visible += [
        hourly(acme.pk, 2, [80] * 8 + [900] * 2, service_id=summarize.pk, model="gpt-a", errors=2, **ids,
               prompt_tokens=1000, completion_tokens=400, cost=Decimal("0.0125"), cache_hits=3, overhead_sum_ms=40),
        hourly(acme.pk, 2, [30] * 4, service_id=translate.pk, model="gpt-b", **ids, prompt_tokens=100,
               completion_tokens=50, cost=Decimal("0.001"), overhead_sum_ms=12),
        hourly(acme.pk, 5, [250] * 5, model="gpt-b", errors=1, server_errors=1, **ids,
               error_types={"rate_limited": 1}, cost=Decimal("0.002")),
        # globex's app calling acme's service: acme's data too (as the service owner)
        hourly(globex.pk, 3, [120] * 6, service_id=summarize.pk, app_id=other_app.pk, model="gpt-a",
               prompt_tokens=60, cost=Decimal("0.0006")),
    ]  # fmt: skip
    third = TenantFactory(slug="initech", name="Initech")
    traffic.third_app = AppFactory(tenant=third, slug="initech-bot", name="Initech bot")
    traffic.hidden += [
        hourly(globex.pk, 2, [5000] * 50, service_id=secret.pk, app_id=other_app.pk, model="gpt-secret"),
        hourly(third.pk, 2, [10] * 30, app_id=traffic.third_app.pk, model="gpt-a"),
    ]
    now = datetime.now(UTC)
    traffic.logs = {
        "own": CallLogFactory(
            tenant_id=acme.pk, app_id=app.pk, key_prefix="gwk_ownkey12", service_id=summarize.pk, route="smart",
            model="gpt-a", created_at=now - timedelta(minutes=30), latency_ms=200, overhead_ms=5, upstream_ms=195,
            provider_id=7, deployment_id=8,
        ),
        "own-error": CallLogFactory(
            tenant_id=acme.pk, app_id=app.pk, key_prefix="gwk_ownkey12", model="gpt-b", status=429,
            error_type="rate_limited", created_at=now - timedelta(minutes=20),
        ),
        "own-5xx": CallLogFactory(
            tenant_id=acme.pk, app_id=app.pk, key_prefix="gwk_ownkey12", model="gpt-b", status=502,
            error_type="upstream_error", created_at=now - timedelta(minutes=10),
        ),
        "subscriber": CallLogFactory(
            tenant_id=globex.pk, app_id=other_app.pk, key_prefix="gwk_globexk1", service_id=summarize.pk,
            route="smart", model="gpt-a", created_at=now - timedelta(minutes=15), stream=True, ttft_ms=60,
            latency_ms=300, overhead_ms=10, upstream_ms=290,
        ),
        "old": CallLogFactory(
            tenant_id=acme.pk, app_id=app.pk, key_prefix="gwk_ownkey12", model="gpt-a",
            created_at=now - timedelta(days=3),
        ),
        "hidden": CallLogFactory(
            tenant_id=globex.pk, app_id=other_app.pk, key_prefix="gwk_globexk1", service_id=secret.pk,
            model="gpt-secret", created_at=now - timedelta(minutes=5),
        ),
        "third": CallLogFactory(tenant_id=third.pk, key_prefix="gwk_initech1", created_at=now - timedelta(minutes=7)),
    }  # fmt: skip
    return traffic
