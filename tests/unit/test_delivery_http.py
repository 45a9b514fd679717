"""The destinations' HTTP (wa_conversions.delivery.http): one pooled client per destination and address
until reset, strict compact JSON, and what `send` puts on the wire (respx plays the destination)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx

from wa_conversions import reset
from wa_conversions.delivery import http
from wa_conversions.delivery.outcome import OutcomeKind

BASE = "https://destination.test"


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    reset()
    yield
    reset()


@pytest.mark.parametrize(
    ("timeout", "longest"),
    [
        (5.0, 12.0),  # connect (at most 2 s), then write and read, each up to the timeout
        (1.0, 3.0),  # a timeout shorter than the connect limit bounds the connect too
        (10.0, 22.0),
    ],
)
def test_the_longest_request_adds_up_each_phase(timeout: float, longest: float) -> None:
    assert http.longest_request_seconds(timeout) == longest


def test_one_client_per_destination_address_and_timeout_kept_until_reset() -> None:
    first = http.client_for("cm", BASE)

    assert http.client_for("cm", BASE) is first
    assert http.client_for("wax", BASE) is not first
    assert http.client_for("cm", "https://other.test") is not first
    assert http.client_for("cm", BASE, timeout=9.0) is not first

    reset()

    assert first.is_closed
    assert http.client_for("cm", BASE) is not first


def test_a_client_connects_fast_and_leaves_the_rest_to_the_destinations_timeout() -> None:
    client = http.client_for("dialog360", BASE, timeout=8.0)

    assert client.timeout == httpx.Timeout(8.0, connect=2.0)
    assert client.base_url.host == "destination.test"
    assert client.headers["User-Agent"] == http.USER_AGENT


def test_json_is_compact_and_keeps_non_ascii_text_as_utf8() -> None:
    assert http.encode_json({"name": "José", "items": [1, 2.5]}) == '{"name":"José","items":[1,2.5]}'.encode()


@pytest.mark.parametrize("body", [{"value": float("nan")}, {"at": object()}, {1j: "complex key"}])
def test_what_json_has_no_form_for_is_refused_with_the_reason(body: object) -> None:
    with pytest.raises(http.UnsendableError, match="the request cannot be written as JSON"):
        http.encode_json(body)


@respx.mock
def test_a_json_request_goes_with_its_content_type_and_the_callers_headers() -> None:
    route = respx.post(f"{BASE}/v1/events").mock(return_value=httpx.Response(202, json={"ok": True}))

    outcome = http.send(
        http.client_for("wax", BASE),
        "POST",
        "/v1/events",
        json={"unique_id": "shopify:s:1:order", "value": 59.9},
        headers={"Authorization": "Bearer t"},
    )

    assert (outcome.kind, outcome.status_code, outcome.body) == (OutcomeKind.DELIVERED, 202, {"ok": True})
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer t"
    assert request.headers["User-Agent"] == http.USER_AGENT
    assert json.loads(request.content) == {"unique_id": "shopify:s:1:order", "value": 59.9}


@respx.mock
def test_a_caller_may_name_its_own_content_type_and_a_bodyless_request_has_none() -> None:
    route = respx.route(host="destination.test").mock(return_value=httpx.Response(200))
    client = http.client_for("collector", BASE)

    http.send(client, "POST", "/batch", json=[], headers={"Content-Type": "application/vnd.api+json"})
    http.send(client, "GET", "/health")

    posted, fetched = (call.request for call in route.calls)
    assert posted.headers["Content-Type"] == "application/vnd.api+json"
    assert posted.content == b"[]"
    assert "Content-Type" not in fetched.headers and fetched.content == b""


@respx.mock
def test_a_conflict_is_delivered_only_when_the_caller_says_so() -> None:
    respx.post(f"{BASE}/metric-events").mock(return_value=httpx.Response(409, json={"error": "exists"}))
    client = http.client_for("wax", BASE)

    dedupes = http.send(client, "POST", "/metric-events", json={}, conflict_is_delivered=True)
    other = http.send(client, "POST", "/metric-events", json={})

    assert dedupes.kind is OutcomeKind.DELIVERED
    assert other.kind is OutcomeKind.PERMANENT
    assert other.error == 'HTTP 409: {"error":"exists"}'
