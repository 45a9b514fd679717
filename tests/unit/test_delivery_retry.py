"""When a delivery is tried again (wa_conversions.delivery.retry): whole seconds SQS accepts, never
beyond its 12-hour visibility limit, never sooner than the destination asked."""

from __future__ import annotations

import pytest

from wa_conversions.delivery.retry import MAX_VISIBILITY_SECONDS, RetryPolicy


def fixed(value: float, **settings: float) -> RetryPolicy:
    return RetryPolicy(random=lambda: value, **settings)  # type: ignore[arg-type]


def test_a_first_receive_and_a_missing_count_wait_the_same_first_step() -> None:
    policy = fixed(0.0, base_seconds=10)

    assert policy.delay(0) == policy.delay(1) == 5
    assert policy.delay(-3) == 5


def test_the_random_half_spreads_retries_between_half_and_the_whole_step() -> None:
    delays = {fixed(r, base_seconds=40).delay(3) for r in (0.0, 0.25, 0.5, 0.999)}

    assert min(delays) == 80 and max(delays) == 160
    assert len(delays) == 4


def test_a_fractional_delay_is_rounded_up_and_never_below_one_second() -> None:
    assert fixed(0.0, base_seconds=0.1).delay(1) == 1
    assert fixed(0.5, base_seconds=3).delay(1) == 3  # 1.5 + 0.75 = 2.25 -> 3


def test_a_policy_with_its_own_cap_stops_growing_there() -> None:
    policy = fixed(0.999, base_seconds=30, cap_seconds=300)

    assert [policy.delay(n) for n in (3, 4, 5, 30)] == [120, 240, 300, 300]


def test_the_default_cap_is_sqs_limit_even_for_the_hundredth_attempt() -> None:
    assert RetryPolicy(random=lambda: 0.0).delay(100) == MAX_VISIBILITY_SECONDS // 2
    assert RetryPolicy(random=lambda: 1.0).delay(100) == MAX_VISIBILITY_SECONDS


@pytest.mark.parametrize(
    ("retry_after", "randomness", "expected"),
    [
        (10.0, 0.999, 11),  # jitter of at most a tenth on top of what was asked
        (600.0, 0.999, 605),  # and at most five seconds
        (0.0, 0.5, 1),  # "now" still waits the shortest SQS allows
        (86_400.0, 0.0, MAX_VISIBILITY_SECONDS),  # a day: SQS cannot hide it that long
    ],
)
def test_retry_after_replaces_the_backoff_with_little_jitter(
    retry_after: float, randomness: float, expected: int
) -> None:
    # The seventh attempt's own backoff (30 s x 2^6 = 32 min) is ignored: the destination said when.
    assert fixed(randomness).delay(7, retry_after=retry_after) == expected


def test_the_last_attempt_is_the_one_the_queue_would_move_on_its_own() -> None:
    policy = RetryPolicy(max_attempts=3)

    assert [policy.is_last(n) for n in (1, 2, 3, 4)] == [False, False, True, True]
