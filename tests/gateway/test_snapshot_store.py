"""A started snapshot store follows the configuration without any request: by polling the version, and with
Redis by the pushed announcements, which survive a lost connection."""

from __future__ import annotations

import asyncio

import pytest
import redis
from django.db import connection

from apps.access.services import api_key_issue, api_key_revoke
from apps.core.services import gateway_config_channel
from apps.gateway.adapters.config_feed import RedisConfigFeed
from apps.gateway.adapters.snapshot_build import config_version_read, key_entry_find, snapshot_build
from apps.gateway.adapters.snapshot_store import SnapshotStore
from apps.tenants.models import Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)


def make_store(*, poll_seconds: float, feed: RedisConfigFeed | None = None) -> SnapshotStore:
    return SnapshotStore(
        build=snapshot_build,
        read_version=config_version_read,
        find_key=key_entry_find,
        feed=feed,
        poll_seconds=poll_seconds,
    )


async def off_the_loop(write, **kwargs) -> None:
    """A change made the way the control plane makes it: in another thread, on its own connection."""

    def run() -> None:
        try:
            write(**kwargs)
        finally:
            connection.close()

    await asyncio.to_thread(run)


async def until(predicate) -> None:
    """Wait (up to 10 s) for what another thread or process changes."""
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


def test_a_started_store_drops_a_revoked_key_without_any_request(gateway_setup):
    store = make_store(poll_seconds=0.05)
    lookup_id = gateway_setup.key.lookup_id

    async def scenario() -> None:
        await store.start()
        try:
            assert lookup_id in store.snapshot.keys
            await asyncio.sleep(0.5)  # idle: ten poll intervals without a request
            admin = MembershipFactory(tenant=gateway_setup.tenant, role=Role.ADMIN)
            await off_the_loop(api_key_revoke, key=gateway_setup.key, actor_membership=admin)
            await until(lambda: lookup_id not in store.snapshot.keys)
        finally:
            await store.stop()

    asyncio.run(scenario())


def test_the_feed_pushes_changes_and_catches_up_after_losing_its_connection(gateway_setup, settings):
    # An hour between polls: only the feed can tell the store.
    channel = gateway_config_channel(settings.REDIS_URL)
    store = make_store(poll_seconds=3600, feed=RedisConfigFeed(url=settings.REDIS_URL, channel=channel))
    other_key, _ = api_key_issue(app=gateway_setup.app, name="other", actor_membership=None)
    admin = MembershipFactory(tenant=gateway_setup.tenant, role=Role.ADMIN)
    client = redis.Redis.from_url(settings.REDIS_URL)

    def subscribers() -> int:
        return dict(client.pubsub_numsub(channel))[channel.encode()]

    def revoke_unannounced() -> None:
        # The announcement is lost (the feed was not connected, or the publisher could not reach Redis).
        settings.REDIS_URL = ""
        api_key_revoke(key=other_key, actor_membership=admin)

    async def scenario() -> None:
        await store.start()
        try:
            await until(lambda: subscribers() == 1)
            await off_the_loop(api_key_revoke, key=gateway_setup.key, actor_membership=admin)
            await until(lambda: gateway_setup.key.lookup_id not in store.snapshot.keys)

            await off_the_loop(revoke_unannounced)
            client.client_kill_filter(_type="pubsub")  # Redis restarted, a proxy cut the connection…
            await until(lambda: other_key.lookup_id not in store.snapshot.keys)
        finally:
            await store.stop()

    try:
        asyncio.run(scenario())
    finally:
        client.close()
