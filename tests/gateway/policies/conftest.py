"""The limit and budget steps called directly (no HTTP), over both counter stores: Redis (the suite's REDIS_URL)
and the in-process counters of the embedded default."""

from __future__ import annotations

import os
import socket
import time
from decimal import Decimal

import pytest
import redis

from apps.gateway.adapters.redis_counters import RedisCounters
from apps.gateway.pipeline.policies.base import CallContext
from apps.gateway.pipeline.policies.counters import LocalCounters, window_bounds
from apps.gateway.pipeline.records import CallRecord
from apps.gateway.pipeline.snapshot import (
    DeploymentEntry,
    KeyEntry,
    Limits,
    RouteEntry,
    Snapshot,
    SubscriptionEntry,
)
from apps.gateway.pipeline.types import GatewayRequest
from tests.entries import service_entry

# Ten seconds into the current UTC minute of today: windows are computed from the injected clock, never the date.
NOW = window_bounds("minute", time.time())[0] + 10.0
TENANT, APP, KEY_ID, PLAN, SUB = 1, 7, 11, 3, 21


def deployment(dep_id: int, *, input_price: str = "1.00", output_price: str = "2.00") -> DeploymentEntry:
    return DeploymentEntry(
        deployment_id=dep_id,
        provider_id=dep_id,
        provider_kind="openai",
        provider_slug=f"p{dep_id}",
        base_url="http://upstream.invalid/v1",
        api_key="sk-upstream",
        provider_options={},
        provider_revision="1",
        model_name=f"m{dep_id}",
        upstream_model=f"upstream-{dep_id}",
        modalities=frozenset({"text"}),
        weight=1,
        priority=0,
        timeout=5.0,
        input_price_per_mtok=Decimal(input_price),
        output_price_per_mtok=Decimal(output_price),
    )


SMART = RouteEntry(route_id=1, tenant_id=TENANT, alias="smart", deadline=10, retries=0, deployments=(deployment(1),))
CHEAP = RouteEntry(
    route_id=2, tenant_id=TENANT, alias="cheap", deadline=10, retries=0, deployments=(deployment(2, input_price="0"),)
)
KEY = KeyEntry(
    key_id=KEY_ID,
    lookup_id="abcd1234",
    pepper_id="1",
    digest="",
    tenant_id=TENANT,
    tenant_slug="acme",
    app_id=APP,
    app_slug="bot",
    scopes=frozenset({"gateway"}),
    expires_at=None,
)
SERVICE = service_entry(service_id=5, slug="summarize", tenant_id=2, kind="model", visibility="public")
SUBSCRIPTION = SubscriptionEntry(
    subscription_id=SUB, status="approved", expires_at=None, plan_id=PLAN, plan_slug="free"
)


def snapshot(limits: dict[tuple[str, int], Limits], *, fail_open: bool | None = None) -> Snapshot:
    return Snapshot.build(
        version=1,
        keys=[KEY],
        routes=[SMART, CHEAP],
        tenant_slugs={TENANT: "acme"},
        limits=limits,
        limits_fail_open={} if fail_open is None else {TENANT: fail_open},
    )


def context(snap: Snapshot, *, now: float = NOW, body: dict | None = None, subscribed: bool = False) -> CallContext:
    body = body if body is not None else {"model": "smart", "messages": [{"role": "user", "content": "hello there"}]}
    return CallContext(
        request=GatewayRequest(request_id="r", api_key=None, body=body, received=0.0, received_wall=now),
        record=CallRecord(request_id="r", created=now, endpoint="chat"),
        snapshot=snap,
        tenant_id=TENANT,
        key=KEY,
        route=SMART,
        body=body,
        service=SERVICE if subscribed else None,
        subscription=SUBSCRIPTION if subscribed else None,
        now=now,
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Reports(list):
    """The store-error reports the steps made: (tenant, mode)."""

    def __call__(self, tenant: str, mode: str, error: BaseException) -> None:
        self.append((tenant, mode))


@pytest.fixture
def reports() -> Reports:
    return Reports()


@pytest.fixture(params=["redis", "local"])
def counters(request):
    if request.param == "local":
        return LocalCounters()
    request.getfixturevalue("clean_counters")
    return RedisCounters(url=os.environ["REDIS_URL"])


def wait_for_room(window: str, seconds: float) -> None:
    """Sleep into the next window unless `seconds` are left in the current one: a test that counts calls of one
    window must not see it reset halfway."""
    end = window_bounds(window, time.time())[1]
    if end - time.time() < seconds:
        time.sleep(end - time.time() + 0.05)


@pytest.fixture
def clean_counters():
    """No counter left by an earlier test in this Redis database."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    for key in client.scan_iter("gw:lim:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def server(tmp_path):
    """A redis-server of the test's own (test_resp.Server), stopped at the end."""
    from tests.gateway.policies.test_resp import Server

    own = Server(tmp_path)
    yield own
    own.stop()
