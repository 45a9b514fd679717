"""The operator APIs' real handlers against moto, fed input a fuzzer found: each answers a 4xx with
the JSON error body (never a crash, which API Gateway turns into a 502) and stores nothing."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from devstack.sample_events import proxy_event
from tests.integration.conftest import TABLE, CaptureHarness

DEEP = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def call(
    harness: CaptureHarness,
    function: str,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    query: dict[str, str] | None = None,
    base64_body: bool = False,
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "X-Api-Key": harness.env["API_KEY"]}
    event = proxy_event(method, path, body=body, headers=headers, query=query, base64_body=base64_body)
    response = harness.invoke(function, event)
    return response["statusCode"], json.loads(response["body"])


def stored_items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=TABLE)["Items"]


def external_event(action: bytes) -> bytes:
    """A valid off-thread event whose action is the given JSON string content, as raw bytes."""
    return (
        b'{"lead_phone": "+14155550100", "action": "'
        + action
        + b'", "revenue": {"amount": 1, "currency": "EUR"}}'
    )


@pytest.mark.parametrize(
    ("function", "path", "body", "base64_body"),
    [
        ("attribution_api", "/external-events", DEEP, False),
        ("attribution_api", "/external-events", external_event(b"Booked \\ud800"), False),
        ("attribution_api", "/external-events", external_event(b"Booked \xed\xb3\xbf"), True),
        ("delivery_api", "/conversions", DEEP, False),
        ("delivery_api", "/conversions", b'{"accountId": "\\ud800", "eventName": "Purchase"}', False),
        ("capture_api", "/v1/capture", DEEP, False),
        ("capture_api", "/v1/capture", b'{"batch": [{"type": "track", "event": "\\udfff"}]}', False),
    ],
)
def test_bodies_nested_too_deeply_or_not_text_are_400(
    harness: CaptureHarness, function: str, path: str, body: bytes, base64_body: bool
) -> None:
    status, answer = call(harness, function, "POST", path, body, base64_body=base64_body)

    assert (status, answer["error"]) == (400, "bad_request"), answer
    assert answer["message"].startswith("Body is not valid JSON")
    assert stored_items() == []


def test_a_valid_event_beside_them_is_taken(harness: CaptureHarness) -> None:
    status, answer = call(
        harness, "attribution_api", "POST", "/external-events", external_event(b"Booked \\u00e9")
    )
    assert status == 201, answer


@pytest.mark.parametrize(
    "query",
    [
        {"to": "0001-01-01"},
        {"from": "0001-01-01", "to": "9999-12-31"},
        {"from": "2025-06-19", "to": "2025-06-18"},
        {"to": "2025-13-01"},
        {"to": "18 June 2025"},
    ],
)
def test_out_of_range_or_garbage_metric_dates_are_422(harness: CaptureHarness, query: dict[str, str]) -> None:
    status, answer = call(harness, "metrics_api", "GET", "/metrics", query=query)
    assert (status, answer["error"]) == (422, "validation_error")
    assert answer["field"] in {"from", "to"}


@pytest.mark.parametrize(
    ("function", "method", "path", "message"),
    [
        ("delivery_api", "GET", "/deliveries/%2F", "No delivery '/'"),
        ("delivery_api", "POST", "/deliveries/%2F/retry", "No delivery '/'"),
        ("operator_api", "GET", "/messages/a%2Fb%2Bc%3D%20d", "No message 'a/b+c= d'"),
        ("operator_api", "GET", "/contacts/a%2Fb%2Bc%3D%20d", "No contact 'a/b+c= d'"),
        ("operator_api", "GET", "/messages/%2525", "No message '%25'"),
        ("attribution_api", "GET", "/external-events/a%2Fb%2Bc%3D%20d", "No off-thread event a/b+c= d"),
        ("attribution_api", "GET", "/orders/a%2Fb%2Bc%3D%20d", "No order a/b+c= d"),
    ],
)
def test_ids_are_decoded_once_and_an_unknown_one_is_404(
    harness: CaptureHarness, function: str, method: str, path: str, message: str
) -> None:
    status, answer = call(harness, function, method, path)
    assert (status, answer["error"], answer["message"]) == (404, "not_found", message)


def test_cm_actions_decode_their_ids_once(harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CM_EVENTS_QUEUE_URL", harness.ingest_url)
    status, answer = call(harness, "cm_actions_api", "POST", "/messages/a%2Fb%2Bc%3D%20d/read")
    assert (status, answer["message"]) == (404, "No message 'a/b+c= d'")
    status, answer = call(harness, "cm_actions_api", "POST", "/contacts/%2B1%2F2/block")
    assert (status, answer["message"]) == (404, "No contact '+1/2'")
