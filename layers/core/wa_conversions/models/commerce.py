"""A shop's orders and refunds as the domain sees them, whichever API they came from: the Shopify
parser (providers.shopify) builds these, attribution reads them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class PhoneCandidate:
    """A phone as found on an order, with the country of the address it came with."""

    raw: str
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class LineItem:
    id: str | None
    product_id: str | None
    variant_id: str | None
    sku: str | None
    title: str | None
    quantity: int
    price: Decimal | None


@dataclass(frozen=True, slots=True)
class WebFacts:
    """What a website event at Meta needs from the order (docs/forwarding.md, MetaWebOrderSource)."""

    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    landing_site: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    fbc: str | None = None
    fbp: str | None = None

    def as_record(self) -> dict[str, str]:
        return {name: value for name in self.__slots__ if (value := getattr(self, name))}


@dataclass(frozen=True, slots=True)
class FulfillmentFacts:
    """A shipment (fulfillments/create) or one of its tracking events (fulfillment_events/create)."""

    order_id: str
    fulfillment_id: str
    status: str | None
    at: int | None


@dataclass(frozen=True, slots=True)
class OrderFacts:
    order_id: str
    name: str | None
    email: str | None
    phones: tuple[PhoneCandidate, ...]
    value: Money | None
    presentment_value: Money | None
    line_items: tuple[LineItem, ...]
    placed_at: int | None
    updated_at: int | None
    cancelled_at: int | None
    cancel_reason: str | None
    financial_status: str | None
    test: bool
    web: WebFacts | None = None
    # Link tokens (attribution.links) the order carries, in the order they were found.
    link_tokens: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RefundFacts:
    refund_id: str
    order_id: str
    value: Money | None
    presentment_value: Money | None
    created_at: int | None
    line_items: tuple[tuple[str, int], ...]
