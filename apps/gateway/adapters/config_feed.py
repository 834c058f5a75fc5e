"""With Redis, configuration changes are pushed to every gateway process instead of waiting for its next poll.

apps.core.services.config_version_bump publishes each committed version on a pub/sub channel; each process
listens from its start (ASGI lifespan) and tells its snapshot store. A message missed while the connection
was down is made up for by a version check after every (re)subscription; the store's poll stays the
fallback for anything else."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

logger = logging.getLogger(__name__)


def announced_version(data: bytes | str) -> int | None:
    """The version a message announces; None (check the database) for anything else."""
    try:
        return int(data)
    except ValueError:
        return None


class RedisConfigFeed:
    def __init__(
        self,
        *,
        url: str,
        channel: str,
        first_retry: float = 0.1,
        max_retry: float = 5.0,
        health_seconds: float = 15.0,
    ) -> None:
        self._url = url
        self._channel = channel
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._health_seconds = health_seconds

    async def listen(self, changed: Callable[[int | None], None]) -> None:
        """Until cancelled: `changed(version)` for each announcement, `changed(None)` once each subscription is
        confirmed (a version check then covers whatever was announced while nobody listened)."""
        retry = self._first_retry
        while True:
            client = aioredis.Redis.from_url(
                self._url,
                socket_connect_timeout=5,
                socket_timeout=5,
                # A PING now and then keeps an idle connection open through NAT and firewalls, or finds it gone.
                health_check_interval=self._health_seconds,
                # No silent reconnection inside redis-py: it would resubscribe without telling us what was missed.
                retry=Retry(NoBackoff(), 0),
            )
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    while True:
                        message = await pubsub.get_message(timeout=self._health_seconds)
                        if message is None:
                            continue
                        if message["type"] == "subscribe":
                            changed(None)
                            retry = self._first_retry
                        elif message["type"] == "message":
                            changed(announced_version(message["data"]))
            except (redis.RedisError, OSError) as exc:
                logger.warning("config feed: Redis unreachable (%s); retrying in %.1f s", exc, retry)
            finally:
                await client.aclose()
            await asyncio.sleep(retry)
            retry = min(retry * 2, self._max_retry)
