"""Shopify's REST Order and Refund payloads (orders/* and refunds/create webhooks), read tolerantly:
every field may be missing or null across API versions, and unknown fields are ignored.

Money comes as decimal strings ("409.94"), and in newer API versions also as *_set objects carrying
the shop's and the buyer's (presentment) money; old payloads have only the former.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..models.commerce import (
    FulfillmentFacts,
    LineItem,
    Money,
    OrderFacts,
    PhoneCandidate,
    RefundFacts,
    WebFacts,
)
from ..models.money import bounded


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MoneyAmount(_Wire):
    amount: str | None = None
    currency_code: str | None = None


class MoneySet(_Wire):
    shop_money: MoneyAmount | None = None
    presentment_money: MoneyAmount | None = None


class Address(_Wire):
    phone: str | None = None
    country_code: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    province_code: str | None = None
    zip: str | None = None


class Customer(_Wire):
    id: int | str | None = None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    default_address: Address | None = None


class ClientDetails(_Wire):
    browser_ip: str | None = None
    user_agent: str | None = None


class NoteAttribute(_Wire):
    name: str | None = None
    value: str | int | float | None = None


class WireLineItem(_Wire):
    id: int | str | None = None
    product_id: int | str | None = None
    variant_id: int | str | None = None
    sku: str | None = None
    title: str | None = None
    name: str | None = None
    quantity: int = 0
    price: str | None = None
    price_set: MoneySet | None = None


class Order(_Wire):
    id: int | str
    name: str | None = None
    order_number: int | None = None
    email: str | None = None
    contact_email: str | None = None
    phone: str | None = None
    currency: str | None = None
    presentment_currency: str | None = None
    total_price: str | None = None
    total_price_set: MoneySet | None = None
    financial_status: str | None = None
    created_at: datetime | None = None
    processed_at: datetime | None = None
    updated_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    test: bool = False
    customer: Customer | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    line_items: list[WireLineItem] = Field(default_factory=list)
    landing_site: str | None = None
    referring_site: str | None = None
    note: str | None = None
    client_details: ClientDetails | None = None
    note_attributes: list[NoteAttribute] = Field(default_factory=list)

    @field_validator("note_attributes", mode="before")
    @classmethod
    def _attributes(cls, value: Any) -> Any:
        # A malformed list here costs only the fbc/fbp, never the order.
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    @field_validator("test", mode="before")
    @classmethod
    def _null_is_false(cls, value: Any) -> Any:
        return False if value is None else value

    @field_validator("line_items", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class Transaction(_Wire):
    id: int | str | None = None
    kind: str | None = None
    status: str | None = None
    amount: str | None = None
    currency: str | None = None


class RefundLineItem(_Wire):
    line_item_id: int | str | None = None
    quantity: int = 0
    subtotal: str | float | None = None
    subtotal_set: MoneySet | None = None
    total_tax: str | float | None = None
    total_tax_set: MoneySet | None = None


class RefundShippingLine(_Wire):
    subtotal_amount_set: MoneySet | None = None
    tax_amount_set: MoneySet | None = None


class OrderAdjustment(_Wire):
    """Older API versions record refunded shipping only here, as a negative "shipping_refund"."""

    kind: str | None = None
    amount_set: MoneySet | None = None
    tax_amount_set: MoneySet | None = None


class Refund(_Wire):
    id: int | str
    order_id: int | str
    created_at: datetime | None = None
    processed_at: datetime | None = None
    note: str | None = None
    transactions: list[Transaction] = Field(default_factory=list)
    refund_line_items: list[RefundLineItem] = Field(default_factory=list)
    refund_shipping_lines: list[RefundShippingLine] = Field(default_factory=list)
    order_adjustments: list[OrderAdjustment] = Field(default_factory=list)

    @field_validator(
        "transactions", "refund_line_items", "refund_shipping_lines", "order_adjustments", mode="before"
    )
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class Fulfillment(_Wire):
    """fulfillments/create: a shipment of (some of) the order's items."""

    id: int | str
    order_id: int | str
    status: str | None = None
    created_at: datetime | None = None


class FulfillmentEvent(_Wire):
    """fulfillment_events/create: a tracking update of a shipment (status "delivered", ...)."""

    id: int | str
    fulfillment_id: int | str
    order_id: int | str
    status: str | None = None
    happened_at: datetime | None = None
    created_at: datetime | None = None


def parse_fulfillment(raw: bytes | str) -> Fulfillment:
    return Fulfillment.model_validate_json(raw)


def parse_fulfillment_event(raw: bytes | str) -> FulfillmentEvent:
    return FulfillmentEvent.model_validate_json(raw)


