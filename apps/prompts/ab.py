"""A/B choice between prompt versions (pure: no Django; the gateway imports it on its hot path).

The choice is a function of the sticky key alone: the same app (or conversation) always gets the same
version while the split is unchanged, and over many keys each version's share matches its weight."""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate


def _hash64(sticky_key: str) -> int:
    """The key's SHA-256 as a 64-bit integer: divided by 2**64, a uniform point in [0, 1) fixed by the key."""
    return int.from_bytes(hashlib.sha256(sticky_key.encode()).digest()[:8], "big")


def choose_version(*, live: int, split: Sequence[tuple[int, int]], sticky_key: str) -> int:
    """The version number for `sticky_key`: `live` without a split, else one of the split's (version, weight)
    pairs with probability weight / total. Put the service in the key (e.g. f"{service_id}:{app_id}") so
    two experiments do not pick the same slice of apps."""
    bounds = list(accumulate(weight for _, weight in split))
    if not bounds or bounds[-1] <= 0:
        return live
    target = (_hash64(sticky_key) * bounds[-1]) >> 64  # floor(point * total), exact: uniform in [0, total)
    return split[bisect_right(bounds, target)][0]
