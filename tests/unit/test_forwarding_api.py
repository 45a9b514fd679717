"""The delivery API's domain (wa_conversions.forwarding.api): POST /conversions queued for Meta from the
ad click Meta's documented webhook recorded (events/payloads/meta_docs_text_message_ctwa_referral.json),
the delivery log's views, and the operator's replays and confirmations; moto plays DynamoDB and SQS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.delivery import DeliveryAws, moto_aws
from tests.support.webhooks import sample
from wa_conversions import tenants as tn
from wa_conversions.delivery.log import ERASED_REASON, DeliveryFacts, DeliveryLog, delivery_id_for
from wa_conversions.errors import ConflictError, NotFoundError, UnprocessableError
from wa_conversions.forwarding.api import ConversionService, delivery_view, fbtrace_id
from wa_conversions.forwarding.requests import parse_send_request
from wa_conversions.models.domain import InboundMessage
from wa_conversions.providers import meta
from wa_conversions.store import keys
from wa_conversions.store.capture import CaptureRepository
from wa_conversions.store.dynamo import serialize

DAY = 86_400


def _click() -> InboundMessage:
    [update] = meta.normalize(meta.parse_webhook(sample("meta_docs_text_message_ctwa_referral.json")))
    assert isinstance(update, InboundMessage) and update.referral is not None
    return update


CLICK = _click()
PHONE = "16505551234"


@dataclass
class World:
    aws: DeliveryAws
    log: DeliveryLog
    service: ConversionService
    clock: list[int]

    def queued(self) -> list[dict[str, Any]]:
        messages = self.aws.sqs.receive_message(QueueUrl=self.aws.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    def delivery(
        self, event_id: str, status: str = "ambiguous", destination: str = "meta", **facts: Any
    ) -> str:
        one = DeliveryFacts(destination, event_id, order_id="1001", **facts)
        claim = self.log.claim(one, message='{"queued": 1}', queue=destination, lease_seconds=120)
        if status == "ambiguous":
            self.log.mark_ambiguous(claim.delivery_id, one, None, "sent, outcome unknown")
        elif status == "delivered":
            self.log.mark_delivered(claim.delivery_id, one, 200, {"fbtrace_id": "Tr4ce"})
        elif status == "failed":
            self.log.mark_failed(claim.delivery_id, one, 400, "HTTP 400: bad")
        return claim.delivery_id


@pytest.fixture(scope="module")
def _moto() -> Iterator[None]:
    with moto_aws():
        yield


@pytest.fixture
def world(_moto: None) -> Iterator[World]:
    aws = DeliveryAws.create()
    capture = CaptureRepository(aws.dynamodb, aws.table)
    capture.record_inbound_message(
        message_id=CLICK.message_id, contact_key=PHONE, message_type="text", raw_type="text",
        timestamp=CLICK.timestamp, channel="meta", phone_number_id=CLICK.account.phone_number_id,
        has_referral=True, expires_at=CLICK.timestamp + 365 * DAY,
    )  # fmt: skip
    assert CLICK.referral is not None
    capture.record_referral(
        contact_key=PHONE, referral=CLICK.referral, message_id=CLICK.message_id,
        timestamp=CLICK.timestamp, channel="meta",
    )  # fmt: skip
    clock = [CLICK.timestamp + DAY]
    log = DeliveryLog(aws.dynamodb, aws.table)
    service = ConversionService(
        capture, log, aws.sqs, {"meta": aws.queue_url, "cm": aws.queue_url}, clock=lambda: clock[0]
    )
    yield World(aws, log, service, clock)
    aws.drop()


def request(**fields: Any) -> Any:
    body = {"accountId": "102290129340398", "eventName": "Purchase", "eventId": "crm-1", "value": 25,
            "currency": "usd", "phoneE164": "+1 650 555 1234", **fields}  # fmt: skip
    return parse_send_request({k: v for k, v in body.items() if v is not None})


# -- POST /conversions ----------------------------------------------------------------------------


def test_a_conversion_is_queued_for_meta_with_the_click_that_started_the_chat(world: World) -> None:
    answer = world.service.send(request(email="a@example.com", testCode="TEST1", contentIds=["sku-1"]))

    assert answer == {
        "eventId": "crm-1",
        "deliveryId": delivery_id_for("meta", "crm-1"),
        "status": "queued",
        "destination": "meta",
    }
    [message] = world.queued()
    assert (message["source"], message["detail-type"]) == ("wa-conversions.api", "conversion.requested")
    detail = message["detail"]
    assert (detail["userId"], detail["context"]["provider"]) == (PHONE, "external")
    properties = detail["properties"]
    assert CLICK.referral is not None
    assert (properties["ctwaClid"], properties["sourceId"]) == (
        CLICK.referral.ctwa_clid,
        "120226305854810726",
    )
    assert (properties["conversionId"], properties["kind"], properties["value"]) == (
        "api:crm-1",
        "external",
        25.0,
    )
    assert (properties["currency"], properties["testEventCode"], properties["contentIds"]) == (
        "USD",
        "TEST1",
        ["sku-1"],
    )
    assert properties["clickedAt"] == "2025-06-18T19:46:32.000Z"
    assert detail["timestamp"] == "2025-06-19T19:46:32.000Z"  # no eventTime: now


def test_a_conversion_named_by_its_conversation_finds_that_chats_click(world: World) -> None:
    world.service.send(request(phoneE164=None, conversationId=CLICK.message_id))

    [message] = world.queued()
    assert message["detail"]["properties"]["phone"] == PHONE


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"phoneE164": "+31 6 12345678"}, NotFoundError, "No ad-started conversation for this phone number"),
        (
            {"phoneE164": None, "conversationId": "wamid.unknown"},
            NotFoundError,
            "No conversation 'wamid.unknown'",
        ),
        ({"eventTime": 1750275992 + 8 * DAY}, UnprocessableError, "more than 7 days after the ad click"),
    ],
)
def test_a_conversion_without_a_creditable_click_is_refused(
    world: World, fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        world.service.send(request(**fields))
    assert world.queued() == []


def test_a_conversion_meta_would_reject_for_its_age_is_refused_naming_the_field(world: World) -> None:
    world.clock[0] = CLICK.timestamp + 30 * DAY

    with pytest.raises(UnprocessableError, match="more than 7 days ago") as refused:
        world.service.send(request(eventTime=CLICK.timestamp + 2 * DAY))
    assert refused.value.field == "eventTime"


def test_without_the_meta_destination_nothing_can_be_sent(world: World) -> None:
    world.service.queue_urls = {"cm": world.aws.queue_url}

    with pytest.raises(ConflictError, match="EnableMetaDestination"):
        world.service.send(request())


# -- deliveries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"destination": "email"}, "destination"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
    ],
)
def test_a_bad_listing_query_names_its_field(world: World, params: dict[str, str], field: str) -> None:
    with pytest.raises(UnprocessableError) as refused:
        world.service.list_deliveries(params)
    assert refused.value.field == field


def test_the_listing_is_filtered_and_scoped_to_a_tenant(world: World) -> None:
    mine = world.delivery("e-b", tenant="brand-b")
    world.delivery("e-c", tenant="brand-c")
    before = world.delivery("e-old", status="failed", destination="cm")

    brand_b = world.service.list_deliveries({}, tn.Tenant(id="brand-b"))
    default = world.service.list_deliveries({"destination": "cm"}, tn.Tenant(id="brand-a", default=True))

    assert [(d["id"], d["tenant"]) for d in brand_b["deliveries"]] == [(mine, "brand-b")]
    assert [d["id"] for d in default["deliveries"]] == [before] and default["count"] == 1


def test_a_delivery_of_another_tenant_is_not_found(world: World) -> None:
    theirs = world.delivery("e-c", tenant="brand-c")

    assert world.service.get_delivery(theirs, tn.Tenant(id="brand-c"))["id"] == theirs
    with pytest.raises(NotFoundError, match="for tenant brand-b"):
        world.service.get_delivery(theirs, tn.Tenant(id="brand-b"))
    with pytest.raises(NotFoundError, match="No delivery 'nope'"):
        world.service.get_delivery("nope")


@pytest.mark.parametrize(
    ("status", "already", "message"),
    [
        (
            "ambiguous",
            False,
            "queued to be sent again: if the first attempt arrived, the destination has it twice",
        ),
        ("failed", False, "queued for another attempt"),
        ("delivered", True, "already delivered: the replay will not send it again"),
    ],
)
def test_a_replay_queues_the_stored_message_again_and_says_what_it_means(
    world: World, status: str, already: bool, message: str
) -> None:
    delivery_id = world.delivery("e-1", status=status)

    answer = world.service.retry(delivery_id)

    assert (answer["status"], answer["previousStatus"], answer["alreadyDelivered"]) == (
        "requeued",
        status,
        already,
    )
    assert answer["message"] == message
    assert world.queued() == [{"queued": 1}]
    assert world.log.get(delivery_id)["status"] == ("delivered" if already else "pending")  # type: ignore[index]


def test_a_replay_is_refused_when_it_cannot_or_must_not_go(world: World) -> None:
    in_flight = world.delivery("e-busy", status="pending")
    elsewhere = world.delivery("e-wax", destination="wax")
    erased = world.delivery("e-erased")
    world.aws.dynamodb.update_item(
        TableName=world.aws.table,
        Key={"pk": serialize(keys.delivery_pk(erased)), "sk": serialize(keys.DELIVERY)},
        UpdateExpression="SET reason = :r",
        ExpressionAttributeValues={":r": serialize(ERASED_REASON)},
    )

    with pytest.raises(ConflictError, match="being sent right now"):
        world.service.retry(in_flight)
    with pytest.raises(ConflictError, match="The wax destination is not enabled"):
        world.service.retry(elsewhere)
    with pytest.raises(ConflictError, match="person was erased"):
        world.service.retry(erased)
    with pytest.raises(ConflictError, match="person was erased"):
        world.service.confirm(erased)
    with pytest.raises(NotFoundError):
        world.service.retry("nope")
    assert world.queued() == []


def test_a_delivery_without_its_message_cannot_be_replayed(world: World) -> None:
    skipped = world.log.mark_skipped(DeliveryFacts("meta", "e-s"), "no consent", message="", queue="meta")

    with pytest.raises(ConflictError, match="no stored message"):
        world.service.retry(skipped)
    with pytest.raises(ConflictError, match="skipped, never sent"):
        world.service.confirm(skipped)


def test_confirming_records_it_delivered_by_the_operator(world: World) -> None:
    delivery_id = world.delivery("e-1")

    answer = world.service.confirm(delivery_id)

    assert (answer["status"], answer["alreadyDelivered"]) == ("delivered", False)
    assert answer["delivery"]["confirmedByOperator"] is True
    with pytest.raises(NotFoundError):
        world.service.confirm("nope")
    with pytest.raises(ConflictError, match="being sent right now"):
        world.service.confirm(world.delivery("e-busy", status="pending"))


# -- views ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "trace"),
    [
        ({"response": {"fbtrace_id": "FromAnswer"}, "last_error": 'fbtrace_id": "Other"'}, "FromAnswer"),
        ({"last_error": 'HTTP 400: {"error":{"code":100,"fbtrace_id":"A1b-C_2"}}'}, "A1b-C_2"),
        ({"reason": "gave up: {'fbtrace_id': 'Py7'}"}, "Py7"),
        ({"last_error": "{'fbtrace_id': None}"}, None),
        ({"last_error": 'HTTP 400: {"error":{"code":100,"fbtrace_id":null}}'}, None),
        (
            {"response": {"fbtrace_id": None}, "last_error": "Meta acknowledged 0 of 1 (fbtrace_id None)"},
            None,
        ),
        ({"last_error": "HTTP 500: down"}, None),
    ],
)
def test_metas_request_id_is_found_in_its_answer_or_its_error(
    item: dict[str, Any], trace: str | None
) -> None:
    assert fbtrace_id(item) == trace


def test_a_view_never_shows_the_stored_message_and_says_only_what_applies() -> None:
    stored = {
        "delivery_id": "d1", "destination": "cm", "event_id": "e1", "status": "delivered",
        "message": '{"email": "buyer@example.com"}', "attempts": 2, "delivered_at": 1_772_445_600,
        "next_attempt_at": 1_772_445_700, "last_error": "fbtrace_id: X", "created_at": 1_772_445_500,
    }  # fmt: skip

    view = delivery_view(stored)

    assert "buyer@example.com" not in json.dumps(view)
    assert (view["id"], view["attempts"], view["deliveredAt"]) == ("d1", 2, "2026-03-02T10:00:00.000Z")
    assert (view["nextAttemptAt"], view["fbtraceId"], view["updatedAt"]) == (None, None, None)
    assert "tenant" not in view and view["confirmedByOperator"] is False
    pending = delivery_view({**stored, "status": "pending", "destination": "meta", "tenant": "brand-b"})
    assert (pending["nextAttemptAt"], pending["fbtraceId"], pending["tenant"]) == (
        "2026-03-02T10:01:40.000Z",
        "X",
        "brand-b",
    )
