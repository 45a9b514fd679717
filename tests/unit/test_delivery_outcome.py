"""What a destination's answer means (wa_conversions.delivery.outcome): the reason kept with it, the
answer's own body on success, and Retry-After read as seconds from now in both of its forms."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from wa_conversions.delivery.outcome import (
    MAX_ERROR_LENGTH,
    Outcome,
    OutcomeKind,
    classify_exception,
    classify_response,
    error_text,
    parse_retry_after,
    response_json,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("build", "kind"),
    [
        (Outcome.retry, OutcomeKind.RETRY),
        (Outcome.permanent, OutcomeKind.PERMANENT),
        (Outcome.ambiguous, OutcomeKind.AMBIGUOUS),
        (Outcome.skipped, OutcomeKind.SKIPPED),
    ],
)
def test_a_long_reason_is_cut_to_what_the_delivery_log_keeps(build: object, kind: OutcomeKind) -> None:
    outcome = build("x" * 2000, 400)  # type: ignore[operator]

    assert outcome.kind is kind
    assert outcome.status_code == 400
    assert outcome.error == "x" * MAX_ERROR_LENGTH


def test_two_deliveries_are_equal_whatever_the_answers_body() -> None:
    assert Outcome.delivered(200, {"id": "a"}) == Outcome.delivered(200, {"id": "b"})
    assert Outcome.delivered(200) != Outcome.delivered(201)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("-30", 0.0),  # never in the past
        ("Mon, 02 Mar 2026 10:02:00 GMT", 120.0),
        ("Mon, 02 Mar 2026 10:00:30 -0000", 30.0),  # no zone given: read as UTC
        ("Mon, 02 Mar 2026 09:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_from_now_in_either_form(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_a_success_keeps_the_destinations_json_answer_and_a_text_answer_is_none() -> None:
    with_id = classify_response(httpx.Response(201, json={"external_event_id": "e-1"}))
    text = classify_response(httpx.Response(200, text="OK"))

    assert (with_id.kind, with_id.status_code, with_id.body) == (
        OutcomeKind.DELIVERED,
        201,
        {"external_event_id": "e-1"},
    )
    assert text.kind is OutcomeKind.DELIVERED and text.body is None


def test_a_refusal_says_the_status_and_the_answer_on_one_line() -> None:
    response = httpx.Response(400, text='{"error":\n  "bad phone"}\n')

    outcome = classify_response(response)

    assert outcome.kind is OutcomeKind.PERMANENT
    assert outcome.error == 'HTTP 400: {"error":   "bad phone"}'
    assert len(error_text(httpx.Response(500, text="y" * 900))) == MAX_ERROR_LENGTH


def test_a_request_timeout_is_retried_honouring_retry_after_and_a_504_is_ambiguous() -> None:
    timeout = classify_response(httpx.Response(408, headers={"Retry-After": "45"}))
    gateway = classify_response(httpx.Response(504, text="upstream timed out"))

    assert (timeout.kind, timeout.retry_after) == (OutcomeKind.RETRY, 45.0)
    assert gateway.kind is OutcomeKind.AMBIGUOUS and gateway.status_code == 504
    assert gateway.error == "sent, outcome unknown: HTTP 504: upstream timed out"


def test_a_conflict_counts_as_delivered_only_where_the_destination_dedupes() -> None:
    conflict = httpx.Response(409, json={"error": "duplicate unique_id"})

    assert classify_response(conflict, conflict_is_delivered=True) == Outcome.delivered(409)
    assert classify_response(conflict).kind is OutcomeKind.PERMANENT


def test_an_answer_that_is_not_json_reads_as_none() -> None:
    assert response_json(httpx.Response(200, text="<html>")) is None
    assert response_json(httpx.Response(200, json=[1, 2])) == [1, 2]


@pytest.mark.parametrize(
    "error",
    [
        httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."),
        httpx.LocalProtocolError("Illegal header value"),
        httpx.ProxyError("407 Proxy Authentication Required"),
        # not httpx's: nothing was sent
        RuntimeError("client closed"),
    ],
)
def test_failures_that_stop_before_the_request_leaves_are_retried(error: Exception) -> None:
    outcome = classify_exception(error)

    assert outcome.kind is OutcomeKind.RETRY
    assert outcome.error == f"{type(error).__name__}: {error}"


def test_a_failure_after_sending_says_the_outcome_is_unknown() -> None:
    outcome = classify_exception(httpx.ReadError("connection reset"))

    assert outcome.error == "sent, outcome unknown: ReadError: connection reset"


@pytest.mark.parametrize("header", ["inf", "Infinity", "1e400", "nan"])
def test_a_retry_after_that_is_not_delta_seconds_or_a_date_is_no_delay(header: str) -> None:
    assert parse_retry_after(header) is None
