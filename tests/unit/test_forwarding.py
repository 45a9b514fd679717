"""Forwarding logic without AWS: Meta's hashing test vectors, outcome classification, backoff, and a
Meta batch with one bad event split until it stands alone (respx plays Meta)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import respx

from wa_conversions.config import MetaCapiSettings
from wa_conversions.delivery.outcome import OutcomeKind, classify_response, parse_retry_after
from wa_conversions.delivery.retry import RetryPolicy
from wa_conversions.delivery.runner import Job, Planned, QueuedMessage
from wa_conversions.forwarding.hashing import hash_email, hash_phone, normalize_phone
from wa_conversions.forwarding.meta_capi import MetaCapiDestination, MetaEvent


# Meta's documented examples (Conversions API, customer information parameters).
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("John_Smith@gmail.com", "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"),
        ("  john_smith@gmail.com ", "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"),
    ],
)
def test_email_is_normalised_then_hashed_as_meta_documents(given: str, expected: str) -> None:
    assert hash_email(given) == expected


@pytest.mark.parametrize("given", ["+1 (650) 555-1212", "16505551212", "001-650-555-1212", "+16505551212"])
def test_phone_is_normalised_then_hashed_as_meta_documents(given: str) -> None:
    assert normalize_phone(given) == "16505551212"
    assert hash_phone(given) == "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"


def test_values_that_cannot_be_normalised_or_are_hashed_already() -> None:
    assert hash_email("not-an-email") is None
    assert hash_phone("0123") is None
    already = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"
    assert hash_phone(already.upper()) == already


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "delivered"),
        (201, "delivered"),
        (409, "permanent"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (400, "permanent"),
        (404, "permanent"),
    ],
)
def test_answers_are_classified(status: int, kind: str) -> None:
    assert classify_response(httpx.Response(status)).kind == kind


def test_409_is_delivered_where_the_destination_says_so_and_retry_after_is_read() -> None:
    assert classify_response(httpx.Response(409), conflict_is_delivered=True).kind is OutcomeKind.DELIVERED
    outcome = classify_response(httpx.Response(429, headers={"Retry-After": "7"}))
    assert outcome.retry_after == 7
    assert parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT") is not None


def test_backoff_grows_with_jitter_is_capped_and_never_precedes_retry_after() -> None:
    low = RetryPolicy(base_seconds=30, random=lambda: 0.0)
    high = RetryPolicy(base_seconds=30, random=lambda: 0.999)
    assert [low.delay(n) for n in (1, 2, 3)] == [15, 30, 60]
    assert [high.delay(n) for n in (1, 2, 3)] == [30, 60, 120]
    assert 6 * 3600 <= high.delay(40) <= 12 * 3600
    assert low.delay(1, retry_after=120) == 120
    assert low.is_last(16) and not low.is_last(15)


def _settings() -> MetaCapiSettings:
    return MetaCapiSettings.model_validate(
        {
            "TABLE_NAME": "t",
            "DELIVERY_QUEUE_URL": "q",
            "DELIVERY_DLQ_URL": "d",
            "META_DATASET_ID": "42",
            "META_GRAPH_BASE_URL": "https://graph.test",
        }
    )


def _job(event_id: str) -> Job:
    event = {"event_name": "Purchase", "event_id": event_id, "event_time": int(time.time())}
    message = QueuedMessage(message_id=event_id, receipt_handle="h", body="{}", receive_count=1, json={})
    return Job(
        message, Planned(event_id=event_id, request=MetaEvent(event, "")), delivery_id=event_id, attempt=1
    )


@respx.mock
def test_a_rejected_meta_batch_is_split_until_the_bad_event_stands_alone() -> None:
    def meta(request: httpx.Request) -> httpx.Response:
        data: list[dict[str, Any]] = json.loads(request.content)["data"]
        if any(event["event_id"] == "bad" for event in data):
            return httpx.Response(400, json={"error": {"code": 100, "error_subcode": 2804066}})
        return httpx.Response(200, json={"events_received": len(data)})

    route = respx.post("https://graph.test/v23.0/42/events").mock(side_effect=meta)
    with httpx.Client(base_url="https://graph.test") as client:
        destination = MetaCapiDestination(_settings(), lambda: client, lambda: "token")
        outcomes = destination.deliver([_job(i) for i in ("a", "b", "bad", "c")])

    assert [o.kind for o in outcomes] == ["delivered", "delivered", "permanent", "delivered"]
    sizes = [len(json.loads(call.request.content)["data"]) for call in route.calls]
    assert sizes[0] == 4  # one request for the whole batch first
    assert route.calls[0].request.headers["Authorization"] == "Bearer token"


@respx.mock
def test_meta_throttling_is_retried_not_parked() -> None:
    respx.post("https://graph.test/v23.0/42/events").mock(
        return_value=httpx.Response(
            400, json={"error": {"code": 17, "message": "User request limit reached"}}
        )
    )
    with httpx.Client(base_url="https://graph.test") as client:
        destination = MetaCapiDestination(_settings(), lambda: client, lambda: "token")
        [outcome] = destination.deliver([_job("a")])
    assert outcome.kind is OutcomeKind.RETRY
