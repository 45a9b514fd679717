"""When to try again: exponential backoff with jitter, by receive count, never before Retry-After."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

# SQS refuses a visibility timeout beyond 12 hours.
MAX_VISIBILITY_SECONDS = 12 * 3600


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 30.0
    # Same number as the queue's RedrivePolicy maxReceiveCount: the last attempt parks the message
    # with its reason instead of letting SQS move it without one.
    max_attempts: int = 16
    cap_seconds: int = MAX_VISIBILITY_SECONDS
    random: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> int:
        """Seconds until the next attempt after `attempt` (1 = the first receive) failed.

        "Equal jitter": half the exponential step is fixed, half random, so retries of a burst spread
        out but never come back sooner than half the step.
        """
        step = min(float(self.cap_seconds), self.base_seconds * 2 ** max(attempt - 1, 0))
        delay = step / 2 + self.random() * step / 2
        if retry_after is not None:
            # The destination said when; jitter only on top of that, and little of it.
            delay = retry_after + self.random() * min(retry_after * 0.1, 5.0)
        return int(min(self.cap_seconds, max(1, math.ceil(delay))))

    def is_last(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
