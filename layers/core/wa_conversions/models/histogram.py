"""Response-time histogram: a bounded set of buckets, so a day's distribution is one small map.

A bucket is named by its lower bound in seconds. Precision shrinks as times grow: to the second under
a minute, then 5 s up to 5 min, 30 s up to 30 min, 5 min up to 2 h, 30 min up to a day and an hour
beyond (capped at a week). A percentile is the lower bound of the bucket that holds the
nearest-rank value, so times that fall on a bucket's bound come back exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

# (up to this many seconds, step)
_STEPS: tuple[tuple[int, int], ...] = (
    (60, 1),
    (300, 5),
    (1_800, 30),
    (7_200, 300),
    (86_400, 1_800),
    (7 * 86_400, 3_600),
)
CAP_SECONDS = 7 * 86_400


def bucket_of(seconds: float) -> int:
    """The lower bound of the bucket holding a response time (negative times count as zero)."""
    value = max(0, int(seconds))
    for limit, step in _STEPS:
        if value < limit:
            return value - value % step
    return CAP_SECONDS


def percentile(histogram: Mapping[int, int], fraction: float) -> int | None:
    """Nearest-rank percentile of a histogram {bucket lower bound: count}; None when it is empty."""
    total = sum(count for count in histogram.values() if count > 0)
    if total == 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if count <= 0:
            continue
        seen += count
        if seen >= rank:
            return bucket
    return max(histogram)
