"""What a destination's answer means for the delivery: delivered, retry later, never, or unknown."""

from __future__ import annotations

import email.utils
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

MAX_ERROR_LENGTH = 500


class OutcomeKind(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"
    # Sent, but no answer came back: the destination may have it. Only one that dedupes may get it again.
    AMBIGUOUS = "ambiguous"
    # The destination will never take it, and says so for a reason that is no failure (Meta's
    # restricted regions): recorded as skipped, not parked.
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    # The destination's JSON answer on success, for destinations that return ids to keep.
    body: Any = field(default=None, compare=False)

    @classmethod
    def delivered(cls, status_code: int | None = None, body: Any = None) -> Outcome:
        return cls(OutcomeKind.DELIVERED, status_code, body=body)

    @classmethod
    def retry(cls, error: str, status_code: int | None = None, retry_after: float | None = None) -> Outcome:
        return cls(OutcomeKind.RETRY, status_code, error[:MAX_ERROR_LENGTH], retry_after)

    @classmethod
    def permanent(cls, error: str, status_code: int | None = None) -> Outcome:
        return cls(OutcomeKind.PERMANENT, status_code, error[:MAX_ERROR_LENGTH])

    @classmethod
    def ambiguous(cls, error: str, status_code: int | None = None) -> Outcome:
        return cls(OutcomeKind.AMBIGUOUS, status_code, error[:MAX_ERROR_LENGTH])

    @classmethod
    def skipped(cls, reason: str, status_code: int | None = None) -> Outcome:
        return cls(OutcomeKind.SKIPPED, status_code, reason[:MAX_ERROR_LENGTH])


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "inf" and "1e400" parse as floats but are no delay (RFC 9110 10.2.3: digits)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def response_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return None


def error_text(response: httpx.Response) -> str:
    """A short reason from the answer: destinations put it in various places, so keep the body."""
    text = response.text.strip().replace("\n", " ")
    return f"HTTP {response.status_code}: {text}"[:MAX_ERROR_LENGTH]


def classify_response(response: httpx.Response, *, conflict_is_delivered: bool = False) -> Outcome:
    status = response.status_code
    if 200 <= status < 300:
        return Outcome.delivered(status, response_json(response))
    if status == 409 and conflict_is_delivered:
        # The destination already holds this event (Wax: same unique_id): that is what we wanted.
        return Outcome.delivered(status)
    if status == 504:
        # A gateway gave up waiting on the service behind it, which may still have taken the request.
        return Outcome.ambiguous(f"sent, outcome unknown: {error_text(response)}", status)
    if status == 429 or status >= 500 or status == 408:
        return Outcome.retry(
            error_text(response), status, parse_retry_after(response.headers.get("retry-after"))
        )
    return Outcome.permanent(error_text(response), status)


def classify_exception(error: Exception) -> Outcome:
    """A failure before the request left (no connection, DNS, refused, connect or pool timeout) is
    retried; one after it may have gone out (read or write timeout, a reset or a close before the
    answer) is ambiguous: the destination may have accepted it."""
    import httpx

    text = f"{type(error).__name__}: {error}"
    if isinstance(error, _never_sent()):
        return Outcome.retry(text)
    if isinstance(error, httpx.HTTPError):
        return Outcome.ambiguous(f"sent, outcome unknown: {text}")
    return Outcome.retry(text)


def _never_sent() -> tuple[type[Exception], ...]:
    import httpx

    # ConnectError is also DNS and refusals; LocalProtocolError and ProxyError stop before the request.
    return (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.UnsupportedProtocol,
        httpx.LocalProtocolError,
        httpx.ProxyError,
    )
