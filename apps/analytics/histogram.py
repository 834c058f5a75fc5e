"""Latency histograms with fixed bucket bounds: what rollups store instead of raw latencies.

Fixed bounds make histograms mergeable (hour = sum of its minutes, a dashboard filter = sum of the rows it
selects), so percentiles over any slice come from rollups alone, accurate to one bucket."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

# Bucket i holds latencies in [LATENCY_BOUNDS_MS[i-1], LATENCY_BOUNDS_MS[i]) milliseconds (the first from 0);
# a last, open bucket holds everything slower. PostgreSQL's width_bucket(x, bounds) computes the same index.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 400, 500, 750,
    1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 60_000, 120_000,
)  # fmt: skip
BUCKETS = len(LATENCY_BOUNDS_MS) + 1


def bucket_index(latency_ms: float) -> int:
    """The bucket a latency falls in: the first whose upper bound is above it."""
    return bisect_right(LATENCY_BOUNDS_MS, latency_ms)


def empty() -> list[int]:
    return [0] * BUCKETS


def merge(histograms: Iterable[Sequence[int]]) -> list[int]:
    total = empty()
    for histogram in histograms:
        for i, count in enumerate(histogram):
            total[i] += count
    return total


def add_into(total: list[int], histogram: Sequence[int]) -> None:
    for i, count in enumerate(histogram):
        total[i] += count


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """The q-quantile (0 < q <= 1) estimated by linear interpolation inside its bucket; None when empty.

    The estimate lies in the same bucket as the exact value (nearest-rank) of the latencies counted."""
    return percentiles(histogram, (q,))[0]


def percentiles(histogram: Sequence[int], qs: Sequence[float]) -> list[float | None]:
    """Several quantiles (ascending) in one pass over the buckets; each as `percentile` computes it."""
    count = sum(histogram)
    if count == 0:
        return [None] * len(qs)
    ranks = [max(1, -(-q * count // 1)) for q in qs]
    answers: list[float | None] = []
    seen = 0
    i = 0
    for bucket, in_bucket in enumerate(histogram):
        if not in_bucket:
            continue
        while i < len(ranks) and seen + in_bucket >= ranks[i]:
            low = LATENCY_BOUNDS_MS[bucket - 1] if bucket > 0 else 0.0
            high = LATENCY_BOUNDS_MS[bucket] if bucket < len(LATENCY_BOUNDS_MS) else LATENCY_BOUNDS_MS[-1] * 2
            answers.append(low + (high - low) * (ranks[i] - seen) / in_bucket)
            i += 1
        seen += in_bucket
    return answers
