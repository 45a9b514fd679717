"""attribution.orders: OrdersService over the table in moto with a recording publisher. Each Shopify
topic's outcome, what is stored and what is announced; redeliveries that change nothing; an event that
failed to go out goes out later as the very same event; shipments and deliveries once per order; a
tenant list that scopes the contacts; follow-ups of a contact merged since its order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import attribution as sc
from tests.support import attribution_store as shared
from tests.support.attribution_store import RecordingPublisher, Store
from wa_conversions import tenants as tn
from wa_conversions.attribution.delivery import ShopifyDelivery
from wa_conversions.attribution.engine import Windows
from wa_conversions.attribution.links import issue_link
from wa_conversions.attribution.orders import Applied, OrdersService, publish_pending
from wa_conversions.errors import PermanentFailure, PublishError

# the helper's fixtures: one moto table for the file, emptied for each test
attribution_moto = shared.attribution_moto
store = shared.store

CLICK_AT = 1_750_000_000
WA_ID = "16505551234"
SHOP = sc.SHOP
WEEK = Windows.of_days(7, 7)
SHIPPED = {
    "id": 255858046,
    "order_id": 1001,
    "status": "success",
    "created_at": sc.iso(CLICK_AT + 3 * sc.DAY),
}


def delivery(
    topic: str, payload: dict[str, Any], *, shop: str = SHOP, event_id: str = "e-1"
) -> ShopifyDelivery:
    return ShopifyDelivery(
        topic=topic,
        shop=shop,
        event_id=event_id,
        triggered_at=sc.iso(CLICK_AT + 4 * sc.DAY),
        body=json.dumps(payload),
    )


def service(store: Store, publisher: RecordingPublisher | None = None, **options: Any) -> OrdersService:
    return OrdersService(
        store.attribution, publisher or store.publisher, windows=WEEK, default_country="US", **options
    )


def placed(order_id: int = 1001, **fields: Any) -> dict[str, Any]:
    return sc.order(order_id=order_id, created_at=CLICK_AT + sc.DAY, phone="(650) 555-1234") | fields


def clicked(store: Store, key: str = WA_ID) -> None:
    store.contact(key, first_seen=CLICK_AT)
    store.click(key, CLICK_AT, "CLID-A")


def props(store: Store, name: str) -> dict[str, Any]:
    [event] = [e for e in store.publisher.events if e.event == name]
    return event.properties


# -- orders --------------------------------------------------------------------------------------


def test_a_new_order_is_attributed_stored_and_announced_once(store: Store) -> None:
    clicked(store)

    applied = service(store).apply(delivery("orders/create", placed()))

    assert applied == Applied(topic="orders/create", order_id="1001", outcome="created", events=1)
    assert store.publisher.names() == ["conversion.attributed"]
    order = store.attribution.get_order(SHOP, "1001")
    assert order is not None
    assert (order["attribution"]["ctwa_clid"], order["phone"], order["published"]) == ("CLID-A", WA_ID, True)
    assert (order["value"], order["currency"], order["first_topic"]) == ("409.94", "USD", "orders/create")
    assert json.loads(order["event_detail"]) == json.loads(store.publisher.events[0].detail_json())


def test_an_order_created_paid_is_also_the_purchase_and_a_redelivery_adds_nothing(store: Store) -> None:
    clicked(store)
    paid = placed(financial_status="paid")

    first = service(store).apply(delivery("orders/create", paid))
    again = service(store).apply(delivery("orders/paid", paid, event_id="e-2"))

    assert (first.outcome, first.events, again.outcome, again.events) == ("created", 2, "attached", 0)
    assert store.publisher.names() == ["conversion.attributed", "order.paid"]
    paid_props = props(store, "order.paid")
    assert (paid_props["kind"], paid_props["ctwaClid"], paid_props["value"]) == (
        "order_paid",
        "CLID-A",
        409.94,
    )


def test_an_update_before_its_order_is_ignored_and_stores_nothing(store: Store) -> None:
    applied = service(store).apply(delivery("orders/updated", placed()))

    assert (applied.outcome, applied.events) == ("ignored", 0)
    assert store.items() == []


def test_an_update_keeps_the_latest_status_and_a_stale_one_changes_nothing(store: Store) -> None:
    service(store).apply(delivery("orders/create", placed()))
    later = placed(financial_status="paid", updated_at=sc.iso(CLICK_AT + 2 * sc.DAY))
    stale = placed(financial_status="pending", updated_at=sc.iso(CLICK_AT + sc.DAY + 60))

    assert service(store).apply(delivery("orders/updated", later)).outcome == "attached"
    service(store).apply(delivery("orders/updated", stale))

    order = store.attribution.get_order(SHOP, "1001")
    assert order is not None
    assert (order["financial_status"], order["status_updated_at"]) == ("paid", CLICK_AT + 2 * sc.DAY)
    assert store.publisher.names() == ["conversion.unattributed"]


def test_a_cancellation_is_announced_at_its_own_time(store: Store) -> None:
    service(store).apply(delivery("orders/create", placed()))
    cancelled = placed(cancelled_at=sc.iso(CLICK_AT + 2 * sc.DAY), cancel_reason="customer")

    applied = service(store).apply(delivery("orders/cancelled", cancelled))

    assert (applied.outcome, applied.events) == ("attached", 1)
    [event] = [e for e in store.publisher.events if e.event == "order.cancelled"]
    assert event.timestamp == "2025-06-17T15:06:40.000Z"
    order = store.attribution.get_order(SHOP, "1001")
    assert order is not None and order["cancel_reason"] == "customer"


def test_an_event_that_failed_to_go_out_goes_out_later_as_the_same_event(store: Store) -> None:
    clicked(store)
    throttled = RecordingPublisher(failures=1)

    with pytest.raises(PublishError):
        service(store, throttled).apply(delivery("orders/create", placed()))
    stored = store.attribution.get_order(SHOP, "1001")
    assert stored is not None and stored["published"] is False

    retried = service(store, throttled).apply(delivery("orders/create", placed(), event_id="e-1"))

    assert (retried.outcome, retried.events) == ("attached", 1)
    assert [e.detail_json() for e in throttled.events] == [stored["event_detail"]]
    assert service(store, throttled).apply(delivery("orders/create", placed())).events == 0


def test_publishing_an_item_already_out_or_without_an_event_does_nothing(store: Store) -> None:
    assert publish_pending(store.attribution, store.publisher, {"published": True, "event_detail": "{}"}) == 0
    assert publish_pending(store.attribution, store.publisher, {"pk": "x", "sk": "y"}) == 0
    assert store.publisher.events == []


@pytest.mark.parametrize(
    ("topic", "body"),
    [("orders/create", {"note": "no id"}), ("refunds/create", {"id": 1}), ("fulfillments/create", {"id": 1})],
)
def test_a_payload_that_is_not_its_topics_is_a_permanent_failure_naming_it(
    topic: str, body: dict[str, Any]
) -> None:
    orders = OrdersService(None, RecordingPublisher(), windows=WEEK, default_country=None)  # type: ignore[arg-type]

    with pytest.raises(PermanentFailure, match=f"Not a valid Shopify {topic} payload: .*id"):
        orders.apply(delivery(topic, body))


@pytest.mark.parametrize("topic", ["customers/redact", "products/update"])
def test_a_topic_that_is_not_an_orders_is_ignored(store: Store, topic: str) -> None:
    assert service(store).apply(delivery(topic, {"id": 1})) == Applied(
        topic=topic, order_id=None, outcome="ignored", events=0
    )


# -- shipments and deliveries --------------------------------------------------------------------


def test_the_first_shipment_is_announced_with_the_orders_value_and_a_second_is_not(store: Store) -> None:
    clicked(store)
    service(store).apply(delivery("orders/create", placed()))

    first = service(store).apply(delivery("fulfillments/create", SHIPPED))
    second = service(store).apply(delivery("fulfillments/create", SHIPPED | {"id": 255858047}))

    assert (first.outcome, first.events, second.events) == ("attached", 1, 0)
    shipped = props(store, "order.shipped")
    assert (shipped["fulfillmentId"], shipped["value"], shipped["currency"]) == ("255858046", 409.94, "USD")
    assert (shipped["ctwaClid"], shipped["phone"]) == ("CLID-A", WA_ID)
    assert [i["sku"] for i in shipped["lineItems"]] == ["IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"]


def test_a_shipment_of_an_order_never_seen_is_recorded_as_such(store: Store) -> None:
    service(store).apply(delivery("fulfillments/create", SHIPPED))

    shipped = props(store, "order.shipped")
    assert (shipped["orderKnown"], shipped["value"], shipped["attribution"]) == (False, None, None)


def test_only_a_delivered_tracking_event_is_announced(store: Store) -> None:
    tracking = {
        "id": 944956395,
        "fulfillment_id": 255858046,
        "order_id": 1001,
        "happened_at": sc.iso(CLICK_AT),
    }

    in_transit = service(store).apply(
        delivery("fulfillment_events/create", tracking | {"status": "in_transit"})
    )
    delivered = service(store).apply(
        delivery("fulfillment_events/create", tracking | {"status": "delivered"})
    )

    assert (in_transit.outcome, in_transit.order_id, in_transit.events) == ("ignored", "1001", 0)
    assert (delivered.outcome, delivered.events) == ("attached", 1)
    assert store.publisher.names() == ["order.delivered"]
    assert props(store, "order.delivered")["eventId"] == f"shopify:{SHOP}:1001:order_delivered"


# -- tenants -------------------------------------------------------------------------------------

TENANTS = tn.TenantDirectory(
    tn.parse_tenants(
        json.dumps([{"id": "brand-b", "shops": ["Brand-B.myshopify.com"], "phone_number_ids": ["222"]}])
    )
)


def test_an_order_of_a_shop_no_tenant_lists_is_unattributed_as_an_unknown_shop(store: Store) -> None:
    clicked(store)

    service(store, tenants=lambda: TENANTS).apply(
        delivery("orders/create", placed(), shop="stranger.myshopify.com")
    )

    attribution = props(store, "conversion.unattributed")["attribution"]
    assert (attribution["status"], attribution["reason"]) == ("unattributed", "unknown_shop")


def test_a_tenants_order_is_credited_to_its_own_contact_and_carries_the_tenant(store: Store) -> None:
    clicked(store)  # the same phone talked to the deployment's default number: not brand B's contact
    store.contact(f"brand-b~{WA_ID}", first_seen=CLICK_AT + 60)
    store.click(f"brand-b~{WA_ID}", CLICK_AT + 60, "CLID-B")
    orders = service(store, tenants=lambda: TENANTS)

    orders.apply(delivery("orders/create", placed(), shop="brand-b.myshopify.com"))
    orders.apply(
        delivery(
            "refunds/create",
            sc.refund(refund_id=31, order_id=1001, created_at=CLICK_AT + 2 * sc.DAY),
            shop="brand-b.myshopify.com",
        )
    )

    order = props(store, "conversion.attributed")
    assert (order["contactKey"], order["ctwaClid"], order["phone"], order["tenant"]) == (
        f"brand-b~{WA_ID}",
        "CLID-B",
        WA_ID,
        "brand-b",
    )
    assert props(store, "refund.created")["tenant"] == "brand-b"
    stored = store.attribution.get_order("brand-b.myshopify.com", "1001")
    assert stored is not None and stored["tenant"] == "brand-b"


def test_without_a_tenant_list_the_order_carries_no_tenant(store: Store) -> None:
    clicked(store)

    service(store, tenants=lambda: tn.TenantDirectory(None)).apply(delivery("orders/create", placed()))

    assert "tenant" not in props(store, "conversion.attributed")


# -- follow-ups of a contact merged since --------------------------------------------------------


def test_a_follow_up_goes_to_the_contact_a_user_id_contact_was_merged_into(store: Store) -> None:
    uid = "uid:US.13491208655302741918"
    store.contact(uid, first_seen=CLICK_AT, user_id="US.13491208655302741918")
    link = issue_link(store.capture, uid, {"url": "https://a.test/p"}, now=CLICK_AT, valid_days=7)
    via_link = placed(
        landing_site=f"/products/ipod?wac={link.token}", billing_address=None, shipping_address=None
    )
    service(store).apply(delivery("orders/create", via_link))
    order = props(store, "conversion.attributed")
    assert (order["contactKey"], order["phone"]) == (uid, None)

    store.contact(WA_ID, first_seen=CLICK_AT + sc.DAY)
    assert store.capture.merge_contact(uid, WA_ID)
    service(store).apply(
        delivery("refunds/create", sc.refund(refund_id=31, order_id=1001, created_at=CLICK_AT + 2 * sc.DAY))
    )

    refund = props(store, "refund.created")
    assert (refund["contactKey"], refund["phone"]) == (WA_ID, WA_ID)
    assert store.publisher.events[-1].user_id == f"+{WA_ID}"
