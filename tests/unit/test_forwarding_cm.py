"""CM.com Meta Conversions (wa_conversions.forwarding.cm): which conversions go, as which event type,
and the request CM.com gets, judged by the project's CM.com stand-in and against CM.com's documented
event request (events/payloads/cm_docs_event_markasread_request.json); respx plays CM.com."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from devstack.standins import check_cm
from tests.support.delivery import CLICKED_AT, NOW, conversion_event, queued
from tests.support.webhooks import sample_json
from wa_conversions.config import CmConversionsSettings
from wa_conversions.delivery.outcome import OutcomeKind
from wa_conversions.delivery.runner import Job, Planned, Skip
from wa_conversions.errors import PermanentFailure
from wa_conversions.forwarding.cm import CmConversionsDestination, CmRequest

EVENT_URL = "https://cm.test/v1.0/event"


def destination(business_number: str = "31612345678") -> CmConversionsDestination:
    settings = CmConversionsSettings.model_validate(
        {
            "TABLE_NAME": "t",
            "DELIVERY_QUEUE_URL": "q",
            "DELIVERY_DLQ_URL": "d",
            "CM_EVENT_URL": EVENT_URL,
            "CM_BUSINESS_NUMBER": business_number,
        }
    )
    return CmConversionsDestination(settings, lambda: httpx.Client(), lambda: "product-token")


def plan(kind: str = "order", **properties: Any) -> Planned | Skip:
    return destination().plan(queued(conversion_event(kind, **properties)))


@pytest.mark.parametrize(
    ("kind", "event_type"),
    [
        ("order", "Purchase"),
        ("order_shipped", "OrderShipped"),
        ("order_delivered", "OrderDelivered"),
        ("order_cancelled", "OrderCanceled"),
    ],
)
def test_each_order_stage_goes_as_its_cm_com_event_type(kind: str, event_type: str) -> None:
    planned = plan(kind)

    assert isinstance(planned, Planned)
    assert planned.request == CmRequest(
        to="0016505551234",
        event={
            "type": event_type,
            "custom": {"ctwa_id": "Aff-n8ZTODiE79d22KtAwQ", "currency": "EUR", "value": "59.90"},
        },
    )


def test_an_off_thread_event_goes_under_its_own_meta_name() -> None:
    planned = plan("external", eventName="LeadSubmitted", value=None, currency=None)

    assert isinstance(planned, Planned)
    assert planned.request.event == {"type": "LeadSubmitted", "custom": {"ctwa_id": "Aff-n8ZTODiE79d22KtAwQ"}}


def test_a_cancellation_without_an_amount_still_goes() -> None:
    planned = plan("order_cancelled", value=None)

    assert isinstance(planned, Planned)
    assert planned.request.event["custom"] == {"ctwa_id": "Aff-n8ZTODiE79d22KtAwQ"}


@pytest.mark.parametrize(
    ("kind", "properties", "reason"),
    [
        ("order_paid", {}, "no CM.com Meta Conversions type for a 'order_paid' conversion"),
        ("external", {"eventName": "Booked"}, "no CM.com Meta Conversions type for a 'external' conversion"),
        ("order", {"ctwaClid": None}, "no ctwa_clid"),
        ("order", {"clickedAt": None}, "the ad click's time is unknown"),
        ("order", {"clickedAt": NOW - 8 * 86_400}, "the ad click is more than 7 days before the conversion"),
        ("order", {"phone": None}, "no_phone"),
        ("order", {"value": None}, "CM.com requires currency and value for Purchase"),
        ("order_shipped", {"currency": None}, "CM.com requires currency and value for OrderShipped"),
    ],
)
def test_what_cm_com_cannot_credit_is_skipped_with_the_reason(
    kind: str, properties: dict[str, Any], reason: str
) -> None:
    skip = plan(kind, **properties)

    assert isinstance(skip, Skip)
    assert skip.reason.startswith(reason)


def test_a_deployment_without_its_business_number_keeps_the_conversion_for_later() -> None:
    with pytest.raises(PermanentFailure, match="CmBusinessNumber is not set"):
        destination(business_number="").plan(queued(conversion_event()))


@respx.mock
def test_the_request_has_cm_coms_documented_shape_with_the_token_in_the_body() -> None:
    route = respx.post(EVENT_URL).mock(return_value=httpx.Response(200, json={"status": "accepted"}))
    cm = destination()
    message = queued(conversion_event(clickedAt=CLICKED_AT))
    planned = cm.plan(message)
    assert isinstance(planned, Planned)

    outcome = cm.send([Job(message, planned, "delivery-1", 1)])

    assert outcome.kind is OutcomeKind.DELIVERED
    body = json.loads(route.calls.last.request.content)
    check_cm(body, {})
    documented = sample_json("cm_docs_event_markasread_request.json")
    assert set(body) - {"authentication"} == set(documented)
    assert body["authentication"] == {"productToken": "product-token"}
    assert (body["from"], body["to"], body["channel"]) == (
        {"number": "0031612345678"},
        {"number": "0016505551234"},
        documented["channel"],
    )
    assert body["event"]["custom"]["value"] == "59.90"


@respx.mock
def test_cm_coms_refusal_is_permanent_and_its_outage_retried() -> None:
    respx.post(EVENT_URL).mock(side_effect=[httpx.Response(400, text="invalid ctwa_id"), httpx.Response(503)])
    cm = destination()
    message = queued(conversion_event())
    planned = cm.plan(message)
    assert isinstance(planned, Planned)

    refused, down = (cm.send([Job(message, planned, "delivery-1", n)]) for n in (1, 2))

    assert (refused.kind, refused.error) == (OutcomeKind.PERMANENT, "HTTP 400: invalid ctwa_id")
    assert down.kind is OutcomeKind.RETRY
