"""What attribution works with once Shopify's and the operator API's formats are gone."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from .phones import PhoneCandidate


class AttributionStatus(StrEnum):
    ATTRIBUTED = "attributed"
    WHATSAPP_INFLUENCED = "whatsapp_influenced"
    UNATTRIBUTED = "unattributed"


class UnmatchedReason(StrEnum):
    NO_PHONE = "no_phone"
    UNPARSEABLE_PHONE = "unparseable_phone"
    NO_CONTACT = "no_contact"
    NO_REFERRAL = "no_referral"
    OUTSIDE_WINDOW = "outside_window"
    # A deployment with a tenant list (docs/tenants.md) and an order from a shop no tenant lists.
    UNKNOWN_SHOP = "unknown_shop"


class TokenOutcome(StrEnum):
    """What became of a link token an order carried (attribution.links)."""

    MATCHED = "matched"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    NOT_IN_ORDER = "not_in_order"


LAST_TOUCH = "last_touch"
LINK_TOKEN = "link_token"  # noqa: S105 (a model name, not a secret)
EMAIL = "email"


class OrderTopic(StrEnum):
    """The Shopify topics handled; anything else is acknowledged and ignored."""

    ORDERS_CREATE = "orders/create"
    ORDERS_PAID = "orders/paid"
    ORDERS_UPDATED = "orders/updated"
    ORDERS_CANCELLED = "orders/cancelled"
    REFUNDS_CREATE = "refunds/create"
    FULFILLMENTS_CREATE = "fulfillments/create"
    FULFILLMENT_EVENTS_CREATE = "fulfillment_events/create"


class ComplianceTopic(StrEnum):
    """Shopify's mandatory compliance webhooks (docs/privacy.md, "Shopify's compliance webhooks")."""

    CUSTOMERS_DATA_REQUEST = "customers/data_request"
    CUSTOMERS_REDACT = "customers/redact"
    SHOP_REDACT = "shop/redact"


COMPLIANCE_TOPICS = frozenset(topic.value for topic in ComplianceTopic)
HANDLED_TOPICS = frozenset(topic.value for topic in OrderTopic) | COMPLIANCE_TOPICS
# The topics whose payload is an Order.
ORDER_TOPICS = frozenset(
    {OrderTopic.ORDERS_CREATE, OrderTopic.ORDERS_PAID, OrderTopic.ORDERS_UPDATED, OrderTopic.ORDERS_CANCELLED}
)


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


@dataclass(frozen=True, slots=True)
class Attribution:
    """The outcome for one conversion: who it was, and the ad click it is credited to."""

    status: AttributionStatus
    reason: UnmatchedReason | None
    contact_key: str | None
    ctwa_clid: str | None = None
    source_id: str | None = None
    clicked_at: int | None = None
    referral_message_id: str | None = None
    model: str = LAST_TOUCH
    # Which keys were tried, in order ("token", "phone"), and what each gave: "matched", or why not.
    keys_tried: tuple[tuple[str, str], ...] = ()

    def as_record(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "model": self.model,
            "reason": self.reason.value if self.reason else None,
            "contact_key": self.contact_key,
            "ctwa_clid": self.ctwa_clid,
            "source_id": self.source_id,
            "clicked_at": self.clicked_at,
            "referral_message_id": self.referral_message_id,
            "keys_tried": [{"key": key, "outcome": outcome} for key, outcome in self.keys_tried] or None,
        }

    @classmethod
    def from_record(cls, record: dict[str, object]) -> Attribution:
        reason = record.get("reason")
        clicked = record.get("clicked_at")
        return cls(
            status=AttributionStatus(str(record["status"])),
            reason=UnmatchedReason(str(reason)) if reason else None,
            contact_key=_str(record.get("contact_key")),
            ctwa_clid=_str(record.get("ctwa_clid")),
            source_id=_str(record.get("source_id")),
            clicked_at=int(str(clicked)) if clicked is not None else None,
            referral_message_id=_str(record.get("referral_message_id")),
            model=str(record.get("model") or LAST_TOUCH),
            keys_tried=tuple(
                (str(tried["key"]), str(tried["outcome"]))
                for tried in record.get("keys_tried") or ()  # type: ignore[attr-defined]
                if isinstance(tried, dict)
            ),
        )


def _str(value: object) -> str | None:
    return None if value is None else str(value)
