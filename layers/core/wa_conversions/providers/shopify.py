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

from ..attribution.domain import LineItem, Money, OrderFacts, RefundFacts
from ..attribution.phones import PhoneCandidate


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


class Customer(_Wire):
    id: int | str | None = None
    email: str | None = None
    phone: str | None = None
    default_address: Address | None = None


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


class Refund(_Wire):
    id: int | str
    order_id: int | str
    created_at: datetime | None = None
    processed_at: datetime | None = None
    note: str | None = None
    transactions: list[Transaction] = Field(default_factory=list)
    refund_line_items: list[RefundLineItem] = Field(default_factory=list)


def parse_order(raw: bytes | str) -> Order:
    """Raises pydantic.ValidationError for anything that is not an order."""
    return Order.model_validate_json(raw)


def parse_refund(raw: bytes | str) -> Refund:
    return Refund.model_validate_json(raw)


def _decimal(value: str | float | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
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
    found = [
        PhoneCandidate(order.phone or "", order_country),
        PhoneCandidate(customer.phone or "", order_country),
        PhoneCandidate(billing.phone or "", billing.country_code or order_country),
        PhoneCandidate(shipping.phone or "", shipping.country_code or order_country),
        PhoneCandidate(default_address.phone or "", default_address.country_code or order_country),
    ]
    return [candidate for candidate in found if candidate.raw.strip()]


def order_facts(order: Order) -> OrderFacts:
    shop_total = _from_set(order.total_price_set, "shop_money") or _money(order.total_price, order.currency)
    presentment_total = _from_set(order.total_price_set, "presentment_money")
    if presentment_total is None and order.presentment_currency == order.currency:
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
    )


def refund_facts(refund: Refund) -> RefundFacts:
    """The refunded amount is what successful refund transactions gave back; when the payload carries
    no transactions (refunds of unpaid orders), the refunded line items' subtotal."""
    refunds = [
        t
        for t in refund.transactions
        if (t.kind or "refund") == "refund" and (t.status or "success") == "success"
    ]
    value: Money | None = None
    amounts = [a for t in refunds if (a := _decimal(t.amount)) is not None]
    currencies = {t.currency.upper() for t in refunds if t.currency}
    if amounts and len(currencies) == 1:
        value = Money(amount=sum(amounts, Decimal(0)), currency=currencies.pop())
    shop_lines = [_from_set(line.subtotal_set, "shop_money") for line in refund.refund_line_items]
    presentment_lines = [
        _from_set(line.subtotal_set, "presentment_money") for line in refund.refund_line_items
    ]
    if value is None:
        value = _sum(shop_lines)
    return RefundFacts(
        refund_id=str(refund.id),
        order_id=str(refund.order_id),
        value=value,
        presentment_value=_sum(presentment_lines),
        created_at=_epoch(refund.created_at or refund.processed_at),
        line_items=tuple(
            (str(line.line_item_id), line.quantity)
            for line in refund.refund_line_items
            if line.line_item_id is not None
        ),
    )


def _sum(parts: list[Money | None]) -> Money | None:
    known = [p for p in parts if p is not None]
    if not known or len(known) != len(parts) or len({p.currency for p in known}) != 1:
        return None
    return Money(amount=sum((p.amount for p in known), Decimal(0)), currency=known[0].currency)
