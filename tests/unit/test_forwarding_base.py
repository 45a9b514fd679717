"""What the conversion forwarders share (wa_conversions.forwarding.base): reading the queued conversion,
the common skips with the facts the delivery log is filtered by, and the lazy client and secret."""

from __future__ import annotations

import pytest

from tests.support.delivery import conversion_event, queued
from wa_conversions.delivery.outcome import Outcome
from wa_conversions.delivery.runner import Job, Planned, Skip
from wa_conversions.errors import PermanentFailure
from wa_conversions.forwarding.base import ConversionDestination
from wa_conversions.forwarding.conversion import ConversionEvent


class Echo(ConversionDestination):
    """Sends the conversion's value, skips one without a phone, and says how it sent a refund."""

    name = "echo"

    def request_for(self, event: ConversionEvent) -> object | str:
        if not event.properties.phone:
            return "no_phone"
        return {"value": event.properties.value, "kind": event.properties.kind}

    def note_for(self, request: object) -> str | None:
        return (
            "sent as a negative amount" if isinstance(request, dict) and request["kind"] == "refund" else None
        )

    def send_one(self, job: Job) -> Outcome:
        self.client  # noqa: B018  # builds the client, as a real send does
        return Outcome.delivered(200, {"sent": job.planned.request, "token": self._secret()})


class Calls:
    def __init__(self) -> None:
        self.clients = 0
        self.secrets = 0

    def client(self) -> object:
        self.clients += 1
        return object()

    def secret(self) -> str:
        self.secrets += 1
        return "token"


def echo(calls: Calls) -> Echo:
    return Echo(calls.client, calls.secret)  # type: ignore[arg-type]


def test_a_conversion_is_planned_under_its_event_id_with_its_facts() -> None:
    planned = echo(Calls()).plan(queued(conversion_event("order_shipped", detail_type="order.shipped")))

    assert planned == Planned(
        event_id="shopify:s.myshopify.com:1001:order_shipped",
        request={"value": 59.9, "kind": "order_shipped"},
        event_name="order.shipped",
        kind="order_shipped",
        conversion_id="shopify:s.myshopify.com:1001",
        order_id="1001",
    )


def test_the_destinations_note_goes_with_the_plan() -> None:
    planned = echo(Calls()).plan(queued(conversion_event("refund", detail_type="refund.created")))

    assert isinstance(planned, Planned) and planned.note == "sent as a negative amount"


def test_a_test_order_is_skipped_before_the_destination_is_asked_and_nothing_is_built() -> None:
    calls = Calls()

    skip = echo(calls).plan(queued(conversion_event(test=True, phone=None)))

    assert skip == Skip(
        "test order: never forwarded",
        event_id="shopify:s.myshopify.com:1001:order",
        event_name="conversion.attributed",
        kind="order",
        conversion_id="shopify:s.myshopify.com:1001",
        order_id="1001",
    )
    assert (calls.clients, calls.secrets) == (0, 0)


def test_the_destinations_reason_not_to_send_is_a_skip_of_that_event() -> None:
    skip = echo(Calls()).plan(queued(conversion_event(phone=None)))

    assert isinstance(skip, Skip)
    assert (skip.reason, skip.event_id) == ("no_phone", "shopify:s.myshopify.com:1001:order")


def test_a_message_that_is_no_conversion_can_never_be_sent() -> None:
    with pytest.raises(PermanentFailure, match="not a conversion event: properties"):
        echo(Calls()).plan(
            queued({"detail-type": "order.paid", "detail": {"timestamp": "2026-03-02T10:00:00Z"}})
        )


def test_one_job_is_one_request_built_when_sent() -> None:
    calls = Calls()
    destination = echo(calls)
    message = queued(conversion_event())
    planned = destination.plan(message)
    assert isinstance(planned, Planned) and calls.clients == 0

    outcome = destination.send([Job(message, planned, "delivery-1", 1)])

    assert outcome.body == {"sent": {"value": 59.9, "kind": "order"}, "token": "token"}
    assert (calls.clients, calls.secrets) == (1, 1)
    assert destination.batch_key(planned) == ""


def test_a_destination_of_its_own_says_what_it_sends() -> None:
    bare = ConversionDestination(Calls().client, Calls().secret)  # type: ignore[arg-type]

    with pytest.raises(NotImplementedError):
        bare.plan(queued(conversion_event()))
