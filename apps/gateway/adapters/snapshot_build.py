"""Reads the configuration the data plane needs from the database into a Snapshot (runs in a worker thread).

A snapshot must never miss a committed change. The config version is bumped in the same transaction as the
change it counts (apps.core.services.config_version_bump) and is read here before any table: on PostgreSQL the
whole build is one REPEATABLE READ transaction, so a snapshot of version v holds exactly what was committed up
to v; elsewhere (SQLite) every later read sees at least what the version counted, and a change the tables
already show but the version does not yet is built again once its version is seen."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import close_old_connections, connection, transaction
from django.db.models import Prefetch
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from apps.access.models import OPEN_SUBSCRIPTION_STATES, ApiKey, LimitScope, LimitSet, Subscription
from apps.catalog.models import INVOCABLE, Plan, Service
from apps.core.crypto import DecryptionError
from apps.core.models import ConfigVersion
from apps.core.services import GATEWAY_CONFIG
from apps.gateway.pipeline.snapshot import (
    CachePolicy,
    DeploymentEntry,
    KeyEntry,
    Limits,
    PromptEntry,
    PromptVersionEntry,
    RouteEntry,
    ServiceEntry,
    Snapshot,
    SubscriptionEntry,
)
from apps.prompts.selectors import prompt_template_list_live, prompt_versions_serving
from apps.providers.models import Deployment, Route
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

_ACCEPT_OBJECT = Draft202012Validator({"type": "object"})


def _version() -> int:
    return ConfigVersion.objects.filter(name=GATEWAY_CONFIG).values_list("version", flat=True).first() or 0


def config_version_read() -> int:
    try:
        return _version()
    finally:
        close_old_connections()


def _usable_keys():
    """The keys a snapshot holds; expiry and scopes are checked per request, on the entry."""
    return ApiKey.objects.filter(revoked_at__isnull=True).select_related("tenant", "app")


def _key_entry(key: ApiKey) -> KeyEntry:
    return KeyEntry(
        key_id=key.pk,
        lookup_id=key.lookup_id,
        pepper_id=key.pepper_id,
        digest=key.digest,
        tenant_id=key.tenant_id,
        tenant_slug=key.tenant.slug,
        app_id=key.app_id,
        app_slug=key.app.slug,
        scopes=frozenset(key.scopes),
        expires_at=key.expires_at,
    )


def _key_entries() -> list[KeyEntry]:
    return [_key_entry(key) for key in _usable_keys()]


def key_entry_find(lookup_id: str) -> KeyEntry | None:
    """The entry a snapshot built now would hold for this key id (a key issued since the last build), or None."""
    try:
        key = _usable_keys().filter(lookup_id=lookup_id).first()
        return None if key is None else _key_entry(key)
    finally:
        close_old_connections()


def _route_entries() -> list[RouteEntry]:
    deployments = (
        Deployment.objects.filter(enabled=True, model__provider__enabled=True)
        .select_related("model__provider")
        .order_by("priority", "-weight", "id")
    )
    routes = Route.objects.filter(enabled=True).prefetch_related(Prefetch("deployments", queryset=deployments))
    api_keys: dict[int, str] = {}
    entries = []
    for route in routes:
        deps = []
        for dep in route.deployments.all():
            provider = dep.model.provider
            if provider.pk not in api_keys:
                try:
                    api_keys[provider.pk] = provider.api_key()
                except DecryptionError:
                    logger.error(
                        "provider %s: credential cannot be decrypted; its deployments are skipped", provider.pk
                    )
                    api_keys[provider.pk] = None
            if api_keys[provider.pk] is None:
                continue
            deps.append(
                DeploymentEntry(
                    deployment_id=dep.pk,
                    provider_id=provider.pk,
                    provider_kind=provider.kind,
                    provider_slug=provider.slug,
                    base_url=provider.base_url,
                    api_key=api_keys[provider.pk],
                    provider_options=dict(provider.options or {}),
                    provider_revision=provider.updated_at.isoformat(),
                    provider_trusted=provider.trusted,
                    model_name=dep.model.name,
                    upstream_model=dep.model.upstream_id,
                    modalities=frozenset(dep.model.modalities or ()),
                    weight=dep.weight,
                    priority=dep.priority,
                    timeout=dep.timeout_seconds,
                    input_price_per_mtok=dep.model.input_price_per_mtok,
                    output_price_per_mtok=dep.model.output_price_per_mtok,
                    cached_input_price_per_mtok=dep.model.cached_input_price_per_mtok,
                )
            )
        entries.append(
            RouteEntry(
                route_id=route.pk,
                tenant_id=route.tenant_id,
                alias=route.alias,
                deadline=route.deadline_seconds,
                retries=route.retries,
                deployments=tuple(deps),
                created=int(route.created_at.timestamp()),
                strategy=route.strategy,
            )
        )
    return entries


def _validator(schema: dict | None):
    """A compiled validator, or None for an empty schema; a broken stored schema validates nothing."""
    if not schema:
        return None
    try:
        cls = validator_for(schema)
        cls.check_schema(schema)
        return cls(schema)
    except SchemaError:
        logger.error("a stored JSON schema is invalid; it is ignored by the gateway")
        return None


def _prompt_entries() -> dict[int, PromptEntry]:
    """By service id: the live version and the versions of the A/B split (two queries)."""
    templates = prompt_template_list_live()
    serving = prompt_versions_serving(templates=templates)
    return {
        template.service_id: PromptEntry(
            live=template.live_version.number,
            split=tuple((int(item["version"]), int(item["weight"])) for item in template.ab_split or []),
            sticky_by=template.sticky_by,
            versions={
                number: PromptVersionEntry(
                    number=number,
                    system=version.system_template,
                    user=version.user_template,
                    examples=tuple(version.examples or ()),
                    parameters=dict(version.parameters or {}),
                    variables_validator=_validator(version.variables_schema) or _ACCEPT_OBJECT,
                )
                for number, version in serving.get(template.pk, {}).items()
            },
        )
        for template in templates
    }


def _service_entries() -> list[ServiceEntry]:
    services = (
        Service.objects.exclude(lifecycle="retired").select_related("route", "tenant").prefetch_related("shared_with")
    )
    prompts = _prompt_entries()
    return [
        ServiceEntry(
            service_id=service.pk,
            slug=service.slug,
            tenant_id=service.tenant_id,
            kind=service.kind,
            lifecycle=service.lifecycle,
            visibility=service.visibility,
            shared_with=frozenset(t.pk for t in service.shared_with.all()),
            require_internal_subscription=service.tenant.require_internal_subscriptions,
            route_alias=service.route.alias,
            output_mode=service.output_mode,
            output_schema=dict(service.output_schema or {}),
            output_validator=_validator(service.output_schema),
            prompt=prompts.get(service.pk),
            capture_bodies_days=service.capture_bodies_days,
        )
        for service in services
    ]


def _subscription_entries() -> dict[tuple[int, int], SubscriptionEntry]:
    """The open subscription of each (app, service), else the latest closed one (to say why access ends)."""
    entries: dict[tuple[int, int], SubscriptionEntry] = {}
    rows = Subscription.objects.order_by("created_at", "id").values_list(
        "pk", "app_id", "service_id", "status", "expires_at", "plan_id", "plan__slug"
    )
    for pk, app_id, service_id, status, expires_at, plan_id, plan_slug in rows:
        pair = (app_id, service_id)
        if pair in entries and entries[pair].status in OPEN_SUBSCRIPTION_STATES:
            continue
        entries[pair] = SubscriptionEntry(
            subscription_id=pk, status=status, expires_at=expires_at, plan_id=plan_id, plan_slug=plan_slug
        )
    return entries


def _limit_set_entries() -> dict[tuple[str, int], Limits]:
    """("tenant"|"app"|"key", id) → the limits configured for that scope, and ("plan", id) → a plan's, for every
    plan of a service that can be called (two queries whatever the number of rows)."""
    entries: dict[tuple[str, int], Limits] = {}
    for row in LimitSet.objects.select_related("over_budget_route"):
        scope_id = {LimitScope.TENANT: row.tenant_id, LimitScope.APP: row.app_id, LimitScope.KEY: row.api_key_id}
        entries[(str(row.scope), scope_id[row.scope])] = Limits(
            requests_per_minute=row.requests_per_minute,
            tokens_per_minute=row.tokens_per_minute,
            requests_per_day=row.requests_per_day,
            requests_per_month=row.requests_per_month,
            budget_per_day=row.budget_per_day,
            budget_per_month=row.budget_per_month,
            over_budget_route=row.over_budget_route.alias if row.over_budget_route is not None else None,
        )
    for plan in Plan.objects.filter(service__lifecycle__in=INVOCABLE):
        entries[("plan", plan.pk)] = Limits(
            requests_per_minute=plan.requests_per_minute,
            tokens_per_minute=plan.tokens_per_minute,
            requests_per_day=plan.requests_per_day,
            requests_per_month=plan.requests_per_month,
            budget_per_day=plan.daily_budget,
            budget_per_month=plan.monthly_budget,
            allowed_models=frozenset(plan.allowed_models) if plan.allowed_models else None,
            over_budget_route=plan.over_budget_route or None,
        )
    return entries


def _route_cache() -> dict[int, CachePolicy]:
    rows = Route.objects.filter(enabled=True, cache_ttl_seconds__isnull=False).values_list("id", "cache_ttl_seconds")
    return {route_id: CachePolicy(ttl_seconds=ttl) for route_id, ttl in rows}


def _service_cache() -> dict[int, CachePolicy]:
    # A semantic cache always has a TTL of its own (checked at save), so the TTL alone tells a cached service.
    rows = (
        Service.objects.exclude(lifecycle="retired")
        .filter(cache_ttl_seconds__isnull=False)
        .values_list("id", "cache_ttl_seconds", "semantic_cache", "semantic_cache_route", "semantic_cache_threshold")
    )
    return {
        service_id: CachePolicy(
            ttl_seconds=ttl,
            semantic=semantic,
            semantic_route=(semantic_route or None) if semantic else None,
            semantic_threshold=threshold,
        )
        for service_id, ttl, semantic, semantic_route, threshold in rows
    }


@contextmanager
def _one_point_in_time() -> Iterator[None]:
    """PostgreSQL: every read of the build sees the database as of its first one (the version)."""
    if connection.vendor != "postgresql":
        # SQLite takes the write lock at the start of a transaction here (transaction_mode IMMEDIATE): the build
        # reads in autocommit, the version first.
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # A build never waits long on a table lock: behind a migration's or a TRUNCATE's exclusive lock, which
            # may itself wait on a table this build already read, the two would deadlock. It gives up instead and
            # the next poll builds again, while requests are served from the last good snapshot.
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
        yield


def snapshot_build() -> Snapshot:
    try:
        with _one_point_in_time():
            version = _version()  # before the tables
            tenants = list(Tenant.objects.values_list("id", "slug", "limits_fail_open"))
            return Snapshot.build(
                version=version,
                keys=_key_entries(),
                routes=_route_entries(),
                services=_service_entries(),
                subscriptions=_subscription_entries(),
                tenant_slugs={tenant_id: slug for tenant_id, slug, _ in tenants},
                limits=_limit_set_entries(),
                route_cache=_route_cache(),
                service_cache=_service_cache(),
                limits_fail_open={tenant_id: fail_open for tenant_id, _, fail_open in tenants},
            )
    finally:
        close_old_connections()