def fulfillment_facts(fulfillment: Fulfillment) -> FulfillmentFacts:
    return FulfillmentFacts(
        order_id=str(fulfillment.order_id),
        fulfillment_id=str(fulfillment.id),
        status=fulfillment.status,
        at=_epoch(fulfillment.created_at),
    )


def fulfillment_event_facts(event: FulfillmentEvent) -> FulfillmentFacts:
    return FulfillmentFacts(
        order_id=str(event.order_id),
        fulfillment_id=str(event.fulfillment_id),
        status=event.status,
        at=_epoch(event.happened_at or event.created_at),
    )


# Where storefront pixels and Shopify apps leave Meta's browser ids on the order (cart attributes).
_FBC_NAMES = frozenset({"fbc", "_fbc"})
_FBP_NAMES = frozenset({"fbp", "_fbp"})


def web_facts(order: Order) -> WebFacts:
    """The buyer's name and address (billing, else shipping, else the customer's default address)
    and the browser's details, for Meta's website events."""
    customer = order.customer or Customer()
    address = order.billing_address or order.shipping_address or customer.default_address or Address()
    attributes = {str(a.name or "").strip().lower(): a.value for a in order.note_attributes}

    def attribute(names: frozenset[str]) -> str | None:
        found = next((attributes[n] for n in names if attributes.get(n) not in (None, "")), None)
        return str(found) if found is not None else None

    client = order.client_details or ClientDetails()
    return WebFacts(
        first_name=address.first_name or customer.first_name,
        last_name=address.last_name or customer.last_name,
        city=address.city,
        state=address.province_code,
        zip=address.zip,
        country=address.country_code,
        landing_site=order.landing_site,
        client_ip=client.browser_ip,
        user_agent=client.user_agent,
        fbc=attribute(_FBC_NAMES),
        fbp=attribute(_FBP_NAMES),
    )


def parse_order(raw: bytes | str) -> Order:
    """Raises pydantic.ValidationError for anything that is not an order."""
    return Order.model_validate_json(raw)


def parse_refund(raw: bytes | str) -> Refund:
    return Refund.model_validate_json(raw)


def _decimal(value: str | float | None) -> Decimal | None:
    """An amount every destination can take, else None (unknown): "NaN", "Infinity" and "1e400"
    parse as Decimals and would break every request that carried them."""
    if value is None or value == "":
        return None
    try:
        return bounded(Decimal(str(value)))
    except InvalidOperation:
        return None


def _money(amount: str | float | None, currency: str | None) -> Money | None:
    value = _decimal(amount)
    if value is None or not currency:
        return None
    return Money(amount=value, currency=currency.upper())


def _from_set(money_set: MoneySet | None, which: str) -> Money | None:
    part: MoneyAmount | None = getattr(money_set, which, None) if money_set else None
    return _money(part.amount, part.currency_code) if part else None


def _negated_from_set(money_set: MoneySet | None, which: str) -> Money | None:
    """Adjustment amounts are negative (money leaving the shop); _money refuses negatives."""
    part: MoneyAmount | None = getattr(money_set, which, None) if money_set else None
    if part is None or not part.amount:
        return None
    return _money(part.amount.strip().removeprefix("-"), part.currency_code)


def _same_currency(one: str | None, other: str | None) -> bool:
    return (one or "").upper() == (other or "").upper()


