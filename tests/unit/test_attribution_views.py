"""attribution.views: what GET /orders/{id} and GET /external-events/{id} answer, read from the table
in moto: the order found in its one shop or refused when ambiguous, follow-ups in time order, money and
times in the API's form, a tenant's orders only, and the contact a user-id contact was merged into."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import attribution_store as shared
from tests.support.attribution_store import Store
from wa_conversions import tenants as tn
from wa_conversions.attribution.views import attribution_view, external_event_view, order_view
from wa_conversions.errors import BadRequestError, NotFoundError
from wa_conversions.store import keys

# the helper's fixtures: one moto table for the file, emptied for each test
attribution_moto = shared.attribution_moto
store = shared.store

SHOP = "wa-conversions-dev.myshopify.com"
AT = 1_750_000_000  # 2025-06-15T15:06:40Z
ATTRIBUTED = {
    "status": "attributed",
    "model": "last_touch",
    "contact_key": "16505551234",
    "ctwa_clid": "ARAkLkA8rmlF",
    "source_id": "120226305854810726",
    "clicked_at": AT - 3600,
    "keys_tried": [{"key": "token", "outcome": "not_in_order"}, {"key": "phone", "outcome": "matched"}],
}


def order(store: Store, shop: str = SHOP, order_id: str = "1001", **fields: Any) -> None:
    store.attribution.create_order(
        shop,
        order_id,
        {
            "shop": shop,
            "order_id": order_id,
            "order_name": f"#{order_id}",
            "event_id": f"shopify:{shop}:{order_id}:order",
            "event_name": "conversion.attributed",
            "placed_at": AT,
            "value": "409.94",
            "currency": "USD",
            "line_items": [
                {
                    "id": "466157049",
                    "sku": "IPOD2008GREEN",
                    "title": "IPod Nano - 8gb",
                    "quantity": 1,
                    "price": "199.00",
                }
            ],
            "attribution": ATTRIBUTED,
            **fields,
        },
    )


def follow_up(store: Store, kind: str, follow_up_id: str, at: int, shop: str = SHOP, **fields: Any) -> None:
    store.attribution.create_follow_up(
        shop,
        "1001",
        kind,
        follow_up_id,
        {
            "shop": shop,
            "order_id": "1001",
            "kind": kind,
            "follow_up_id": follow_up_id,
            "event_id": f"shopify:{shop}:1001:{kind}",
            "at": at,
            "order_known": True,
            **fields,
        },
    )


def test_an_order_reads_with_its_money_times_items_and_attribution(store: Store) -> None:
    order(
        store,
        financial_status="paid",
        cancelled_at=AT + 60,
        presentment_value="377.15",
        presentment_currency="EUR",
    )

    view = order_view(store.attribution, " 1001 ", None)

    assert (view.shop, view.order_id, view.known, view.order_name) == (SHOP, "1001", True, "#1001")
    assert (view.conversion_id, view.event) == (f"shopify:{SHOP}:1001", "conversion.attributed")
    assert (view.placed_at, view.cancelled_at) == ("2025-06-15T15:06:40.000Z", "2025-06-15T15:07:40.000Z")
    assert view.value is not None and view.value.model_dump() == {"amount": "409.94", "currency": "USD"}
    assert view.presentment_value is not None and view.presentment_value.currency == "EUR"
    assert (view.line_items[0].sku, view.line_items[0].price) == ("IPOD2008GREEN", "199.00")
    assert view.attribution is not None
    assert (view.attribution.ctwa_clid, view.attribution.clicked_at) == (
        "ARAkLkA8rmlF",
        "2025-06-15T14:06:40.000Z",
    )
    assert [(k.key, k.outcome) for k in view.attribution.keys_tried] == [
        ("token", "not_in_order"),
        ("phone", "matched"),
    ]
    assert (view.financial_status, view.published, view.tenant) == ("paid", False, None)


def test_follow_ups_come_in_time_order_with_their_money(store: Store) -> None:
    order(store)
    follow_up(store, "refund", "31", AT + 300, value="204.97", currency="USD")
    follow_up(store, "order_paid", "1001", AT + 60, value="409.94", currency="USD")
    store.attribution.mark_published(keys.order_pk(SHOP, "1001"), keys.follow_up_sk("order_paid", "1001"))
    follow_up(store, "order_shipped", "1001", AT + 120, value="409.94", currency=None)

    view = order_view(store.attribution, "1001", SHOP)

    assert [(f.kind, f.at) for f in view.follow_ups] == [
        ("order_paid", "2025-06-15T15:07:40.000Z"),
        ("order_shipped", "2025-06-15T15:08:40.000Z"),
        ("refund", "2025-06-15T15:11:40.000Z"),
    ]
    paid, shipped, refund = view.follow_ups
    assert (paid.published, refund.id, refund.value and refund.value.amount) == (True, "31", "204.97")
    assert shipped.value is None  # an amount without its currency is no money


def test_an_order_known_only_by_its_refund_is_shown_as_unknown(store: Store) -> None:
    follow_up(store, "refund", "31", AT, value="204.97", currency="USD", order_known=False)

    view = order_view(store.attribution, "1001", None)

    assert (view.known, view.attribution, view.value, view.event_id) == (False, None, None, None)
    assert [(f.kind, f.order_known) for f in view.follow_ups] == [("refund", False)]


def test_an_order_in_two_shops_needs_the_shop_and_each_shop_answers_its_own(store: Store) -> None:
    order(store)
    order(store, shop="second-store.myshopify.com", value="10.00")

    with pytest.raises(BadRequestError, match="exists in several shops") as refused:
        order_view(store.attribution, "1001", None)

    assert refused.value.field == "shop"
    chosen = order_view(store.attribution, "1001", "Second-Store.myshopify.com ")
    assert (chosen.shop, chosen.value and chosen.value.amount) == ("second-store.myshopify.com", "10.00")


def test_an_order_never_seen_is_a_404_naming_it(store: Store) -> None:
    order(store)

    with pytest.raises(NotFoundError, match=r"No order 424242$"):
        order_view(store.attribution, "424242", None)
    with pytest.raises(NotFoundError, match=r"No order 1001 in stranger\.myshopify\.com"):
        order_view(store.attribution, "1001", "stranger.myshopify.com")


DIRECTORY = tn.TenantDirectory(
    tn.parse_tenants(
        '[{"id": "brand-a", "default": true, "shops": ["brand-a.myshopify.com"]},'
        ' {"id": "brand-b", "shops": ["Brand-B.myshopify.com"]}]'
    )
)


def test_a_tenant_sees_its_own_orders_and_not_anothers(store: Store) -> None:
    order(store, shop="brand-b.myshopify.com", tenant="brand-b")
    brand_a, brand_b = DIRECTORY.get("brand-a"), DIRECTORY.get("brand-b")

    view = order_view(store.attribution, "1001", None, brand_b, DIRECTORY)

    assert (view.shop, view.tenant) == ("brand-b.myshopify.com", "brand-b")
    with pytest.raises(NotFoundError, match="for tenant brand-a"):
        order_view(store.attribution, "1001", None, brand_a, DIRECTORY)
    with pytest.raises(NotFoundError, match="for tenant brand-a"):
        order_view(store.attribution, "1001", "brand-b.myshopify.com", brand_a, DIRECTORY)


def test_the_default_tenant_keeps_the_orders_from_before_the_tenant_list(store: Store) -> None:
    order(store, shop="old-store.myshopify.com")

    view = order_view(store.attribution, "1001", None, DIRECTORY.get("brand-a"), DIRECTORY)

    assert view.shop == "old-store.myshopify.com"
    with pytest.raises(NotFoundError):
        order_view(store.attribution, "1001", None, DIRECTORY.get("brand-b"), DIRECTORY)


def test_an_order_of_a_merged_user_id_contact_shows_the_contact_it_became(store: Store) -> None:
    uid = "uid:US.13491208655302741918"
    store.contact(uid, first_seen=AT - 60, user_id="US.13491208655302741918")
    store.contact("16505551234", first_seen=AT)
    order(store, attribution={"status": "whatsapp_influenced", "contact_key": uid, "reason": "no_referral"})
    assert order_view(store.attribution, "1001", SHOP).attribution.contact_key == uid  # type: ignore[union-attr]

    assert store.capture.merge_contact(uid, "16505551234")

    view = order_view(store.attribution, "1001", SHOP)
    assert view.attribution is not None
    assert (view.attribution.contact_key, view.attribution.status) == ("16505551234", "whatsapp_influenced")


def test_an_attribution_stored_before_models_reads_as_last_touch() -> None:
    view = attribution_view({"status": "unattributed", "reason": "no_phone", "keys_tried": ["bad", None]})

    assert (view.model, view.reason, view.clicked_at, view.keys_tried) == ("last_touch", "no_phone", None, [])


def test_an_off_thread_event_reads_with_its_revenue_and_time() -> None:
    item = {
        "external_event_id": "0b7c5d6e",
        "conversion_id": "external:0b7c5d6e",
        "event_id": "external:0b7c5d6e:external",
        "event_name": "conversion.attributed",
        "lead_phone": "16505551234",
        "action": "Booked",
        "meta_event_name": "LeadSubmitted",
        "value": "80",
        "currency": "MXN",
        "previous_external_event_id": None,
        "occurred_at": AT,
        "attribution": {"status": "attributed", "ctwa_clid": "CLID-E", "clicked_at": AT - 60},
    }

    view = external_event_view(item)

    assert (view.occurred_at, view.meta_event_name, view.app_id) == (
        "2025-06-15T15:06:40.000Z",
        "LeadSubmitted",
        None,
    )
    assert view.revenue is not None and view.revenue.model_dump() == {"amount": "80", "currency": "MXN"}
    assert (view.attribution.ctwa_clid, view.attribution.clicked_at) == ("CLID-E", "2025-06-15T15:05:40.000Z")
    assert external_event_view({**item, "value": None, "currency": None}).revenue is None
