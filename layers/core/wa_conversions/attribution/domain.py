"""What attribution decides: its statuses, reasons and models, the Shopify topics it handles, and the
outcome it stores (the orders it reads are models.commerce)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
