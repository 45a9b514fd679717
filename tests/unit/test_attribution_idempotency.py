"""attribution.idempotency: the Idempotency-Key header. A usable key, a request's fingerprint, and
IdempotentRequests over a key store in memory that keeps the repository's contract (a claim is free
once expired; a take-over succeeds only on the claim it saw), with a clock the test moves."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from wa_conversions.attribution.idempotency import (
    KEY_TTL_SECONDS,
    LEASE_SECONDS,
    Answer,
    IdempotentRequests,
    fingerprint,
    parse_key,
)
from wa_conversions.errors import BadRequestError, ConflictError, NotFoundError, UnprocessableError

NOW = 1_760_000_000
BOOKING = {"lead_phone": "+16505551234", "action": "Booked", "revenue": {"amount": "80", "currency": "MXN"}}


class Keys:
    """Claims by (scope, key), as AttributionRepository keeps them."""

    def __init__(self) -> None:
        self.claims: dict[tuple[str, str], dict[str, Any]] = {}
        self.vanish_once = False
        self.lose_take_over = False

    def claim_idempotency_key(
        self, scope: str, key: str, attributes: dict[str, Any], now: int
    ) -> dict[str, Any] | None:
        held = self.claims.get((scope, key))
        if held is None or held["expires_at"] < now:
            self.claims[(scope, key)] = dict(attributes)
            return None
        if self.vanish_once:
            self.vanish_once = False
            del self.claims[(scope, key)]
            return {}
        return dict(held)

    def take_over_idempotency_key(self, scope: str, key: str, claimed_at: int, now: int) -> bool:
        held = self.claims[(scope, key)]
        if self.lose_take_over or held["state"] != "in_progress" or held["claimed_at"] != claimed_at:
            return False
        held["claimed_at"] = now
        return True

    def complete_idempotency_key(
        self, scope: str, key: str, status_code: int, response: str, expires_at: int
    ) -> None:
        self.claims[(scope, key)].update(
            state="completed", status_code=status_code, response=response, expires_at=expires_at
        )


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


class Handler:
    """Creates a resource under the id it is given; `fail` makes it raise that instead."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.ids: list[str] = []
        self.fail = fail

    def __call__(self, resource_id: str) -> Answer:
        self.ids.append(resource_id)
        if self.fail is not None:
            raise self.fail
        return Answer(201, {"external_event_id": resource_id})


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def requests(keys: Keys, clock: Clock) -> IdempotentRequests:
    return IdempotentRequests(keys, "external-events", clock)


# -- the header ----------------------------------------------------------------------------------


def test_a_key_is_taken_trimmed_and_a_missing_header_is_no_key() -> None:
    assert parse_key("  6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f \t") == "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
    assert parse_key("k" * 255) == "k" * 255
    assert parse_key(None) is None


@pytest.mark.parametrize("header", ["", " ", "k" * 256, "clé", "tab\there", "\x00"])
def test_an_unusable_key_is_a_400_naming_the_header(header: str) -> None:
    with pytest.raises(BadRequestError, match="1 to 255 printable ASCII characters") as refused:
        parse_key(header)
    assert (refused.value.status_code, refused.value.field) == (400, "Idempotency-Key")


def test_the_fingerprint_is_the_content_whatever_the_key_order() -> None:
    reordered = {
        "revenue": {"currency": "MXN", "amount": "80"},
        "action": "Booked",
        "lead_phone": "+16505551234",
    }
    assert fingerprint(BOOKING) == fingerprint(reordered)
    assert fingerprint(BOOKING) != fingerprint({**BOOKING, "action": "Cancelled"})
    assert len(fingerprint(BOOKING)) == 64


# -- one answer per key --------------------------------------------------------------------------


def test_without_a_key_every_call_is_new_and_nothing_is_kept(keys: Keys, clock: Clock) -> None:
    handler = Handler()

    first = requests(keys, clock).run(None, BOOKING, handler)
    second = requests(keys, clock).run(None, BOOKING, handler)

    assert first.body != second.body
    assert len({uuid.UUID(i) for i in handler.ids}) == 2
    assert keys.claims == {}


def test_the_first_answer_is_kept_for_a_day_and_replayed_as_it_was(keys: Keys, clock: Clock) -> None:
    handler = Handler()

    first = requests(keys, clock).run("k-1", BOOKING, handler)
    clock.now += KEY_TTL_SECONDS - 1
    again = requests(keys, clock).run("k-1", dict(reversed(BOOKING.items())), handler)

    assert (first.status_code, first.replayed) == (201, False)
    assert (again.status_code, again.body, again.replayed) == (201, first.body, True)
    assert len(handler.ids) == 1
    stored = keys.claims[("external-events", "k-1")]
    assert (stored["state"], stored["expires_at"]) == ("completed", NOW + KEY_TTL_SECONDS)
    assert json.loads(stored["response"]) == first.body


