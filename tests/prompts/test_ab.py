"""choose_version: a deterministic, weighted, sticky choice (pure)."""

from __future__ import annotations

from collections import Counter

import pytest

from apps.prompts.ab import choose_version

KEYS = [f"service-7:app-{n}" for n in range(1000)]


@pytest.mark.parametrize(
    "split",
    [[(1, 50), (2, 50)], [(1, 90), (2, 10)], [(3, 1), (4, 1), (5, 2)], [(2, 7), (1, 3)]],
    ids=["50-50", "90-10", "25-25-50", "70-30"],
)
def test_shares_over_1000_keys_are_within_5_points_of_the_weights(split):
    counts = Counter(choose_version(live=1, split=split, sticky_key=key) for key in KEYS)
    total = sum(weight for _, weight in split)
    assert set(counts) == {version for version, _ in split}
    for version, weight in split:
        assert abs(counts[version] / len(KEYS) - weight / total) <= 0.05, (version, counts)


def test_the_same_key_always_gets_the_same_version():
    split = [(1, 1), (2, 1), (3, 1)]
    first = [choose_version(live=1, split=split, sticky_key=key) for key in KEYS]
    again = [choose_version(live=1, split=list(split), sticky_key=key) for key in KEYS]
    assert first == again


def test_without_a_split_the_live_version_takes_everything():
    assert {choose_version(live=4, split=[], sticky_key=key) for key in KEYS} == {4}


def test_growing_the_new_versions_weight_only_moves_keys_toward_it():
    """Going from 90/10 to 50/50 moves keys from v1 to v2, never the other way: users do not flap."""
    before = {key: choose_version(live=1, split=[(1, 90), (2, 10)], sticky_key=key) for key in KEYS}
    after = {key: choose_version(live=1, split=[(1, 50), (2, 50)], sticky_key=key) for key in KEYS}
    assert not [key for key in KEYS if before[key] == 2 and after[key] == 1]
