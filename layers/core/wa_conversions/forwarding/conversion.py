"""The conversion events the forwarders read: the EventBridge envelope around the bus's track event
(docs/events.md), read tolerantly: unknown fields are ignored, missing optional ones are None."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONVERSION_EVENTS = (
    "conversion.attributed",
    "conversion.unattributed",
    "order.paid",
    "order.cancelled",
    "refund.created",
)
# Events posted to POST /conversions travel to Meta under this name; never published on the bus.
API_CONVERSION_EVENT = "conversion.requested"


class LineItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | int | None = None
    product_id: str | int | None = Field(default=None, alias="productId")
    variant_id: str | int | None = Field(default=None, alias="variantId")
    sku: str | None = None
    title: str | None = None
    quantity: int = 1
    # JSON has no NaN or Infinity (what 1e400 parses to): no destination could be sent one.
    price: float | None = Field(default=None, allow_inf_nan=False)


class Attribution(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str | None = None
    model: str | None = None
    reason: str | None = None


class Customer(BaseModel):
    """The buyer's name and address from the order (billing, else shipping), for Meta's web events."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None


class ConversionProperties(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    conversion_id: str = Field(alias="conversionId", min_length=1)
    event_id: str = Field(alias="eventId", min_length=1)
    kind: str = "order"
    shop: str | None = None
    order_id: str | None = Field(default=None, alias="orderId")
    order_name: str | None = Field(default=None, alias="orderName")
    value: float | None = Field(default=None, allow_inf_nan=False)
    currency: str | None = None
    line_items: list[LineItem] = Field(default_factory=list, alias="lineItems")
    email: str | None = None
    phone: str | None = None
    contact_key: str | None = Field(default=None, alias="contactKey")
    ctwa_clid: str | None = Field(default=None, alias="ctwaClid")
    source_id: str | None = Field(default=None, alias="sourceId")
    clicked_at: datetime | None = Field(default=None, alias="clickedAt")
    attribution: Attribution = Field(default_factory=Attribution)
    test: bool = False
    action: str | None = None
    event_name: str | None = Field(default=None, alias="eventName")
    previous_external_event_id: str | None = Field(default=None, alias="previousExternalEventId")
    # Follow-ups: false for a refund or cancellation of an order never seen (docs/events.md).
    order_known: bool = Field(default=True, alias="orderKnown")
    # Web facts of a Shopify order (Meta's MetaWebOrderSource=website; docs/forwarding.md)
    customer: Customer | None = None
    landing_site: str | None = Field(default=None, alias="landingSite")
    client_ip: str | None = Field(default=None, alias="clientIp")
    user_agent: str | None = Field(default=None, alias="userAgent")
    fbc: str | None = None
    fbp: str | None = None
    # POST /conversions only
    content_ids: list[str] = Field(default_factory=list, alias="contentIds")
    external_id: str | None = Field(default=None, alias="externalId")
    test_event_code: str | None = Field(default=None, alias="testEventCode")
    waba_id: str | None = Field(default=None, alias="wabaId")
    # The tenant the conversion belongs to, in a deployment with a tenant list (docs/tenants.md).
    tenant: str | None = None

    @field_validator("attribution", mode="before")
    @classmethod
    def _no_attribution(cls, value: Any) -> Any:
        # A follow-up of an order never seen (orderKnown false) carries "attribution": null.
        return {} if value is None else value

    @field_validator("order_id", "shop", "phone", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("phone", mode="after")
    @classmethod
    def _digits(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = "".join(ch for ch in value if ch.isdigit())
        return digits or None

    @field_validator("clicked_at", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> Any:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, tz=UTC)
        return value


class ConversionEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str
    message_id: str | None = None
    timestamp: datetime
    provider: str | None = None
    properties: ConversionProperties

    @property
    def event_time(self) -> int:
        when = self.timestamp if self.timestamp.tzinfo else self.timestamp.replace(tzinfo=UTC)
        return int(when.timestamp())

    @property
    def clicked_at_epoch(self) -> int | None:
        clicked = self.properties.clicked_at
        if clicked is None:
            return None
        return int((clicked if clicked.tzinfo else clicked.replace(tzinfo=UTC)).timestamp())

    def product_names(self) -> list[str]:
        return [item.title for item in self.properties.line_items if item.title]

    def item_count(self) -> int:
        return sum(max(item.quantity, 0) for item in self.properties.line_items)


class ConversionParseError(ValueError):
    pass


def parse_conversion(message: Any) -> ConversionEvent:
    """From the queued body: an EventBridge event whose detail is the track event, or that detail."""
    if not isinstance(message, dict):
        raise ConversionParseError("the message is not a JSON object")
    detail = message.get("detail") if isinstance(message.get("detail"), dict) else message
    assert isinstance(detail, dict)
    name = detail.get("event") or message.get("detail-type")
    context: dict[str, Any] = detail["context"] if isinstance(detail.get("context"), dict) else {}
    try:
        return ConversionEvent.model_validate(
            {
                "name": name,
                "message_id": detail.get("messageId"),
                "timestamp": detail.get("timestamp"),
                "provider": context.get("provider"),
                "properties": detail.get("properties"),
            }
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConversionParseError(f"not a conversion event: {where}: {first['msg']}") from None


def money_text(value: float) -> str:
    """Two decimals, as CM.com's example writes amounts ("12.60")."""
    return f"{value:.2f}"