def test_the_resource_gets_the_id_the_claim_recorded(keys: Keys, clock: Clock) -> None:
    handler = Handler()

    requests(keys, clock).run("k-1", BOOKING, handler)

    assert handler.ids == [keys.claims[("external-events", "k-1")]["resource_id"]]


def test_after_a_day_the_key_is_free_for_a_new_request(keys: Keys, clock: Clock) -> None:
    handler = Handler()
    first = requests(keys, clock).run("k-1", BOOKING, handler)

    clock.now += KEY_TTL_SECONDS + 1
    second = requests(keys, clock).run("k-1", {**BOOKING, "action": "Booked again"}, handler)

    assert (second.status_code, second.replayed) == (201, False)
    assert second.body != first.body


def test_the_same_key_in_another_scope_is_another_key(keys: Keys, clock: Clock) -> None:
    handler = Handler()
    requests(keys, clock).run("k-1", BOOKING, handler)

    other = IdempotentRequests(keys, "links", clock).run("k-1", BOOKING, handler)

    assert other.replayed is False
    assert len(handler.ids) == 2


def test_the_same_key_with_another_request_is_a_422_and_the_first_answer_stays(
    keys: Keys, clock: Clock
) -> None:
    handler = Handler()
    first = requests(keys, clock).run("k-1", BOOKING, handler)

    with pytest.raises(UnprocessableError, match="already used with a different request") as refused:
        requests(keys, clock).run("k-1", {**BOOKING, "action": "Cancelled"}, handler)

    assert refused.value.field == "Idempotency-Key"
    assert requests(keys, clock).run("k-1", BOOKING, handler).body == first.body
    assert len(handler.ids) == 1


def test_a_refusal_is_the_first_answer_too(keys: Keys, clock: Clock) -> None:
    missing = Handler(NotFoundError("No off-thread event nope", field="previous_external_event_id"))

    first = requests(keys, clock).run("k-2", BOOKING, missing)
    again = requests(keys, clock).run("k-2", BOOKING, Handler())

    assert first.status_code == 404
    assert first.body["field"] == "previous_external_event_id"
    assert (again.status_code, again.body, again.replayed) == (404, first.body, True)


def test_an_unexpected_failure_keeps_the_claim_and_a_retry_within_the_lease_is_a_409(
    keys: Keys, clock: Clock
) -> None:
    with pytest.raises(RuntimeError):
        requests(keys, clock).run("k-3", BOOKING, Handler(RuntimeError("DynamoDB timed out")))
    assert keys.claims[("external-events", "k-3")]["state"] == "in_progress"

    clock.now += LEASE_SECONDS - 1
    with pytest.raises(ConflictError, match="still being processed") as refused:
        requests(keys, clock).run("k-3", BOOKING, Handler())
    assert (refused.value.status_code, refused.value.field) == (409, "Idempotency-Key")


def test_a_claim_older_than_the_lease_is_taken_over_with_the_same_resource_id(
    keys: Keys, clock: Clock
) -> None:
    crashed = Handler(RuntimeError("Task timed out after 29.00 seconds"))
    with pytest.raises(RuntimeError):
        requests(keys, clock).run("k-4", BOOKING, crashed)

    clock.now += LEASE_SECONDS
    retry = Handler()
    answer = requests(keys, clock).run("k-4", BOOKING, retry)

    assert retry.ids == crashed.ids  # the conditional write then finds what the first one stored
    assert (answer.status_code, answer.replayed) == (201, False)
    assert keys.claims[("external-events", "k-4")]["state"] == "completed"


def test_a_take_over_lost_to_another_retry_is_a_409(keys: Keys, clock: Clock) -> None:
    with pytest.raises(RuntimeError):
        requests(keys, clock).run("k-5", BOOKING, Handler(RuntimeError("crash")))
    clock.now += 2 * LEASE_SECONDS
    keys.lose_take_over = True
    retry = Handler()

    with pytest.raises(ConflictError):
        requests(keys, clock).run("k-5", BOOKING, retry)
    assert retry.ids == []


def test_a_claim_that_vanished_between_write_and_read_is_claimed_again(keys: Keys, clock: Clock) -> None:
    requests(keys, clock).run("k-6", BOOKING, Handler())
    keys.vanish_once = True
    handler = Handler()

    answer = requests(keys, clock).run("k-6", BOOKING, handler)

    assert (answer.status_code, answer.replayed) == (201, False)
    assert handler.ids == [keys.claims[("external-events", "k-6")]["resource_id"]]
