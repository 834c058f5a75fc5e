"""GET /metrics: the Prometheus exposition (apps/analytics/metrics.py).

Operators read every sample: with `Authorization: Bearer <METRICS_TOKEN>`, or without credentials from an address
in METRICS_ALLOWED_IPS. A tenant member's personal access token reads the samples of the member's tenants only.
A presented credential decides whatever the address: a member scraping from an allowed network still sees only its
tenants, and a wrong token is refused rather than ignored."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from functools import cache

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from apps.access.models import PERSONAL_TOKEN_KIND
from apps.access.selectors import personal_token_authenticate
from apps.analytics.metrics import metrics_exposition
from apps.analytics.services.ingest import stream_backlog
from apps.tenants.selectors import tenant_list_for_user


class MetricsUnauthorized(Exception):
    pass


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # no address (a Unix socket): nobody's network
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d
    return any(ip in network for network in settings.METRICS_ALLOWED_IPS)


def metrics_readable_tenants(request: HttpRequest) -> frozenset[str] | None:
    """The slugs of the tenants whose samples the request may read, or None for every sample (an operator)."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if not scheme:
        if _address_allowed(request.META.get("REMOTE_ADDR", "")):
            return None
        raise MetricsUnauthorized("Send 'Authorization: Bearer <token>'.")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise MetricsUnauthorized("Send 'Authorization: Bearer <token>'.")
    operator_token = settings.METRICS_TOKEN
    if operator_token and hmac.compare_digest(credential.encode(), operator_token.encode()):
        return None
    if credential.startswith(f"{PERSONAL_TOKEN_KIND}_"):
        token = personal_token_authenticate(plaintext=credential)
        if token is not None:
            return frozenset(tenant_list_for_user(user=token.user).values_list("slug", flat=True))
    raise MetricsUnauthorized("Invalid, expired or revoked token.")


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    try:
        tenants = metrics_readable_tenants(request)
    except MetricsUnauthorized as exc:
        response = HttpResponse(f"{exc}\n", status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body = metrics_exposition(multiprocess_dir=settings.PROMETHEUS_MULTIPROC_DIR, tenants=tenants)
    if tenants is None and settings.GATEWAY_CALL_SINK == "redis":
        body += generate_latest(_stream_backlog_registry())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


class CallStreamBacklog:
    """How far the Celery workers are behind the data plane, read from Redis at scrape time (operators only)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            backlog = stream_backlog(_redis())
        except (redis.RedisError, OSError):
            return  # no sample rather than a wrong one; /readyz reports Redis down
        yield GaugeMetricFamily(
            "gateway_call_stream_entries",
            "Batches of call records in the Redis stream, written or not (acknowledged ones are deleted).",
            value=backlog["length"],
        )
        yield GaugeMetricFamily(
            "gateway_call_stream_pending",
            "Batches a worker has read and not yet written (a dead worker's are claimed after the idle time).",
            value=backlog["pending"],
        )


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)


@cache
def _stream_backlog_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CallStreamBacklog())
    return registry
