"""Reads the configuration the data plane needs from the database into a Snapshot (runs in a worker thread)."""

from __future__ import annotations

import logging

from django.db import close_old_connections
from django.db.models import Prefetch

from apps.access.models import ApiKey
from apps.core.crypto import DecryptionError
from apps.core.models import ConfigVersion
from apps.core.services import GATEWAY_CONFIG
from apps.gateway.pipeline.snapshot import DeploymentEntry, KeyEntry, RouteEntry, Snapshot
from apps.providers.models import Deployment, Route

logger = logging.getLogger(__name__)


def config_version_read() -> int:
    try:
        return ConfigVersion.objects.filter(name=GATEWAY_CONFIG).values_list("version", flat=True).first() or 0
    finally:
        close_old_connections()


def _key_entries() -> list[KeyEntry]:
    keys = ApiKey.objects.filter(revoked_at__isnull=True).select_related("tenant", "app")
    return [
        KeyEntry(
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
        for key in keys
    ]


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
                    model_name=dep.model.name,
                    upstream_model=dep.model.upstream_id,
                    modalities=frozenset(dep.model.modalities or ()),
                    weight=dep.weight,
                    priority=dep.priority,
                    timeout=dep.timeout_seconds,
                    input_price_per_mtok=dep.model.input_price_per_mtok,
                    output_price_per_mtok=dep.model.output_price_per_mtok,
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
            )
        )
    return entries


def snapshot_build() -> Snapshot:
    try:
        version = config_version_read()
        return Snapshot.build(version=version, keys=_key_entries(), routes=_route_entries())
    finally:
        close_old_connections()