def _epoch(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def phone_candidates(order: Order) -> list[PhoneCandidate]:
    """The phones of an order in the order they are trusted, each with the country that makes sense
    of it when written nationally: its own address's, else the billing or shipping country."""
    customer = order.customer or Customer()
    default_address = customer.default_address or Address()
    billing = order.billing_address or Address()
    shipping = order.shipping_address or Address()
    order_country = billing.country_code or shipping.country_code or default_address.country_code
    # The shipping address comes last: in a gift order it is the recipient's, not the buyer's.
    found = [
        PhoneCandidate(order.phone or "", order_country),
        PhoneCandidate(customer.phone or "", order_country),
        PhoneCandidate(billing.phone or "", billing.country_code or order_country),
        PhoneCandidate(default_address.phone or "", default_address.country_code or order_country),
        PhoneCandidate(shipping.phone or "", shipping.country_code or order_country),
    ]
    return [candidate for candidate in found if candidate.raw.strip()]


def order_facts(order: Order) -> OrderFacts:
    shop_total = _from_set(order.total_price_set, "shop_money") or _money(order.total_price, order.currency)
    presentment_total = _from_set(order.total_price_set, "presentment_money")
    if presentment_total is None and _same_currency(order.presentment_currency, order.currency):
        presentment_total = shop_total
    placed = order.created_at or order.processed_at
    return OrderFacts(
        order_id=str(order.id),
        name=order.name or (f"#{order.order_number}" if order.order_number is not None else None),
        email=order.email or order.contact_email or (order.customer.email if order.customer else None),
        phones=tuple(phone_candidates(order)),
        value=shop_total,
        presentment_value=presentment_total,
        line_items=tuple(
            LineItem(
                id=str(item.id) if item.id is not None else None,
                product_id=str(item.product_id) if item.product_id is not None else None,
                variant_id=str(item.variant_id) if item.variant_id is not None else None,
                sku=item.sku or None,
                title=item.title or item.name,
                quantity=item.quantity,
                price=_decimal(item.price),
            )
            for item in order.line_items
        ),
        placed_at=_epoch(placed),
        updated_at=_epoch(order.updated_at),
        cancelled_at=_epoch(order.cancelled_at),
        cancel_reason=order.cancel_reason,
        financial_status=order.financial_status,
        test=order.test,
        web=web_facts(order),
        link_tokens=link_tokens(order),
    )


def link_tokens(order: Order) -> tuple[str, ...]:
    """The chat's link tokens (attribution.links) wherever the storefront kept them: the landing
    page's query, the referring site, a `wac` note attribute (cart attributes) or the order note."""
    from ..models.link_tokens import tokens_in

    attributes = {str(a.name or "").strip().lower(): a.value for a in order.note_attributes}
    texts: list[str | None] = [order.landing_site, order.referring_site, order.note]
    return tokens_in(texts, {k: v for k, v in attributes.items() if isinstance(v, str)})


# Shopify Payments refunds are usually still "pending" when refunds/create fires; failures gave nothing.
COUNTED_REFUND_STATUSES = frozenset({"success", "pending"})


def refund_facts(refund: Refund) -> RefundFacts:
    """The refunded amount is what the refund transactions give back, pending or done (0 when every
    one failed); when the payload carries none (refunds of unpaid orders), what was refunded: the
    lines with their taxes plus refunded shipping."""
    attempted = [t for t in refund.transactions if (t.kind or "refund") == "refund"]
    refunds = [t for t in attempted if (t.status or "success") in COUNTED_REFUND_STATUSES]
    value: Money | None = None
    amounts = [a for t in refunds if (a := _decimal(t.amount)) is not None]
    currencies = {t.currency.upper() for t in attempted if t.currency}
    nothing_back = bool(attempted) and not refunds
    if nothing_back and len(currencies) == 1:
        value = Money(amount=Decimal(0), currency=currencies.pop())
    elif amounts and len(amounts) == len(refunds) and len(currencies) == 1:
        value = Money(amount=sum(amounts, Decimal(0)), currency=currencies.pop())
    if value is None:
        value = _refunded_goods(refund, "shop_money")
    return RefundFacts(
        refund_id=str(refund.id),
        order_id=str(refund.order_id),
        value=value,
        presentment_value=None if nothing_back else _refunded_goods(refund, "presentment_money"),
        created_at=_epoch(refund.created_at or refund.processed_at),
        line_items=tuple(
            (str(line.line_item_id), line.quantity)
            for line in refund.refund_line_items
            if line.line_item_id is not None
        ),
    )


def _refunded_goods(refund: Refund, which: str) -> Money | None:
    """Refunded lines with their taxes, plus refunded shipping with its tax (refund_shipping_lines,
    or in older payloads the shipping_refund order adjustments); None if any part is unknown."""
    parts: list[Money | None] = []
    for line in refund.refund_line_items:
        subtotal = _from_set(line.subtotal_set, which)
        parts.append(subtotal)
        if line.total_tax_set is not None:
            parts.append(_from_set(line.total_tax_set, which))
        elif line.total_tax is not None and subtotal is not None:
            # Older payloads give the tax as a bare number, in the shop's money.
            shop = _from_set(line.subtotal_set, "shop_money")
            parts.append(
                _money(line.total_tax, subtotal.currency)
                if shop and shop.currency == subtotal.currency
                else None
            )
    if refund.refund_shipping_lines:
        for shipping in refund.refund_shipping_lines:
            parts.append(_from_set(shipping.subtotal_amount_set, which))
            if shipping.tax_amount_set is not None:
                parts.append(_from_set(shipping.tax_amount_set, which))
    else:
        for adjustment in refund.order_adjustments:
            if adjustment.kind == "shipping_refund":
                parts.append(_negated_from_set(adjustment.amount_set, which))
                if adjustment.tax_amount_set is not None:
                    parts.append(_negated_from_set(adjustment.tax_amount_set, which))
    return _sum(parts)


def _sum(parts: list[Money | None]) -> Money | None:
    known = [p for p in parts if p is not None]
    if not known or len(known) != len(parts) or len({p.currency for p in known}) != 1:
        return None
    return Money(amount=sum((p.amount for p in known), Decimal(0)), currency=known[0].currency)
