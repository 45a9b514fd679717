"""timeit, held to a time budget per contender, reporting microseconds per call."""

from __future__ import annotations

import gc
import os
import statistics
import timeit
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    best_us: float  # min over repeats: the figure ratios use, least disturbed by other load
    median_us: float
    number: int  # calls per repeat
    repeats: int


def measure_together(
    calls: Mapping[str, Callable[[], object]], *, budget_s: float, repeats: int
) -> dict[str, Timing]:
    """Each call timed for about `budget_s`, in `repeats` rounds of many calls."""
    timers: dict[str, timeit.Timer] = {}
    numbers: dict[str, int] = {}
    for name, call in calls.items():
        # The first call pays one-off costs (lazy imports, caches) that a warm Lambda has paid.
        call()
        single = min(timeit.Timer(call).repeat(repeat=3, number=1))
        numbers[name] = max(1, int(budget_s / repeats / max(single, 1e-9)))
        # timeit turns the collector off; the contenders differ mostly in how much they allocate,
        # and a Lambda runs with it on, so setup turns it back on inside the timed region.
        timers[name] = timeit.Timer(call, setup=gc.enable)
    per_call: dict[str, list[float]] = {name: [] for name in calls}
    # Round-robin, so a burst of load from elsewhere lands on every contender alike, not on one.
    for _ in range(repeats):
        for name, timer in timers.items():
            per_call[name].append(timer.timeit(numbers[name]) / numbers[name] * 1e6)
    return {
        name: Timing(min(values), statistics.median(values), numbers[name], repeats)
        for name, values in per_call.items()
    }


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not every platform has one
        return None


def busy_note(load: float | None) -> str | None:
    """A warning when other work competes for the CPUs: absolute figures then run high, and the
    medians (which the cold-import ratios use) more than the minimums."""
    cpus = os.cpu_count() or 1
    # The benchmark keeps one CPU busy itself.
    if load is None or load < max(1.5, cpus - 0.5):
        return None
    return (
        f"Note: the machine was busy (1-minute load {load:.1f} on {cpus} CPUs, this run included): figures"
        " may run high and noisy, medians most. If medians sit far above the [min] figures, rerun."
    )
