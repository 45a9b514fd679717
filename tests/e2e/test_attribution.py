"""Attribution through the local stack over HTTP: a WhatsApp ad click, then Shopify orders signed as
Shopify signs them, the conversion events on the bus, and the attribution API."""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.sample_events import read_env
from devstack.shopify_samples import shopify_headers
from devstack.stack import DevStack
from devstack.testing import AwsHelpers
from tests.support import attribution as sc
from tests.support import webhooks as wh

pytestmark = pytest.mark.e2e

ENV = read_env()
CLICK_AT = 1_750_000_000


@pytest.fixture(scope="module")
def bus_observer(stack: DevStack, aws: AwsHelpers) -> Iterator[str]:
    """A test-only rule and queue that see every event on the stack's bus."""
    queue_url = aws.sqs.create_queue(QueueName=f"attribution-observer-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = stack.physical_id("EventBus")
    rule = f"attribution-observer-{uuid.uuid4().hex[:8]}"
    aws.events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["wa-conversions"]}))
    aws.events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "observer", "Arn": queue_arn}])
    yield queue_url
    aws.events.remove_targets(Rule=rule, EventBusName=bus, Ids=["observer"])
    aws.events.delete_rule(Name=rule, EventBusName=bus)


class Bus:
    def __init__(self, aws: AwsHelpers, queue_url: str) -> None:
        self._aws = aws
        self._url = queue_url
        self.seen: list[dict[str, Any]] = []

    def events_for(self, conversion_id: str) -> list[dict[str, Any]]:
        self.seen.extend(json.loads(m["Body"]) for m in self._aws.receive_all(self._url))
        return [e for e in self.seen if e["detail"]["properties"].get("conversionId") == conversion_id]


@pytest.fixture
def bus(aws: AwsHelpers, bus_observer: str) -> Bus:
    return Bus(aws, bus_observer)


@pytest.fixture
def operator(api: httpx.Client) -> httpx.Client:
    api.headers["X-Api-Key"] = ENV["API_KEY"]
    return api


def fresh_us_phone() -> tuple[str, str]:
    """A wa_id and the same number as a buyer types it in the US, unique per test run."""
    line = random.randint(1000, 9999)
    exchange = random.randint(200, 999)
    return f"1415{exchange}{line}", f"(415) {exchange}-{line}"


def fresh_order_id() -> int:
    return random.randint(10**11, 10**12)


def whatsapp_click(api: httpx.Client, wa_id: str, clid: str, at: int = CLICK_AT) -> None:
    body = sc.referral_webhook(wa_id, at, clid, f"wamid.{uuid.uuid4().hex}")
    wh.post_signed(api, body)


def post_shopify(
    api: httpx.Client,
    payload: dict[str, Any],
    topic: str = "orders/create",
    *,
    event_id: str | None = None,
    secret: str | None = None,
) -> httpx.Response:
    body = sc.encode(payload)
    headers = shopify_headers(
        body,
        secret or ENV["SHOPIFY_WEBHOOK_SECRET"],
        shop=ENV["SHOPIFY_SHOP_DOMAIN"],
        topic=topic,
        event_id=event_id,
    )
    return api.post("/webhooks/shopify", content=body, headers=headers)


def conversion_id(order_id: int) -> str:
    return f"shopify:{ENV['SHOPIFY_SHOP_DOMAIN']}:{order_id}"


def test_order_two_days_after_the_click_is_attributed_and_nine_days_after_is_not(
    api: httpx.Client, operator: httpx.Client, stack: DevStack, bus: Bus
) -> None:
    wa_id, national = fresh_us_phone()
    whatsapp_click(api, wa_id, "CLID-E2E-1")
    stack.wait_until_idle()
    near, far = fresh_order_id(), fresh_order_id()

    assert (
        post_shopify(
            api, sc.order(order_id=near, created_at=CLICK_AT + 2 * sc.DAY, phone=national)
        ).status_code
        == 200
    )
    assert (
        post_shopify(
            api, sc.order(order_id=far, created_at=CLICK_AT + 9 * sc.DAY, phone=national)
        ).status_code
        == 200
    )
    stack.wait_until_idle()

    attributed = operator.get(f"/orders/{near}").json()
    assert attributed["attribution"]["status"] == "attributed"
    assert attributed["attribution"]["ctwa_clid"] == "CLID-E2E-1"
    assert attributed["attribution"]["contact_key"] == wa_id
    [event] = bus.events_for(conversion_id(near))
    assert event["detail-type"] == "conversion.attributed"
    assert event["detail"]["properties"]["ctwaClid"] == "CLID-E2E-1"
    assert event["detail"]["properties"]["phone"] == wa_id

    outside = operator.get(f"/orders/{far}").json()
    assert outside["attribution"]["status"] == "unattributed"
    assert outside["attribution"]["reason"] == "outside_window"
    [late] = bus.events_for(conversion_id(far))
    assert late["detail-type"] == "conversion.unattributed"
    assert late["detail"]["properties"]["attribution"]["reason"] == "outside_window"


