"""Forwarding logic without AWS: Meta's hashing test vectors, outcome classification (what was never
sent, what may have arrived), backoff, and bodies no destination could read (respx plays them)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import respx

from tests.support.cfn import load_template
from wa_conversions.config import MetaCapiSettings
from wa_conversions.delivery import http
from wa_conversions.delivery.outcome import (
    OutcomeKind,
    classify_exception,
    classify_response,
    parse_retry_after,
)
from wa_conversions.delivery.retry import RetryPolicy
from wa_conversions.delivery.runner import (
    LEASE_SECONDS,
    Job,
    Planned,
    QueuedMessage,
    reserve_seconds,
)
from wa_conversions.errors import PermanentFailure
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
        (502, "retry"),
        # a gateway that gave up on the service behind it: that service may have taken it
        (504, "ambiguous"),
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


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        # never left: safe to send again anywhere
        (httpx.ConnectError("[Errno 111] Connection refused"), "retry"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "retry"),
        (httpx.ConnectTimeout("timed out"), "retry"),
        (httpx.PoolTimeout("timed out"), "retry"),
        # left, and no answer came back: the destination may have it
        (httpx.ReadTimeout("timed out"), "ambiguous"),
        (httpx.WriteTimeout("timed out"), "ambiguous"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "ambiguous"),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), "ambiguous"),
        (httpx.WriteError("[Errno 32] Broken pipe"), "ambiguous"),
    ],
)
def test_a_failure_before_sending_is_retried_and_one_after_is_ambiguous(
    error: httpx.HTTPError, kind: str
) -> None:
    outcome = classify_exception(error)
    assert outcome.kind == kind
    assert type(error).__name__ in (outcome.error or "")


@respx.mock
def test_a_read_timeout_reaches_send_as_ambiguous_and_a_refused_connection_as_retry() -> None:
    respx.post("https://dest.test/late").mock(side_effect=httpx.ReadTimeout("timed out"))
    respx.post("https://dest.test/closed").mock(side_effect=httpx.ConnectError("refused"))
    with httpx.Client(base_url="https://dest.test") as client:
        late = http.send(client, "POST", "/late", json={"a": 1})
        closed = http.send(client, "POST", "/closed", json={"a": 1})
    assert (late.kind, closed.kind) == (OutcomeKind.AMBIGUOUS, OutcomeKind.RETRY)


@respx.mock
def test_a_body_that_is_not_json_is_permanent_and_never_sent() -> None:
    route = respx.post("https://dest.test/events").mock(return_value=httpx.Response(200))
    with httpx.Client(base_url="https://dest.test") as client:
        outcome = http.send(client, "POST", "/events", json={"value": float("inf")})
    assert outcome.kind is OutcomeKind.PERMANENT
    assert "JSON" in (outcome.error or "")
    assert not route.called


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


def _conversion(value: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "detail-type": "conversion.attributed",
        "detail": {
            "event": "conversion.attributed",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
            "properties": {
                "conversionId": "shopify:s:1",
                "eventId": "shopify:s:1:order",
                "kind": "order",
                "value": value,
                "currency": "EUR",
                "phone": "16505551234",
                "ctwaClid": "clid",
                "clickedAt": now - 3600,
            },
        },
    }


def test_a_conversion_with_an_infinite_value_is_refused_when_planned_with_its_reason() -> None:
    # json.loads reads 1e400 as inf: Meta's whole batch would then fail to serialise.
    message = json.loads(json.dumps(_conversion(1)).replace('"value": 1', '"value": 1e400'))
    destination = MetaCapiDestination(_settings(), lambda: httpx.Client(), lambda: "token")

    with pytest.raises(PermanentFailure, match="finite"):
        destination.plan(QueuedMessage("m", "h", "{}", 1, message))
    assert isinstance(destination.plan(QueuedMessage("m", "h", "{}", 1, _conversion(59.9))), Planned)


def _job(event_id: str) -> Job:
    event = {"event_name": "Purchase", "event_id": event_id, "event_time": int(time.time())}
    message = QueuedMessage(message_id=event_id, receipt_handle="h", body="{}", receive_count=1, json={})
    return Job(
        message, Planned(event_id=event_id, request=MetaEvent(event, "")), delivery_id=event_id, attempt=1
    )


@respx.mock
def test_meta_gets_a_batch_in_one_request_and_throttling_is_retried_not_parked() -> None:
    route = respx.post("https://graph.test/v26.0/42/events").mock(
        side_effect=[
            httpx.Response(200, json={"events_received": 3}),
            httpx.Response(400, json={"error": {"code": 17, "message": "User request limit reached"}}),
        ]
    )
    with httpx.Client(base_url="https://graph.test") as client:
        destination = MetaCapiDestination(_settings(), lambda: client, lambda: "token")
        sent = destination.send([_job(i) for i in ("a", "b", "c")])
        throttled = destination.send([_job("d")])

    assert sent.kind is OutcomeKind.DELIVERED
    assert [e["event_id"] for e in json.loads(route.calls[0].request.content)["data"]] == ["a", "b", "c"]
    assert route.calls[0].request.headers["Authorization"] == "Bearer token"
    assert throttled.kind is OutcomeKind.RETRY


# Delivering functions, the settings that bound each request, and the events per batch they receive.
DELIVERING = {
    "WaxForwarderFunction": 10,
    "MetaCapiForwarderFunction": 1000,
    "CmConversionsForwarderFunction": 10,
    "Dialog360ForwarderFunction": 10,
    "CmEventsFunction": 10,
}


@pytest.mark.parametrize("logical_id", sorted(DELIVERING))
def test_each_request_fits_well_inside_its_functions_timeout(logical_id: str) -> None:
    template = load_template()
    function = template["Resources"][logical_id]["Properties"]
    timeout = function.get("Timeout", template["Globals"]["Function"]["Timeout"])
    assert function["Environment"]["Variables"]["DELIVERY_HTTP_TIMEOUT_SECONDS"] == {
        "Ref": "DeliveryHttpTimeoutSeconds"
    }
    longest_allowed = float(template["Parameters"]["DeliveryHttpTimeoutSeconds"]["MaxValue"])
    request = http.longest_request_seconds(longest_allowed)
    # After the longest first request, the runner must still have its reserve to start another.
    assert request + reserve_seconds(request, DELIVERING[logical_id]) <= timeout
    # A claim's lease outlives the invocation that took it, so a live claim is never taken over.
    assert timeout < LEASE_SECONDS
