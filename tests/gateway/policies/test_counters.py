"""The counters' one atomic step (check every charge, add all or none) and their windows, on Redis and in-process."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
import redis

from apps.gateway.adapters.redis_counters import RedisCounters
from apps.gateway.pipeline.policies.counters import Admission, CounterSet, counter_key, window_bounds
from tests.gateway.policies.conftest import NOW

END = window_bounds("minute", NOW)[1]


def charge(key: str, limit: int, amount: int = 1) -> tuple[str, int, int]:
    return key, limit, amount


async def admit_all(counters, charges: list[tuple[str, int, int]], now: float = NOW, resets_at: int = END) -> Admission:
    """Admit (key, limit, amount) charges together, as one set of counters."""
    keys, limits, amounts = zip(*charges, strict=True)
    return await counters.admit(CounterSet(keys, limits, (resets_at,) * len(keys)), list(amounts), now)


async def test_the_limit_is_admitted_exactly_then_refused(counters):
    for expected in (1, 2, 3):
        admission = await admit_all(counters, [charge("gw:lim:key:1:rpm:0", 3)])
        assert admission.admitted
        assert admission.used == (expected,)
    refused = await admit_all(counters, [charge("gw:lim:key:1:rpm:0", 3)])
    assert refused.refused == 0
    assert refused.used == (3,)
    assert counters.read(["gw:lim:key:1:rpm:0"], NOW) == [3]


async def test_nothing_is_added_unless_every_charge_fits(counters):
    await admit_all(counters, [charge("gw:lim:app:1:rpm:0", 10, 5)])
    keys = ["gw:lim:key:1:rpm:0", "gw:lim:app:1:rpm:0", "gw:lim:tenant:1:rpm:0"]
    admission = await admit_all(counters, [charge(keys[0], 10, 4), charge(keys[1], 8, 4), charge(keys[2], 10, 4)])
    assert admission.refused == 1
    assert admission.used == (0, 5, 0)
    assert counters.read(keys, NOW) == [0, 5, 0]


async def test_add_settles_live_counters_and_leaves_absent_ones_absent(counters):
    await admit_all(counters, [charge("gw:lim:key:1:tpm:0", 1000, 100)])
    await counters.add(["gw:lim:key:1:tpm:0", "gw:lim:key:1:tpm:never"], [-60, 50], NOW)
    assert counters.read(["gw:lim:key:1:tpm:0", "gw:lim:key:1:tpm:never"], NOW) == [40, 0]


async def test_an_amount_larger_than_the_limit_is_refused_on_an_empty_counter(counters):
    admission = await admit_all(counters, [charge("gw:lim:key:1:tpm:0", 100, 101)])
    assert admission.refused == 0
    assert counters.read(["gw:lim:key:1:tpm:0"], NOW) == [0]


async def test_a_limit_changed_within_the_minute_applies_to_the_next_admission(counters):
    for _ in range(3):
        assert (await admit_all(counters, [charge("gw:lim:key:1:rpm:0", 5)])).admitted
    assert (await admit_all(counters, [charge("gw:lim:key:1:rpm:0", 3)])).refused == 0
    assert (await admit_all(counters, [charge("gw:lim:key:1:rpm:0", 4)])).used == (4,)


async def test_redis_counters_expire_at_their_windows_end_from_the_calls_clock(clean_counters):
    counters = RedisCounters(url=os.environ["REDIS_URL"])
    # The call's clock 30.5 s before the window's end, whatever Redis's clock says: a counter lives that long.
    resets_at = window_bounds("minute", NOW)[1]
    try:
        for _ in range(2):
            await admit_all(counters, [charge("gw:lim:key:1:rpm:ttl", 10)], resets_at - 30.5, resets_at)
    finally:
        await counters.aclose()
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        assert client.get("gw:lim:key:1:rpm:ttl") == b"2"
        assert 30_000 < client.pttl("gw:lim:key:1:rpm:ttl") <= 30_500
    finally:
        client.close()


@pytest.mark.parametrize(
    ("window", "moment", "start", "end"),
    [
        ("minute", datetime(2030, 5, 17, 13, 45, 59, 999000, tzinfo=UTC), (2030, 5, 17, 13, 45), (2030, 5, 17, 13, 46)),
        ("day", datetime(2030, 5, 17, 23, 59, 59, tzinfo=UTC), (2030, 5, 17, 0, 0), (2030, 5, 18, 0, 0)),
        ("month", datetime(2030, 2, 28, 12, 0, tzinfo=UTC), (2030, 2, 1, 0, 0), (2030, 3, 1, 0, 0)),
        ("month", datetime(2030, 12, 31, 23, 59, tzinfo=UTC), (2030, 12, 1, 0, 0), (2031, 1, 1, 0, 0)),
    ],
)
def test_windows_are_aligned_to_utc_minutes_days_and_calendar_months(window, moment, start, end):
    # Calendar arithmetic on fixed instants: the test is about the calendar, not about today.
    assert window_bounds(window, moment.timestamp()) == (
        int(datetime(*start, tzinfo=UTC).timestamp()),
        int(datetime(*end, tzinfo=UTC).timestamp()),
    )


def test_counter_keys_name_scope_metric_and_window():
    assert counter_key("subscription", 21, "requests_per_day", 1_900_000_000) == (
        "gw:lim:subscription:21:requests_per_day:1900000000"
    )
