"""The commands of one turn of the event loop as one script (apps/gateway/adapters/redis_turn.py), on a redis-server of
the test's own: its command statistics show how many scripts ran, and it can be flushed or stopped."""

from __future__ import annotations

import asyncio

import pytest

from apps.gateway.adapters.redis_turn import LAZY_WRITE, MAX_PARTS, TURN, PreparedAdmission, TurnScript
from apps.gateway.adapters.resp import RespClient, RespConnectionError, RespError

END = 4_102_444_800  # 2100-01-01: a window that does not end during the test


@pytest.fixture
async def client(server):
    resp = RespClient(server.url)
    yield resp
    await resp.aclose()


async def scripts_run(client: RespClient) -> int:
    """How many EVALSHA this Redis ran (the script loaded first: a NOSCRIPT refusal counts as a run too)."""
    await client.execute("SCRIPT", "LOAD", TURN.source)
    stats = (await client.execute("INFO", "commandstats")).decode()
    line = next((line for line in stats.splitlines() if line.startswith("cmdstat_evalsha:")), "calls=0,")
    return int(line.split("calls=", 1)[1].split(",", 1)[0])


def admission(keys: list[str], limits: list[int]) -> PreparedAdmission:
    return PreparedAdmission(keys, limits, [END] * len(keys))


async def test_the_lookups_and_admissions_of_one_turn_are_one_script_and_each_gets_its_own_answer(client):
    turns = TurnScript(client)
    await client.execute("SET", "cache:a", b"answer a")
    await client.execute("SET", "cache:c", b"\x00\r\nbinary")
    before = await scripts_run(client)
    # Twelve calls in one turn, as a loaded worker starts them: a lookup each, and an admission of two counters.
    reads = [turns.get(f"cache:{name}", within=1) for name in "abcdefghijkl"]
    admissions = [
        turns.admit(admission(["rpm:app", f"rpm:key:{i % 3}"], [10, 4]), 1_000 + i, "1 1", within=1) for i in range(12)
    ]
    assert await asyncio.gather(*reads) == [b"answer a", None, b"\x00\r\nbinary"] + [None] * 9
    answers = [(await admitted).decode() for admitted in admissions]
    assert await scripts_run(client) == before + 1
    # In the order they arrived, as separate commands: each key counter fits 4, the app's 10.
    assert answers[:6] == ["0 1 1", "0 2 1", "0 3 1", "0 4 2", "0 5 2", "0 6 2"]
    assert answers[9] == "0 10 4"  # the tenth: the app's tenth, key 0's fourth
    assert answers[10:] == ["1 10 3", "1 10 3"]  # the app's counter is full: refused at it, nothing added
    assert await client.execute("MGET", "rpm:app", "rpm:key:0", "rpm:key:1", "rpm:key:2") == [b"10", b"4", b"3", b"3"]


async def test_counters_expire_at_their_windows_end_from_each_calls_clock(client):
    turns = TurnScript(client)
    end = 2_000_000  # unix seconds, in ms below
    first = turns.admit(PreparedAdmission(["a"], [5], [end]), end * 1000 - 30_000, "1", within=1)
    second = turns.admit(PreparedAdmission(["b"], [5], [end]), end * 1000 - 60_000, "1", within=1)
    assert [await first, await second] == [b"0 1", b"0 1"]
    ttl_a, ttl_b = await client.execute("PTTL", "a"), await client.execute("PTTL", "b")
    assert 29_000 < ttl_a <= 30_000
    assert 59_000 < ttl_b <= 60_000


async def test_a_caller_that_gives_up_does_not_disturb_the_others_of_its_turn(client):
    turns = TurnScript(client)

    async def admitted(i: int) -> bytes:
        return await turns.admit(admission(["shared"], [100]), 1_000, "1", within=1)

    tasks = [asyncio.ensure_future(admitted(i)) for i in range(5)]
    await asyncio.sleep(0)  # every admission is in the turn
    tasks[2].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    # The cancelled caller's admission had gone out with the turn: counted, as a call abandoned after its admission.
    assert sorted(r for i, r in enumerate(results) if i != 2) == [b"0 1", b"0 2", b"0 4", b"0 5"]
    assert await turns.get("shared", within=1) == b"5"


async def test_a_turn_with_more_parts_than_one_script_takes_goes_out_in_several(client):
    turns = TurnScript(client)
    before = await scripts_run(client)
    calls = MAX_PARTS + 10
    answers = await asyncio.gather(
        *(turns.admit(admission(["many"], [calls]), 1_000, "1", within=1) for _ in range(calls))
    )
    assert sorted(int(a.split()[1]) for a in answers) == list(range(1, calls + 1))  # each counted once, exactly
    assert await scripts_run(client) == before + 2


async def test_the_script_is_loaded_again_when_redis_lost_it(client):
    turns = TurnScript(client)
    assert await turns.admit(admission(["n"], [9]), 1_000, "2", within=1) == b"0 2"
    assert await client.execute("SCRIPT", "FLUSH") == "OK"
    lookup = turns.get("n", within=1)
    assert await turns.admit(admission(["n"], [9]), 1_000, "3", within=1) == b"0 5"
    assert await lookup == b"2"  # read in the same script, before the admission that followed it


async def test_when_redis_is_down_every_part_of_the_turn_fails_with_the_connections_error(server, client):
    turns = TurnScript(client)
    assert await turns.get("x", within=1) is None
    server.stop()
    lookup = turns.get("x", within=1)
    admitted = turns.admit(admission(["y"], [1]), 1_000, "1", within=1)
    for part in (lookup, admitted):
        with pytest.raises(RespConnectionError):
            await part


async def test_writes_go_with_the_next_reads_and_any_read_sent_after_a_write_sees_it(client):
    turns = TurnScript(client)
    before = await scripts_run(client)
    failures: list[BaseException] = []
    turns.put("answer", b"stored", 60, within=1, failed=failures.append)
    lookup = turns.get("answer", within=1)  # the same turn: written first, then read
    admitted = turns.admit(admission(["c"], [3]), 1_000, "1", within=1)
    assert [await lookup, await admitted] == [b"stored", b"0 1"]
    assert await scripts_run(client) == before + 1
    assert 59 <= await client.execute("TTL", "answer") <= 60
    assert failures == []


async def test_a_write_alone_goes_within_lazy_write(client):
    turns = TurnScript(client)
    turns.put("alone", b"v", 60, within=1, failed=pytest.fail)
    await asyncio.sleep(LAZY_WRITE * 10)
    assert await client.execute("GET", "alone") == b"v"


async def test_a_write_redis_refuses_fails_alone(client):
    turns = TurnScript(client)
    failures: list[BaseException] = []
    turns.put("refused", b"v", 0, within=1, failed=failures.append)  # an expiry of 0: Redis refuses the SET
    turns.put("kept", b"w", 60, within=1, failed=failures.append)
    admitted = turns.admit(admission(["d"], [3]), 1_000, "2", within=1)
    assert await admitted == b"0 2"
    assert [type(error) for error in failures] == [RespError]
    assert await client.execute("MGET", "refused", "kept") == [None, b"w"]


async def test_drain_sends_the_waiting_writes_before_the_connection_closes(server):
    client = RespClient(server.url)
    turns = TurnScript(client)
    turns.put("last", b"words", 60, within=1, failed=pytest.fail)
    await turns.drain()
    await client.aclose()  # waits for the replies of what was sent
    other = RespClient(server.url)
    try:
        assert await other.execute("GET", "last") == b"words"
    finally:
        await other.aclose()
