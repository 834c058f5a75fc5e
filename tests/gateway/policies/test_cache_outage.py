"""A Redis that goes away while the gateway serves: the cache misses, the calls still answer 200, and the failures
are counted in gateway_cache_errors_total. The gateway's Redis here is one of the test's own, stopped mid-test."""

from __future__ import annotations

import asyncio
import gc
import shutil
import socket
import subprocess
import time

import openai
import pytest
import redis
from prometheus_client import REGISTRY

from apps.gateway.adapters.redis_cache import RedisCacheStore
from tests.gateway.conftest import refresh_snapshot
from tests.gateway.policies.test_cache_live import MESSAGES, chat_calls

pytestmark = pytest.mark.django_db(transaction=True)


class OwnRedis:
    """A redis-server of the test's own on a free port."""

    def __init__(self, folder) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        server = shutil.which("redis-server") or "redis-server"
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command = [server, *options, "--dir", str(folder)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 - our own arguments
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path, settings):
    server = OwnRedis(tmp_path)
    settings.REDIS_URL = server.url  # before the gateway is built: its cache (and the rest) uses this Redis
    yield server
    server.stop()


def errors(operation: str) -> float:
    return REGISTRY.get_sample_value("gateway_cache_errors_total", {"operation": operation}) or 0.0


def test_with_redis_stopped_mid_test_calls_still_answer_as_misses(
    own_redis, live_gateway, gateway_setup, fake_upstream
):
    gateway_setup.route.cache_ttl_seconds = 60
    gateway_setup.route.save()
    refresh_snapshot()
    fake_upstream.requests.clear()
    sdk = openai.OpenAI(base_url=f"{live_gateway}/v1", api_key=gateway_setup.secret, max_retries=0)

    def ask() -> str:
        response = sdk.chat.completions.with_raw_response.create(model="smart", messages=MESSAGES)
        assert response.status_code == 200
        assert response.parse().choices[0].message.content == fake_upstream.reply
        return response.headers["X-Cache"]

    assert [ask(), ask()] == ["MISS", "HIT"]  # stored in, then answered from, this Redis
    assert chat_calls(fake_upstream) == 1
    failed_gets, failed_sets = errors("get"), errors("set")

    own_redis.stop()
    assert [ask(), ask()] == ["MISS", "MISS"]
    assert chat_calls(fake_upstream) == 3
    assert errors("get") == failed_gets + 2
    # A store goes out after the answer (nobody waits for it): its failure is counted when it fails, a moment later.
    deadline = time.monotonic() + 5
    while errors("set") < failed_sets + 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert errors("set") == failed_sets + 2


async def test_the_redis_store_answers_a_miss_and_skips_a_store_when_redis_is_down(tmp_path):
    server = OwnRedis(tmp_path)
    store = RedisCacheStore(url=server.url, prefix="outage:")
    try:
        store.put("k", b"answer", 60)
        assert await store.get("k") == b"answer"
        server.stop()
        before = errors("get"), errors("set"), errors("recent"), errors("remember")
        assert await store.get("k") is None
        store.put("k", b"answer", 60)  # never raises: its failure is counted when the reply fails
        for _ in range(200):
            if errors("set") > before[1]:
                break
            await asyncio.sleep(0.005)
        assert await store.recent("scope") == []
        assert await store.remember("scope", b"item", ttl=60, cap=10) is False
        assert (errors("get"), errors("set"), errors("recent"), errors("remember")) == tuple(n + 1 for n in before)
    finally:
        server.stop()
        await store.aclose()


async def test_a_failed_lookup_nobody_awaits_logs_nothing(tmp_path, caplog):
    # A lookup goes out at admission; a call the limits then refuse never awaits it. Its failure must not reach
    # asyncio's "exception was never retrieved" log line.
    server = OwnRedis(tmp_path)
    store = RedisCacheStore(url=server.url, prefix="outage:")
    try:
        assert await store.get("warm") is None  # connected
        server.stop()
        lookup = store.get("k")
        await asyncio.sleep(0.05)  # the reply fails meanwhile
        del lookup
        gc.collect()
        await asyncio.sleep(0)
        assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
    finally:
        server.stop()
        await store.aclose()
