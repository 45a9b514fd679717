"""360dialog off-thread events (wa_conversions.forwarding.dialog360): the action and revenue of each
conversion, and the chain of a conversion's follow-ups to the external_event_id its order got back,
kept in moto's delivery log; respx plays 360dialog and the project's stand-in judges each request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from devstack.standins import check_dialog360
from tests.support.delivery import DeliveryAws, conversion_event, moto_aws, queued
from wa_conversions.config import Dialog360Settings
from wa_conversions.delivery.log import DeliveryFacts, DeliveryLog
from wa_conversions.delivery.outcome import Outcome, OutcomeKind
from wa_conversions.delivery.runner import Job, Planned, Skip
from wa_conversions.forwarding.dialog360 import CHAIN_WAIT_ATTEMPTS, Dialog360Destination

BASE = "https://360.test"
EVENTS = f"{BASE}/clients/client-a/external-events"
CONVERSION = "shopify:s.myshopify.com:1001"


@pytest.fixture(scope="module")
def _moto() -> Iterator[None]:
    with moto_aws():
        yield


@pytest.fixture
def log(_moto: None) -> Iterator[DeliveryLog]:
    aws = DeliveryAws.create()
    yield DeliveryLog(aws.dynamodb, aws.table)
    aws.drop()


def destination(log: Any = None, **settings: str) -> Dialog360Destination:
    found = Dialog360Settings.model_validate(
        {
            "TABLE_NAME": "t",
            "DELIVERY_QUEUE_URL": "q",
            "DELIVERY_DLQ_URL": "d",
            "DIALOG360_BASE_URL": BASE,
            "DIALOG360_CLIENT_ID": "client-a",
            **settings,
        }
    )
    return Dialog360Destination(found, lambda: httpx.Client(base_url=BASE), lambda: "api-key", log)


def planned(kind: str = "order", **properties: Any) -> Planned | Skip:
    return destination().plan(queued(conversion_event(kind, **properties)))


def external(kind: str = "order", **properties: Any) -> dict[str, Any]:
    found = planned(kind, **properties)
    assert isinstance(found, Planned), found
    event: dict[str, Any] = found.request.event
    return event


@pytest.mark.parametrize(
    ("kind", "action", "revenue"),
    [
        ("order", "Purchased an item", {"amount": 59.9, "currency": "EUR"}),
        ("order_paid", "Paid an order", None),
        ("order_shipped", "Order shipped", None),
        ("order_delivered", "Order delivered", None),
        ("order_cancelled", "Cancelled an order", None),
        ("refund", "Refunded an order", {"amount": 59.9, "currency": "EUR"}),
    ],
)
def test_each_conversion_kind_is_its_action_with_revenue_where_money_changed_hands(
    kind: str, action: str, revenue: dict[str, Any] | None
) -> None:
    event = external(kind)

    assert (event["action"], event["lead_phone"], event.get("revenue")) == (action, "16505551234", revenue)


def test_an_off_thread_event_keeps_its_own_action_chain_and_revenue_in_dollars_by_default() -> None:
    event = external("external", action="Booked", currency=None, value=120, previousExternalEventId="ext-0")

    assert event == {
        "action": "Booked",
        "lead_phone": "16505551234",
        "revenue": {"amount": 120.0, "currency": "USD"},
        "previous_external_event_id": "ext-0",
    }


def test_the_deployments_app_id_goes_with_every_event() -> None:
    found = destination(DIALOG360_APP_ID="15550783881").plan(queued(conversion_event()))

    assert isinstance(found, Planned) and found.request.event["app_id"] == "15550783881"


@pytest.mark.parametrize(
    ("kind", "properties", "reason"),
    [
        ("rule", {}, "no 360dialog action for a 'rule' conversion"),
        ("order", {"phone": None}, "no_phone: 360dialog attributes by the lead's phone"),
    ],
)
def test_what_360dialog_cannot_attribute_is_skipped(
    kind: str, properties: dict[str, Any], reason: str
) -> None:
    skip = planned(kind, **properties)

    assert isinstance(skip, Skip) and skip.reason.startswith(reason)


def job(kind: str, attempt: int = 1, **properties: Any) -> Job:
    message = queued(conversion_event(kind, **properties))
    found = destination().plan(message)
    assert isinstance(found, Planned)
    return Job(message, found, "delivery", attempt)


@respx.mock
def test_an_orders_event_id_is_kept_and_chains_its_follow_ups(log: DeliveryLog) -> None:
    route = respx.post(EVENTS).mock(
        side_effect=[
            httpx.Response(200, json={"external_event_id": "ext-order"}),
            httpx.Response(200, json={"external_event_id": "ext-paid"}),
        ]
    )
    d360 = destination(log)

    order, paid = job("order"), job("order_paid")
    for one in (order, paid):
        outcome = d360.send([one])
        assert outcome.kind is OutcomeKind.DELIVERED
        d360.on_delivered(one, outcome)

    sent = [json.loads(call.request.content) for call in route.calls]
    for body in sent:
        check_dialog360(body, {})
    assert sent[0]["api_key"] == "api-key"
    assert "previous_external_event_id" not in sent[0]["external_event"]
    assert sent[1]["external_event"]["previous_external_event_id"] == "ext-order"
    # the chain's head stays the order: a follow-up's own id is not kept
    assert log.reference("dialog360", CONVERSION) == "ext-order"


@respx.mock
def test_a_follow_up_ahead_of_its_order_waits_then_goes_unchained(log: DeliveryLog) -> None:
    route = respx.post(EVENTS).mock(return_value=httpx.Response(200, json={}))
    d360 = destination(log)

    waiting = d360.send([job("order_cancelled")])
    last_wait = d360.send([job("order_cancelled", attempt=CHAIN_WAIT_ATTEMPTS)])
    assert not route.called
    assert (
        waiting
        == last_wait
        == Outcome.retry("waiting for the order's external_event_id to chain this follow-up to it")
    )

    gone = d360.send([job("order_cancelled", attempt=CHAIN_WAIT_ATTEMPTS + 1)])
    assert gone.kind is OutcomeKind.DELIVERED
    assert "previous_external_event_id" not in json.loads(route.calls.last.request.content)["external_event"]


@respx.mock
def test_a_follow_up_waits_while_its_order_is_pending_not_once_it_was_skipped(log: DeliveryLog) -> None:
    route = respx.post(EVENTS).mock(return_value=httpx.Response(200, json={}))
    d360 = destination(log)
    order = DeliveryFacts("dialog360", f"{CONVERSION}:order")
    log.claim(order, message="{}", queue="dialog360", lease_seconds=120)

    assert d360.send([job("refund")]).kind is OutcomeKind.RETRY

    log.mark_skipped(order, "no_phone", message="{}", queue="dialog360")
    assert d360.send([job("refund")]).kind is OutcomeKind.DELIVERED
    assert route.call_count == 1


@respx.mock
def test_a_follow_up_of_an_order_never_seen_goes_at_once(log: DeliveryLog) -> None:
    route = respx.post(EVENTS).mock(return_value=httpx.Response(202))

    outcome = destination(log).send([job("refund", orderKnown=False, attribution=None)])

    assert outcome.kind is OutcomeKind.DELIVERED and route.call_count == 1


def test_an_answer_without_an_event_id_keeps_nothing(log: DeliveryLog) -> None:
    d360 = destination(log)

    d360.on_delivered(job("order"), Outcome.delivered(200, {"status": "ok"}))
    d360.on_delivered(job("external", action="Booked"), Outcome.delivered(200, None))

    assert log.reference("dialog360", CONVERSION) is None
