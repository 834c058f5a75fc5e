"""The hot path's Redis client (apps/gateway/adapters/resp/) against real redis-servers: the suite's for replies
and pipelining, servers of the test's own for what would disturb other tests (stopping one, pausing every client,
flushing its scripts)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import redis
import uvloop

from apps.gateway.adapters.resp import RespClient, RespConnectionError, RespError, RespTimeout, Script
from apps.gateway.adapters.resp.protocol import encode


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A redis-server of the test's own, which can be stopped and started again on the same port."""

    def __init__(self, folder, *options: str) -> None:
        self.port = free_port()
        self.folder = folder
        self.options = options
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command = [binary, *options, *self.options, "--dir", str(self.folder)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 - our own arguments
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
async def client():
    resp = RespClient(os.environ["REDIS_URL"])  # the suite's Redis, this worker's database
    yield resp
    await resp.aclose()


async def test_replies_of_every_type(client):
    key = f"test:resp:{uuid.uuid4().hex}"
    binary = b"a\r\n$3\r\n\x00\xff" * 1000 + b"\r\n"  # RESP's own delimiters inside a value
    big = os.urandom(1 << 20)  # arrives in many reads
    assert await client.execute("PING") == "PONG"  # simple string
    assert await client.execute("SET", key, binary, "EX", 60) == "OK"
    assert await client.execute("GET", key) == binary  # bulk string
    assert await client.execute("SET", key + ":big", big, "EX", 60) == "OK"
    assert await client.execute("GET", key + ":big") == big
    assert await client.execute("SET", key + ":empty", b"", "EX", 60) == "OK"
    assert await client.execute("GET", key + ":empty") == b""
    assert await client.execute("GET", key + ":missing") is None  # nil bulk string
    assert await client.execute("INCRBY", key + ":n", -7) == -7  # integer
    assert await client.execute("MGET", key + ":empty", key + ":missing", key + ":n") == [b"", None, b"-7"]
    assert await client.execute("LRANGE", key + ":missing", 0, -1) == []  # empty array
    assert await client.execute("EVAL", "return {1, {2, 'x', {}}, -3}", 0) == [1, [2, b"x", []], -3]  # nested
    with pytest.raises(RespError, match="WRONGTYPE"):  # error reply
        await client.execute("LPUSH", key, "x")
    with pytest.raises(RespError, match="wrong number of arguments"):
        await client.execute("GET")
    assert await client.execute("ECHO", "still in step") == b"still in step"  # an error did not shift replies
    await client.execute("DEL", key, key + ":big", key + ":empty", key + ":n")


async def test_an_encoded_script_runs_and_is_loaded_when_redis_lacks_it(server):
    resp = RespClient(server.url)
    script = Script("return {tonumber(ARGV[1]) + tonumber(ARGV[2]), KEYS[1]}")
    try:
        payload = encode(["EVALSHA", script.sha, 1, "k", 40, 2])
        assert await resp.run_script(script, payload) == [42, b"k"]  # NOSCRIPT first: loaded, then run
        assert await resp.run_script(script, payload) == [42, b"k"]
    finally:
        await resp.aclose()


async def test_500_concurrent_commands_share_one_connection_and_get_their_own_replies(client):
    key = f"test:resp:{uuid.uuid4().hex}"
    commands = []
    for i in range(500):
        commands.append(client.execute("ECHO", f"reply {i}") if i % 5 else client.execute("CLIENT", "ID"))
    replies = await asyncio.gather(*commands)
    assert [r for i, r in enumerate(replies) if i % 5] == [f"reply {i}".encode() for i in range(500) if i % 5]
    assert len({r for i, r in enumerate(replies) if not i % 5}) == 1  # one connection answered them all
    # Written in the order they were issued: the counter's values follow it.
    assert await asyncio.gather(*(client.execute("INCR", key) for _ in range(500))) == list(range(1, 501))
    assert await client.pipeline(("INCR", key), ("GET", key), ("DEL", key)) == [501, b"501", 1]


async def test_a_cancelled_caller_does_not_shift_the_replies_of_the_others(client):
    await client.execute("PING")
    first = asyncio.get_running_loop().create_task(client.execute("ECHO", "first"))
    await asyncio.sleep(0)  # written, not answered yet
    first.cancel()
    assert await client.execute("ECHO", "second") == b"second"
    assert first.cancelled()


async def test_a_stopped_server_fails_commands_at_once_and_a_restarted_one_is_used_again(server):
    client = RespClient(server.url, timeout=30)  # a deadline this long would fail the test: errors come at once
    try:
        assert await client.execute("PING") == "PONG"
        waiting = asyncio.get_running_loop().create_task(client.execute("BLPOP", "never", 0))
        await asyncio.sleep(0.05)
        server.stop()
        with pytest.raises(RespConnectionError):  # the command in flight
            await waiting
        with pytest.raises(RespConnectionError, match="cannot connect"):  # refused
            await client.execute("PING")
        server.start()
        assert await client.execute("PING") == "PONG"
    finally:
        await client.aclose()


async def test_noscript_after_script_flush_loads_the_script_again(server):
    client = RespClient(server.url)
    script = Script("return tonumber(ARGV[1]) + #KEYS")
    try:
        assert await client.evalsha(script, ["a", "b"], [40]) == 42
        assert await client.execute("SCRIPT", "FLUSH") == "OK"
        assert await client.execute("SCRIPT", "EXISTS", script.sha) == [0]
        assert await client.evalsha(script, ["a"], [41]) == 42
        assert await client.execute("SCRIPT", "EXISTS", script.sha) == [1]
        with pytest.raises(RespError, match="ERR"):  # an error of the script itself is not taken for NOSCRIPT
            await client.evalsha(Script("return redis.call('NOSUCHCOMMAND')"), [], [])
    finally:
        await client.aclose()


async def test_commands_past_the_deadline_fail_and_their_late_replies_are_read_past(server):
    client = RespClient(server.url, timeout=0.2)  # dropped only after 5 timeouts: 1 s, twice the pause
    other = RespClient(server.url, timeout=10)
    try:
        connection = await client.execute("CLIENT", "ID")
        # Redis holds every client's commands for 0.5 s; the pausing connection got its answer already.
        assert await other.execute("CLIENT", "PAUSE", 500, "ALL") == "OK"
        replies = await asyncio.gather(*(client.execute("ECHO", str(i)) for i in range(3)), return_exceptions=True)
        assert [type(r) for r in replies] == [RespTimeout] * 3
        assert await other.execute("PING") == "PONG"  # answered once the pause is over
        assert await client.execute("ECHO", "after") == b"after"  # not the late "0"
        assert await client.pipeline(("ECHO", "a"), ("CLIENT", "ID")) == [b"a", connection]  # the same connection
    finally:
        await client.aclose()
        await other.aclose()


async def test_a_connection_whose_replies_stay_late_is_dropped_and_a_new_one_opened(server):
    client = RespClient(server.url, timeout=0.1)  # dropped after DROP_AFTER (5) timeouts: 0.5 s
    other = RespClient(server.url, timeout=10)
    try:
        before = await client.execute("CLIENT", "ID")
        assert await other.execute("CLIENT", "PAUSE", 2000, "ALL") == "OK"
        with pytest.raises(RespTimeout):
            await client.execute("PING")
        assert await other.execute("PING") == "PONG"  # the pause is over
        assert await client.execute("CLIENT", "ID") != before
    finally:
        await client.aclose()
        await other.aclose()


def test_the_client_runs_on_uvloop_as_under_uvicorn():
    async def calls() -> list:
        client = RespClient(os.environ["REDIS_URL"])
        key = f"test:resp:{uuid.uuid4().hex}"
        try:
            return [
                await client.execute("SET", key, b"v", "EX", 60),
                await client.pipeline(("GET", key), ("DEL", key)),
                await client.evalsha(Script("return 7"), [], []),
            ]
        finally:
            await client.aclose()

    assert uvloop.run(calls()) == ["OK", [b"v", 1], 7]


async def test_the_url_gives_the_password_and_the_database(tmp_path):
    server = Server(tmp_path, "--requirepass", "s3 cret")
    client = RespClient(f"redis://:s3%20cret@127.0.0.1:{server.port}/5")
    wrong = RespClient(f"redis://:wrong@127.0.0.1:{server.port}/0")
    try:
        info = await client.execute("CLIENT", "INFO")
        assert isinstance(info, bytes)
        assert b" db=5 " in info
        with pytest.raises(RespError, match="WRONGPASS"):
            await wrong.execute("PING")
    finally:
        await client.aclose()
        await wrong.aclose()
        server.stop()


def reads_processed(admin: redis.Redis) -> int:
    """How many reads Redis made from its clients' sockets (INFO stats): one per write that reached it."""
    return int(admin.info("stats")["total_reads_processed"])


async def test_a_submitted_command_reaches_redis_before_any_later_one_even_while_connecting(client):
    key = f"test:resp:{uuid.uuid4().hex}"
    fresh = RespClient(os.environ["REDIS_URL"])  # not connected yet: the SET waits for the connection
    try:
        stored = fresh.submit("SET", key, b"v", "EX", 60, lazy=True)
        assert await fresh.execute("GET", key) == b"v"
        assert await stored == "OK"
        assert RespClient.shared(os.environ["REDIS_URL"]) is RespClient.shared(os.environ["REDIS_URL"])
    finally:
        await fresh.aclose()


async def test_a_lazy_command_goes_with_the_next_write_or_alone_soon_after(server):
    client = RespClient(server.url)
    admin = redis.Redis(port=server.port)
    try:
        await client.execute("PING")
        before = reads_processed(admin)
        own = reads_processed(admin) - before  # what asking costs: the INFO's own read
        before += own
        stored = client.submit("SET", "k", b"v", lazy=True)
        assert await client.execute("GET", "k") == b"v"  # urgent: it takes the lazy SET along, in one write
        assert await stored == "OK"
        assert reads_processed(admin) - before == 1 + own
        alone = client.submit("SET", "k", b"w", lazy=True)  # nothing follows: written within LAZY_WRITE
        assert await asyncio.wait_for(alone, 1) == "OK"
    finally:
        admin.close()
        await client.aclose()


async def test_each_command_keeps_its_own_timeout_on_a_shared_connection(server):
    client = RespClient(server.url, timeout=10)
    other = RespClient(server.url, timeout=10)
    try:
        await client.execute("PING")
        assert await other.execute("CLIENT", "PAUSE", 600, "ALL") == "OK"
        started = time.monotonic()
        short, patient = await asyncio.gather(
            client.execute("ECHO", "short", within=0.1), client.execute("ECHO", "patient"), return_exceptions=True
        )
        assert isinstance(short, RespTimeout)
        assert "within 0.1 s" in str(short)
        assert patient == b"patient"  # the same connection, answered once the pause is over
        assert time.monotonic() - started >= 0.5
    finally:
        await client.aclose()
        await other.aclose()


async def test_a_command_sent_at_once_is_written_before_the_loop_turns_again(server):
    client = RespClient(server.url)
    admin = redis.Redis(port=server.port)
    try:
        await client.execute("PING")
        for at_once, reached in ((False, 0), (True, 1)):
            before = reads_processed(admin)
            own = reads_processed(admin) - before  # the INFO's own read
            reply = client.submit_encoded(encode(["ECHO", "x"]), at_once=at_once)
            time.sleep(0.05)  # noqa: ASYNC251 - on purpose: the loop must not turn, so only a write made already counts
            assert reads_processed(admin) - before - 2 * own == reached
            assert await reply == b"x"
    finally:
        admin.close()
        await client.aclose()
