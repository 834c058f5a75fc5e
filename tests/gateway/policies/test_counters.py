"""The counters' one atomic step (check every charge, add all or none) and their windows, on Redis and in-process."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
import redis

from apps.gateway.adapters.redis_counters import RedisCounters
from apps.gateway.pipeline.policies.counters import Charge, counter_key, window_bounds
from tests.gateway.policies.conftest import NOW


def charge(key: str, limit: int, amount: int = 1) -> Charge:
    return Charge(key=key, limit=limit, amount=amount, resets_at=window_bounds("minute", NOW)[1])


async def test_the_limit_is_admitted_exactly_then_refused(counters):
    for expected in (1, 2, 3):
        admission = await counters.admit([charge("gw:lim:key:1:rpm:0", 3)], NOW)
        assert admission.admitted
        assert admission.used == (expected,)
    refused = await counters.admit([charge("gw:lim:key:1:rpm:0", 3)], NOW)
    assert refused.refused == 0
    assert refused.used == (3,)
    assert counters.read(["gw:lim:key:1:rpm:0"], NOW) == [3]


async def test_nothing_is_added_unless_every_charge_fits(counters):
    await counters.admit([charge("gw:lim:app:1:rpm:0", 10, 5)], NOW)
    keys = ["gw:lim:key:1:rpm:0", "gw:lim:app:1:rpm:0", "gw:lim:tenant:1:rpm:0"]
    admission = await counters.admit([charge(keys[0], 10, 4), charge(keys[1], 8, 4), charge(keys[2], 10, 4)], NOW)
    assert admission.refused == 1
    assert admission.used == (0, 5, 0)
    assert counters.read(keys, NOW) == [0, 5, 0]


async def test_add_settles_live_counters_and_leaves_absent_ones_absent(counters):
    await counters.admit([charge("gw:lim:key:1:tpm:0", 1000, 100)], NOW)
    await counters.add([charge("gw:lim:key:1:tpm:0", 0, -60), charge("gw:lim:key:1:tpm:never", 0, 50)], NOW)
    assert counters.read(["gw:lim:key:1:tpm:0", "gw:lim:key:1:tpm:never"], NOW) == [40, 0]


async def test_an_amount_larger_than_the_limit_is_refused_on_an_empty_counter(counters):
    admission = await counters.admit([charge("gw:lim:key:1:tpm:0", 100, 101)], NOW)
    assert admission.refused == 0
    assert counters.read(["gw:lim:key:1:tpm:0"], NOW) == [0]


async def test_a_limit_changed_within_the_minute_applies_to_the_next_admission(counters):
    # Redis keeps each set of counters and limits encoded for the minute: a new limit must not reuse the old one.
    for _ in range(3):
        assert (await counters.admit([charge("gw:lim:key:1:rpm:0", 5)], NOW)).admitted
    assert (await counters.admit([charge("gw:lim:key:1:rpm:0", 3)], NOW)).refused == 0
    assert (await counters.admit([charge("gw:lim:key:1:rpm:0", 4)], NOW)).used == (4,)


async def test_redis_counters_expire_at_their_windows_end_from_the_calls_clock(clean_counters):
    counters = RedisCounters(url=os.environ["REDIS_URL"])
    # The call's clock 30.5 s before the window's end, whatever Redis's clock says: a counter lives that long.
    resets_at = window_bounds("minute", NOW)[1]
    try:
        await counters.admit([Charge("gw:lim:key:1:rpm:ttl", 10, 1, resets_at)], resets_at - 30.5)
        await counters.admit([Charge("gw:lim:key:1:rpm:ttl", 10, 1, resets_at)], resets_at - 30.5)
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
