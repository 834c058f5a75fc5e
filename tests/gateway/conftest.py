"""End-to-end fixtures for the data plane: real configuration in the database, a fake OpenAI upstream, and
the portal's real ASGI application served by uvicorn on a free port."""

from __future__ import annotations

import asyncio
import atexit
import socket
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

import openai
import pytest
import uvicorn
from asgiref.sync import async_to_sync

from apps.access.services import api_key_issue
from apps.gateway import wiring
from apps.providers.services import (
    deployment_add,
    model_create,
    provider_create,
    provider_sync_models,
    route_create,
)
from tests.conftest import FAKE_KEY
from tests.factories import AppFactory, TenantFactory


@dataclass
class GatewaySetup:
    tenant: object
    app: object
    key: object
    secret: str
    route: object
    provider: object


@pytest.fixture(autouse=True)
def _fresh_gateway(settings):
    """Each test gets its own pipeline (breakers, pooled clients, snapshot); call logs flush only on demand."""
    settings.GATEWAY_SNAPSHOT_POLL_SECONDS = 0.05
    settings.GATEWAY_LOG_FLUSH_SECONDS = 3600
    for factory in (wiring.get_invoker, wiring.get_pipeline, wiring.get_snapshot_store, wiring.get_call_sink):
        factory.cache_clear()
    yield
    atexit.unregister(wiring.get_call_sink().flush_at_exit)  # this test's database is gone by then
    for factory in (wiring.get_invoker, wiring.get_pipeline, wiring.get_snapshot_store, wiring.get_call_sink):
        factory.cache_clear()


def refresh_snapshot() -> None:
    async_to_sync(wiring.get_snapshot_store().refresh)(force=True)


@pytest.fixture
def gateway_setup(transactional_db, fake_upstream) -> GatewaySetup:
    """Tenant `acme`, app `bot` with a key, and route `smart` served by the fake upstream's gpt-4o-mini."""
    tenant = TenantFactory(slug="acme", name="Acme")
    app = AppFactory(tenant=tenant, slug="bot")
    key, secret = api_key_issue(app=app, name="e2e", actor_membership=None)
    provider = provider_create(
        tenant=tenant,
        actor_membership=None,
        slug="fake-openai",
        name="Fake OpenAI",
        kind="openai",
        base_url=fake_upstream.base_url,
        api_key=FAKE_KEY,
    )
    model = model_create(
        provider=provider,
        actor_membership=None,
        name="gpt-4o-mini",
        upstream_id="gpt-4o-mini",
        modalities=["text", "embedding"],
        input_price_per_mtok=Decimal("0.15"),
        output_price_per_mtok=Decimal("0.60"),
    )
    route = route_create(tenant=tenant, actor_membership=None, alias="smart", deadline_seconds=10, retries=1)
    deployment_add(route=route, model=model, actor_membership=None, timeout_seconds=5)
    refresh_snapshot()
    return GatewaySetup(tenant=tenant, app=app, key=key, secret=secret, route=route, provider=provider)


def sdk_for_provider(
    live_gateway: str, fake, *, kind: str, slug: str, name: str, api_key: str, routes: dict[str, str]
) -> openai.OpenAI:
    """The official OpenAI SDK on the live gateway with a key of app `bot` of tenant `acme`, whose aliases
    (`routes`: alias -> upstream model id) are each served by one model of a `kind` provider at `fake`; the models
    are imported from the fake's model list (priced from the shipped table). The fake's requests start empty."""
    tenant = TenantFactory(slug="acme")
    _, secret = api_key_issue(app=AppFactory(tenant=tenant, slug="bot"), name="e2e", actor_membership=None)
    provider = provider_create(
        tenant=tenant,
        actor_membership=None,
        slug=slug,
        name=name,
        kind=kind,
        base_url=fake.base_url,
        api_key=api_key,
    )
    models = {m.upstream_id: m for m in provider_sync_models(provider=provider, actor_membership=None)}
    for alias, upstream_id in routes.items():
        route = route_create(tenant=tenant, actor_membership=None, alias=alias, deadline_seconds=10, retries=0)
        deployment_add(route=route, model=models[upstream_id], actor_membership=None, timeout_seconds=5)
    refresh_snapshot()
    fake.requests.clear()
    return openai.OpenAI(base_url=f"{live_gateway}/v1", api_key=secret, max_retries=0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _QuickServer(uvicorn.Server):
    """uvicorn looks at `should_exit` every 100 ms and its shutdown waits in steps of 100 ms; this one does both
    every 10 ms, so a test's teardown does not wait for nothing. The steps are uvicorn's: stop listening, ask the
    connections to close, wait for them and for the requests' tasks, then the lifespan's shutdown."""

    async def main_loop(self) -> None:
        ticks = 0
        should_exit = await self.on_tick(0)
        while not should_exit:
            await asyncio.sleep(0.01)
            ticks += 1
            should_exit = self.should_exit or (ticks % 10 == 0 and await self.on_tick(ticks // 10 % 864000))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = time.monotonic() + 10
        while (self.server_state.connections or self.server_state.tasks) and time.monotonic() < deadline:  # noqa: ASYNC110 - as uvicorn polls its state
            await asyncio.sleep(0.01)
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


@pytest.fixture
def live_gateway(transactional_db):
    """The portal's ASGI application (data-plane handler included) under uvicorn; yields its base URL."""
    from portal.asgi import application

    port = _free_port()
    server = _QuickServer(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning", lifespan="on", backlog=2048)
    )
    thread = threading.Thread(target=server.run, name="live-gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def run(coro):
    """Run a coroutine on a fresh loop from a sync test (the live server has its own loop)."""
    return asyncio.run(coro)
