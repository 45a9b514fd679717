"""Response-time buckets: the second under a minute, coarser as times grow, capped at a week; and the
nearest-rank percentile read back from a histogram of them."""

from __future__ import annotations

import pytest

from wa_conversions.models.histogram import CAP_SECONDS, bucket_of, percentile

WEEK = 7 * 86_400


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [
        (0, 0),
        (0.9, 0),
        (59.99, 59),
        (60, 60),
        (64, 60),
        (65, 65),
        (299, 295),
        (300, 300),
        (329, 300),
        (330, 330),
        (1_799, 1_770),
        (1_800, 1_800),
        (2_099, 1_800),
        (2_100, 2_100),
        (7_199, 6_900),
        (7_200, 7_200),
        (8_999, 7_200),
        (9_000, 9_000),
        (86_399, 84_600),
        (86_400, 86_400),
        (90_001, 90_000),
        (WEEK - 1, WEEK - 3_600),
    ],
)
def test_a_time_falls_in_the_bucket_of_its_lower_bound(seconds: float, bucket: int) -> None:
    assert bucket_of(seconds) == bucket


@pytest.mark.parametrize("seconds", [WEEK, WEEK + 1, 365 * 86_400])
def test_a_week_or_more_is_the_last_bucket(seconds: int) -> None:
    assert bucket_of(seconds) == CAP_SECONDS == WEEK


@pytest.mark.parametrize("seconds", [-1, -0.5, -86_400])
def test_a_negative_time_counts_as_an_immediate_answer(seconds: float) -> None:
    # a reply stamped before the message it answers (clock skew) is not a bucket below zero
    assert bucket_of(seconds) == 0


def test_the_buckets_stay_few_however_many_distinct_times_there_are() -> None:
    buckets = {bucket_of(seconds) for seconds in range(0, WEEK + 10)}
    assert len(buckets) < 400
    assert buckets == {bucket_of(b) for b in buckets}  # a bound is its own bucket


def test_an_empty_histogram_has_no_percentile() -> None:
    assert percentile({}, 0.5) is None
    assert percentile({40: 0, 60: 0}, 0.9) is None


def test_the_median_and_p90_are_the_nearest_rank_buckets() -> None:
    # replies after 40, 60, 120, 600 and 1500 s: rank ceil(2.5) = 3 and ceil(4.5) = 5
    histogram = {bucket_of(s): 1 for s in (600, 40, 1_500, 120, 60)}
    assert percentile(histogram, 0.5) == 120
    assert percentile(histogram, 0.9) == 1_500


def test_counts_weigh_their_buckets() -> None:
    histogram = {10: 9, 3_600: 1}
    assert percentile(histogram, 0.5) == 10
    assert percentile(histogram, 0.9) == 10  # rank 9 of 10 is still the fast bucket
    assert percentile(histogram, 0.91) == 3_600


def test_the_lowest_fraction_is_the_first_time_and_the_whole_is_the_last() -> None:
    histogram = {300: 2, 5: 1, 86_400: 4}
    assert percentile(histogram, 0.0) == 5
    assert percentile(histogram, 1.0) == 86_400


def test_buckets_left_at_zero_or_below_are_not_counted() -> None:
    # counters move between buckets as late events arrive: a bucket may be left at 0 or briefly below
    histogram = {1: -2, 5: 0, 30: 1, 90: 1}
    assert percentile(histogram, 0.5) == 30
    assert percentile(histogram, 1.0) == 90