def test_another_shops_signature_is_401(api: httpx.Client, stack: DevStack, aws: AwsHelpers) -> None:
    order_id = fresh_order_id()
    response = post_shopify(
        api, sc.order(order_id=order_id, created_at=CLICK_AT, phone=None), secret="not-ours"
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    stack.wait_until_idle()
    assert not [i for i in aws.table_items("Table") if i["pk"].endswith(f"#{order_id}")]


def test_same_delivery_three_times_makes_one_attribution_and_one_event(
    api: httpx.Client, operator: httpx.Client, stack: DevStack, bus: Bus, aws: AwsHelpers
) -> None:
    order_id = fresh_order_id()
    payload = sc.order(order_id=order_id, created_at=CLICK_AT, phone=None)
    event_id = str(uuid.uuid4())
    answers = [post_shopify(api, payload, event_id=event_id).json() for _ in range(3)]
    stack.wait_until_idle()

    assert answers == [{"status": "accepted"}, {"status": "duplicate"}, {"status": "duplicate"}]
    assert len(bus.events_for(conversion_id(order_id))) == 1
    stored = [
        i for i in aws.table_items("Table") if i["pk"] == f"ORDER#{ENV['SHOPIFY_SHOP_DOMAIN']}#{order_id}"
    ]
    assert [i["sk"] for i in stored] == ["ORDER"]


def test_a_refund_attaches_to_its_order(
    api: httpx.Client, operator: httpx.Client, stack: DevStack, bus: Bus
) -> None:
    wa_id, national = fresh_us_phone()
    whatsapp_click(api, wa_id, "CLID-E2E-REFUND")
    stack.wait_until_idle()
    order_id = fresh_order_id()
    post_shopify(api, sc.order(order_id=order_id, created_at=CLICK_AT + 3600, phone=national))
    stack.wait_until_idle()
    refund = sc.refund(
        refund_id=fresh_order_id(), order_id=order_id, created_at=CLICK_AT + sc.DAY, amount="50.00"
    )
    assert post_shopify(api, refund, "refunds/create").status_code == 200
    stack.wait_until_idle()

    view = operator.get(f"/orders/{order_id}").json()
    assert [(f["kind"], f["value"], f["order_known"]) for f in view["follow_ups"]] == [
        ("refund", {"amount": "50.00", "currency": "USD"}, True)
    ]
    [refund_event] = [
        e for e in bus.events_for(conversion_id(order_id)) if e["detail-type"] == "refund.created"
    ]
    assert refund_event["detail"]["properties"]["value"] == 50.0
    assert refund_event["detail"]["properties"]["ctwaClid"] == "CLID-E2E-REFUND"


def test_off_thread_event_chained_to_an_earlier_conversation(
    api: httpx.Client, operator: httpx.Client, stack: DevStack
) -> None:
    wa_id, _ = fresh_us_phone()
    whatsapp_click(api, wa_id, "CLID-E2E-BOOKING")
    stack.wait_until_idle()
    booked = operator.post(
        "/external-events",
        json={"lead_phone": f"+{wa_id}", "action": "Booked", "revenue": {"amount": 0, "currency": "EUR"}},
    )
    assert booked.status_code == 201, booked.text
    whatsapp_click(api, wa_id, "CLID-E2E-LATER", at=CLICK_AT + sc.DAY)
    stack.wait_until_idle()

    paid = operator.post(
        "/external-events",
        json={
            "lead_phone": f"+{wa_id}",
            "action": "Purchased an item",
            "revenue": {"amount": 80, "currency": "EUR"},
            "previous_external_event_id": booked.json()["external_event_id"],
        },
    )

    assert paid.status_code == 201, paid.text
    assert booked.json()["attribution"]["ctwa_clid"] == "CLID-E2E-BOOKING"
    assert paid.json()["attribution"]["ctwa_clid"] == "CLID-E2E-BOOKING"
    stored = operator.get(f"/external-events/{paid.json()['external_event_id']}").json()
    assert stored["previous_external_event_id"] == booked.json()["external_event_id"]
    assert stored["revenue"] == {"amount": "80", "currency": "EUR"}
    bad = operator.post(
        "/external-events",
        json={"lead_phone": f"+{wa_id}", "action": "Booked", "revenue": {"amount": 1, "currency": "EURO"}},
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "revenue.currency")


def test_every_destination_gets_the_attributed_contacts_phone_not_the_orders_other_one(
    api: httpx.Client, stack: DevStack
) -> None:
    wa_id, national = fresh_us_phone()
    someone_else, _ = fresh_us_phone()
    clid = f"CLID-E2E-PHONE-{uuid.uuid4().hex[:8]}"
    now = int(time.time())
    whatsapp_click(api, wa_id, clid, at=now - 3600)  # recent: Meta and CM.com take clicks of 7 days
    stack.wait_until_idle()
    order_id = fresh_order_id()
    placed = sc.order(order_id=order_id, created_at=now - 60, phone=national, where="customer")
    placed["phone"] = f"+{someone_else}"  # a gift's recipient, a partner: not the contact

    assert post_shopify(api, placed).status_code == 200
    stack.wait_until_idle()

    with httpx.Client(base_url=stack.standins.url, timeout=10.0) as standins:
        sent = standins.get("/_requests").json()
    markers = (str(order_id), clid, wa_id, someone_else)  # each body carries at least one of them
    ours = [r for r in sent if any(marker in json.dumps(r["body"]) for marker in markers)]
    by_destination = {r["destination"]: r["body"] for r in ours}
    assert set(by_destination) == {"wax", "meta", "cm", "dialog360", "collector"}, by_destination
    assert by_destination["wax"]["phone_number"] == wa_id
    [server_event] = by_destination["meta"]["data"]
    assert server_event["user_data"]["ph"] == [hashlib.sha256(wa_id.encode()).hexdigest()]
    assert server_event["user_data"]["ctwa_clid"] == clid
    assert by_destination["cm"]["to"] == {"number": f"00{wa_id}"}
    assert by_destination["dialog360"]["external_event"]["lead_phone"] == wa_id
    assert someone_else not in json.dumps(ours)
