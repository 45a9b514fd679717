"""The conversion events of docs/events.md, built once from what is stored.

An item's event is built when the item is created and kept with it (`event_detail`), so a retried
delivery publishes the very same event (same messageId, same properties), never a recomputed one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..models import events as ev
from ..models.commerce import LineItem, Money
from .domain import Attribution, AttributionStatus

CONVERSION_ATTRIBUTED = ev.EventName.CONVERSION_ATTRIBUTED
CONVERSION_UNATTRIBUTED = ev.EventName.CONVERSION_UNATTRIBUTED
ORDER_PAID = ev.EventName.ORDER_PAID
ORDER_CANCELLED = ev.EventName.ORDER_CANCELLED
REFUND_CREATED = ev.EventName.REFUND_CREATED
ORDER_SHIPPED = ev.EventName.ORDER_SHIPPED
ORDER_DELIVERED = ev.EventName.ORDER_DELIVERED

KIND_ORDER = "order"
KIND_ORDER_PAID = "order_paid"
KIND_ORDER_CANCELLED = "order_cancelled"
KIND_REFUND = "refund"
KIND_ORDER_SHIPPED = "order_shipped"
KIND_ORDER_DELIVERED = "order_delivered"
KIND_EXTERNAL = "external"

FOLLOW_UP_EVENTS = {
    KIND_ORDER_PAID: ORDER_PAID,
    KIND_ORDER_CANCELLED: ORDER_CANCELLED,
    KIND_REFUND: REFUND_CREATED,
    KIND_ORDER_SHIPPED: ORDER_SHIPPED,
    KIND_ORDER_DELIVERED: ORDER_DELIVERED,
}


def shopify_conversion_id(shop: str, order_id: str) -> str:
    return f"shopify:{shop}:{order_id}"


def external_conversion_id(external_event_id: str) -> str:
    return f"external:{external_event_id}"


def conversion_event_name(attribution: Attribution) -> ev.EventName:
    """A conversion matched to a WhatsApp contact is attributed, with or without an ad click (the
    attribution status says which); one matched to nobody is unattributed."""
    if attribution.status is AttributionStatus.UNATTRIBUTED:
        return CONVERSION_UNATTRIBUTED
    return CONVERSION_ATTRIBUTED


def conversion_phone(
    attribution: Attribution | None, buyer_phone: str | None, *, buyer_is_the_lead: bool = False
) -> str | None:
    """The phone every destination gets: the matched contact's own number (its wa_id), since an
    order may also carry other people's phones (a gift's recipient, a partner's); else the buyer's
    best phone; for a contact with no phone, none, unless the caller named the lead's phone itself
    (an off-thread event's lead_phone) (docs/shopify.md, "Which phone the destinations get")."""
    from ..tenants import phone_of_key

    contact_key = attribution.contact_key if attribution else None
    if contact_phone := phone_of_key(contact_key):
        return contact_phone
    if contact_key and not buyer_is_the_lead:
        # A contact known by user id alone: an order's phone is not its WhatsApp number, so none.
        return None
    return buyer_phone


def money_number(amount: Decimal | None) -> float | int | None:
    if amount is None:
        return None
    return int(amount) if amount == amount.to_integral_value() and "." not in str(amount) else float(amount)


def line_item_properties(items: tuple[LineItem, ...] | list[LineItem]) -> list[ev.LineItem]:
    return [
        ev.LineItem(
            id=item.id,
            product_id=item.product_id,
            variant_id=item.variant_id,
            sku=item.sku,
            title=item.title,
            quantity=item.quantity,
            price=money_number(item.price),
        )
        for item in items
    ]


def attribution_properties(attribution: Attribution | None) -> dict[str, Any]:
    """The attribution's fields of ConversionProperties (all null for an order never seen)."""
    if attribution is None:
        return {
            "contact_key": None,
            "ctwa_clid": None,
            "source_id": None,
            "clicked_at": None,
            "attribution": None,
        }
    return {
        "contact_key": attribution.contact_key,
        "ctwa_clid": attribution.ctwa_clid,
        "source_id": attribution.source_id,
        "clicked_at": ev.iso_timestamp(attribution.clicked_at)
        if attribution.clicked_at is not None
        else None,
        "attribution": ev.AttributionFacts(
            status=attribution.status.value,
            model=attribution.model,
            reason=attribution.reason.value if attribution.reason else None,
            keys_tried=[ev.KeyTried(key=key, outcome=outcome) for key, outcome in attribution.keys_tried],
        ),
    }


def build_event(
    *,
    event_name: str,
    conversion_id: str,
    kind: str,
    event_id: str,
    provider: str,
    at: int,
    phone: str | None,
    properties: dict[str, Any],
) -> ev.LifecycleEvent:
    """`properties`: the other fields of ConversionProperties, by name."""
    return ev.LifecycleEvent.build(
        update_key=event_id,
        event=event_name,
        user_id=f"+{phone}" if phone else None,
        epoch_seconds=at,
        provider=provider,
        properties=ev.ConversionProperties(
            conversion_id=conversion_id, event_id=event_id, kind=kind, **properties
        ),
    )


def web_properties(web: dict[str, Any] | None) -> dict[str, Any]:
    """An order's web facts (WebFacts.as_record) as ConversionProperties fields, for Meta's website events."""
    if not web:
        return {}
    customer = {
        "first_name": web.get("first_name"),
        "last_name": web.get("last_name"),
        "city": web.get("city"),
        "state": web.get("state"),
        "zip": web.get("zip"),
        "country": web.get("country"),
    }
    known = {k: v for k, v in customer.items() if v}
    return {
        "customer": ev.Customer(**known) if known else None,
        "landing_site": web.get("landing_site"),
        "client_ip": web.get("client_ip"),
        "user_agent": web.get("user_agent"),
        "fbc": web.get("fbc"),
        "fbp": web.get("fbp"),
    }


def value_properties(value: Money | None, presentment: Money | None) -> dict[str, Any]:
    return {
        "value": money_number(value.amount) if value else None,
        "currency": value.currency if value else None,
        "presentment_value": money_number(presentment.amount) if presentment else None,
        "presentment_currency": presentment.currency if presentment else None,
    }
