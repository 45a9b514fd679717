"""Events on the bus: the one typed home of the contract (docs/events.md is generated from here).

The envelope follows the collectors' "track" shape (docs/forwarding.md), versioned so consumers can tell a
changed shape from a broken one. Each event name has a properties model: producers build it,
consumers parse it. `python -m devstack.events_doc` writes docs/events.md from these models.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)

EVENT_SOURCE = "wa-conversions"
ENVELOPE_VERSION = "1"
LIBRARY = {"name": "wa-conversions", "version": "0.1.0"}
_EVENT_ID_NAMESPACE = uuid.UUID("8d7c0a5e-8f3e-4d7a-9a53-3c1f6f0d6b21")


class EventName(StrEnum):
    """Every `detail-type` wa-conversions puts on the bus (the envelope's `event`)."""

    CONTACT_CREATED = "contact.created"
    CONTACT_UPDATED = "contact.updated"
    CONTACT_MERGED = "contact.merged"
    MESSAGE_RECEIVED = "message.received"
    MESSAGE_SENT = "message.sent"
    MESSAGE_DELIVERED = "message.delivered"
    MESSAGE_READ = "message.read"
    MESSAGE_PLAYED = "message.played"
    MESSAGE_FAILED = "message.failed"
    REFERRAL_CAPTURED = "referral.captured"
    AUTOMATIC_EVENT_RECEIVED = "automatic_event.received"
    CHAT_ASSIGNED = "chat.assigned"
    CHAT_RESOLVED = "chat.resolved"
    AGENT_HANDOFF = "agent.handoff"
    CONVERSION_ATTRIBUTED = "conversion.attributed"
    CONVERSION_UNATTRIBUTED = "conversion.unattributed"
    ORDER_PAID = "order.paid"
    ORDER_SHIPPED = "order.shipped"
    ORDER_DELIVERED = "order.delivered"
    ORDER_CANCELLED = "order.cancelled"
    REFUND_CREATED = "refund.created"


STATUS_EVENTS = (
    EventName.MESSAGE_SENT,
    EventName.MESSAGE_DELIVERED,
    EventName.MESSAGE_READ,
    EventName.MESSAGE_PLAYED,
    EventName.MESSAGE_FAILED,
)
# A conversion, and the follow-ups of its order (docs/events.md, "Conversion events").
CONVERSION_EVENTS = (
    EventName.CONVERSION_ATTRIBUTED,
    EventName.CONVERSION_UNATTRIBUTED,
    EventName.ORDER_PAID,
    EventName.ORDER_SHIPPED,
    EventName.ORDER_DELIVERED,
    EventName.ORDER_CANCELLED,
    EventName.REFUND_CREATED,
)
CONTACT_MERGED = EventName.CONTACT_MERGED


def event_id_for(update_key: str, event_name: str) -> str:
    """The same update always yields the same event id, so a consumer can drop a repeat."""
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{update_key}|{event_name}"))


def iso_timestamp(epoch_seconds: int | float) -> str:
    return (
        datetime.fromtimestamp(epoch_seconds, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


# -- properties ----------------------------------------------------------------------------------


class Properties(BaseModel):
    """The `properties` of one event. Read tolerantly: a property this model does not name is kept
    as it came (POST /v1/capture passes a CRM's own properties through)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    # Written only when the producer gives them (absent, not null, otherwise): `fields_set` decides,
    # so a stored event parsed back serializes to the same JSON.
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"tenant"})

    tenant: str | None = Field(
        default=None,
        description="only with a tenant list: the id of the tenant the event belongs to "
        "([tenants](tenants.md))",
    )

    @model_serializer(mode="wrap")
    def _wire(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in self.OPTIONAL - self.model_fields_set:
            alias = type(self).model_fields[name].alias
            data.pop(alias if info.by_alias and alias else name, None)
        # The tenant is stamped last, after the event is built (capture/service.py).
        if "tenant" in data:
            data["tenant"] = data.pop("tenant")
        return data

    def wire(self) -> dict[str, Any]:
        """The properties as they go on the bus: camelCase, optional ones only when given."""
        return self.model_dump(mode="json", by_alias=True)


class ContactCreated(Properties):
    """Capture saw a contact for the first time."""

    contact_key: str | None = Field(default=None, alias="contactKey", description="the contact's key")
    user_id_business_scoped: str | None = Field(
        default=None, alias="userIdBusinessScoped", description="Meta's business-scoped user id, when known"
    )
    name: str | None = Field(default=None, description="the profile name; never logged")
    source: str | None = Field(default=None, description="`ad`, `organic` or `outbound`")
    country_code: str | None = Field(
        default=None, alias="countryCode", description="ISO country of the phone"
    )


class MessageReceived(Properties):
    """An inbound message."""

    OPTIONAL = frozenset({"tenant", "rules_matched", "backfill"})

    contact_key: str | None = Field(default=None, alias="contactKey", description="the contact's key")
    message_id: str | None = Field(default=None, alias="messageId", description="the provider's message id")
    chat_id: str | None = Field(
        default=None, alias="chatId", description="the contact's key (the seed's chat)"
    )
    direction: str | None = Field(default=None, description="`inbound`")
    content_type: str | None = Field(default=None, alias="contentType", description="text, image, ...")
    has_media: bool | None = Field(default=None, alias="hasMedia", description="a media message")
    from_ad: bool | None = Field(default=None, alias="fromAd", description="it carried an ad referral")
    referral_known: bool | None = Field(
        default=None, alias="referralKnown", description="the provider says whether it came from an ad"
    )
    country_code: str | None = Field(
        default=None, alias="countryCode", description="ISO country of the phone"
    )
    phone_number_id: str | None = Field(
        default=None, alias="phoneNumberId", description="the business number it was sent to"
    )
    rules_matched: list[str] | None = Field(
        default=None,
        alias="rulesMatched",
        description="the names of the [conversion rules]"
        "(forwarding.md#conversion-rules-in-thread-conversions-without-code) the text matched, never the "
        "text",
    )
    backfill: bool = Field(default=False, description="true on a [coexistence](#coexistence) history message")


class MessageError(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: int | str | None = None
    title: str | None = None
    message: str | None = None


class MessageStatus(Properties):
    """An outbound message's status: `message.sent`, `message.delivered`, `message.read`,
    `message.played`, `message.failed`; `<status>At` is the one of the event's status."""

    OPTIONAL = frozenset(
        {
            "tenant",
            "sent_at",
            "delivered_at",
            "read_at",
            "played_at",
            "failed_at",
            "service_mode",
            "backfill",
            "errors",
        }
    )
    STATUS_AT: ClassVar[dict[str, str]] = {
        "sent": "sent_at",
        "delivered": "delivered_at",
        "read": "read_at",
        "played": "played_at",
        "failed": "failed_at",
    }

    contact_key: str | None = Field(default=None, alias="contactKey", description="the contact's key")
    message_id: str | None = Field(default=None, alias="messageId", description="the provider's message id")
    chat_id: str | None = Field(default=None, alias="chatId", description="the contact's key")
    direction: str | None = Field(default=None, description="`outbound`")
    sent_at: str | None = Field(default=None, alias="sentAt", description="message.sent: when")
    delivered_at: str | None = Field(default=None, alias="deliveredAt", description="message.delivered: when")
    read_at: str | None = Field(default=None, alias="readAt", description="message.read: when")
    played_at: str | None = Field(default=None, alias="playedAt", description="message.played: when")
    failed_at: str | None = Field(default=None, alias="failedAt", description="message.failed: when")
    pricing_category: str | None = Field(
        default=None, alias="pricingCategory", description="Meta's pricing category, when given"
    )
    phone_number_id: str | None = Field(
        default=None, alias="phoneNumberId", description="the business number it was sent from"
    )
    service_mode: str | None = Field(
        default=None,
        alias="serviceMode",
        description='`"app"` for a message sent from the WhatsApp Business app ([coexistence](#coexistence))',
    )
    backfill: bool = Field(default=False, description="true on a [coexistence](#coexistence) history message")
    errors: list[MessageError] | None = Field(
        default=None, description="message.failed: `[{code, title, message}]`"
    )


class ReferralCaptured(Properties):
    """An inbound message carried a Click-to-WhatsApp ad referral."""

    contact_key: str | None = Field(default=None, alias="contactKey", description="the contact's key")
    message_id: str | None = Field(default=None, alias="messageId", description="the message that carried it")
    ctwa_clid: str | None = Field(default=None, alias="ctwaClid", description="the ad click id")
    source_id: str | None = Field(default=None, alias="sourceId", description="the ad's id")
    source_type: str | None = Field(default=None, alias="sourceType", description="`ad` or `post`")
    source_url: str | None = Field(default=None, alias="sourceUrl", description="the ad's URL")
    headline: str | None = Field(default=None, description="the ad's headline")
    media_type: str | None = Field(default=None, alias="mediaType", description="`image` or `video`")


class AutomaticEventReceived(Properties):
    """A Meta automatic event (`automatic_events` webhook: a purchase or lead Meta detected);
    `userId` null."""

    event_id: str | None = Field(default=None, alias="eventId", description="Meta's id of the event")
    event_name: str | None = Field(
        default=None, alias="eventName", description="`Purchase`, `LeadSubmitted`, ..."
    )
    ctwa_clid: str | None = Field(default=None, alias="ctwaClid", description="the ad click, when given")
    custom_data: dict[str, Any] | None = Field(
        default=None, alias="customData", description="Meta's `custom_data` (currency, value)"
    )
    waba_id: str | None = Field(default=None, alias="wabaId", description="the WhatsApp Business Account")


class ContactMerged(Properties):
    """Capture folded one contact into another (one person is one contact); `userId` null. One event
    id per merged key; the analytics aggregator folds the two contacts' counts."""

    contact_key: str | None = Field(default=None, alias="contactKey", description="the surviving contact")
    merged_from: str | None = Field(
        default=None,
        alias="mergedFrom",
        description="the key merged into it: a `uid:` contact given its phone, or the old number of a "
        "`user_changed_number`",
    )


class ContactUpdated(Properties):
    """POST /v1/capture only: the CRM learned a contact's email or phone (attribution by email,
    [shopify](shopify.md)); not counted in metrics."""

    contact_key: str | None = Field(default=None, alias="contactKey", description="the contact's key")
    email: str | None = Field(default=None, description="the contact's email; never logged")
    phone: str | None = Field(default=None, description="the contact's phone; never logged")


class ChatAssigned(Properties):
    """POST /v1/capture only: a chat was given to an agent."""

    contact_key: str | None = Field(default=None, alias="contactKey", description="the contact's key")
    agent_id: str | None = Field(default=None, alias="agentId", description="the agent")


class ChatResolved(Properties):
    """POST /v1/capture only: a chat was closed."""

    contact_key: str | None = Field(default=None, alias="contactKey", description="the contact's key")


class AgentHandoff(Properties):
    """POST /v1/capture only: a chat moved between the bot and an agent."""

    contact_key: str | None = Field(default=None, alias="contactKey", description="the contact's key")
    to_mode: str | None = Field(default=None, alias="toMode", description="`bot` or `agent`")
    from_mode: str | None = Field(default=None, alias="fromMode", description="`bot` or `agent`")


class LineItem(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str | int | None = None
    product_id: str | int | None = Field(default=None, alias="productId")
    variant_id: str | int | None = Field(default=None, alias="variantId")
    sku: str | None = None
    title: str | None = None
    quantity: int = 1
    # JSON has no NaN or Infinity (what 1e400 parses to): no destination could be sent one.
    price: int | float | None = Field(default=None, allow_inf_nan=False)


class KeyTried(BaseModel):
    model_config = ConfigDict(extra="allow")

    key: str | None = None
    outcome: str | None = None


class AttributionFacts(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: str | None = None
    model: str | None = None
    reason: str | None = None
    keys_tried: list[KeyTried] | None = Field(default=None, alias="keysTried")

    @model_serializer(mode="wrap")
    def _wire(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if "keys_tried" not in self.model_fields_set:
            data.pop("keysTried" if info.by_alias else "keys_tried", None)
        return data


class Customer(BaseModel):
    """The buyer's name and address from the order (billing, else shipping), for Meta's web events."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None

    @model_serializer(mode="wrap")
    def _wire(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Only what the order has: an empty part is left out.
        return {k: v for k, v in handler(self).items() if v}


_WEB = frozenset({"customer", "landing_site", "client_ip", "user_agent", "fbc", "fbp"})
_EXTERNAL = frozenset({"action", "event_name", "previous_external_event_id", "app_id"})
_META_API = frozenset({"content_ids", "external_id", "test_event_code", "waba_id"})


class ConversionProperties(Properties):
    """A conversion (`conversion.attributed`, `conversion.unattributed`) or one of its order's
    follow-ups (`order.paid`, `order.shipped`, `order.delivered`, `order.cancelled`,
    `refund.created`). `context.provider` is `shopify` or `external` (off-thread events)."""

    OPTIONAL = frozenset(
        {"tenant", "order_known", "fulfillment_id", "refund_id"} | _WEB | _EXTERNAL | _META_API
    )

    conversion_id: str = Field(
        alias="conversionId",
        min_length=1,
        description="the conversion this event belongs to: `shopify:<shop domain>:<order id>` or "
        "`external:<external_event_id>`; follow-ups carry their order's",
    )
    event_id: str = Field(
        alias="eventId",
        min_length=1,
        description="stable id of this event for destinations (Meta `event_id`, Wax `unique_id`): "
        "`<conversionId>:<kind>`; a refund's is `<conversionId>:refund:<refund id>`, since an order can "
        "have several",
    )
    kind: str = Field(
        default="order",
        description="`order`, `order_paid`, `order_shipped`, `order_delivered`, `order_cancelled`, `refund`, "
        "`external`",
    )
    shop: str | None = Field(default=None, description="the Shopify shop (null for external events)")
    order_id: str | None = Field(
        default=None, alias="orderId", description="the Shopify order (null for external events)"
    )
    order_name: str | None = Field(default=None, alias="orderName", description="the order's name (`#1001`)")
    value: int | float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="amount as a JSON number, in the shop's money; for a refund, the refunded amount "
        "([what a refund is worth](shopify.md#what-a-refund-is-worth)); null when unknown or none "
        "(an off-thread event without revenue)",
    )
    currency: str | None = Field(default=None, description="the currency of `value`")
    presentment_value: int | float | None = Field(
        default=None,
        alias="presentmentValue",
        allow_inf_nan=False,
        description="the same in the buyer's money, when Shopify gives it",
    )
    presentment_currency: str | None = Field(
        default=None, alias="presentmentCurrency", description="the currency of `presentmentValue`"
    )
    line_items: list[LineItem] = Field(
        default_factory=list,
        alias="lineItems",
        description="`[{id, productId, variantId, sku, title, quantity, price}]`",
    )
    email: str | None = Field(default=None, description="the buyer's email; never logged")
    phone: str | None = Field(
        default=None,
        description="the phone every destination gets (digits): the matched contact's `wa_id`, else the "
        "buyer's best phone ([shopify.md](shopify.md#which-phone-the-destinations-get)); never logged",
    )
    contact_key: str | None = Field(
        default=None, alias="contactKey", description="the matched WhatsApp contact, or null"
    )
    ctwa_clid: str | None = Field(
        default=None, alias="ctwaClid", description="the ad click the conversion is attributed to, or null"
    )
    source_id: str | None = Field(default=None, alias="sourceId", description="that click's ad, or null")
    clicked_at: str | None = Field(
        default=None, alias="clickedAt", description="when that click was, or null"
    )
    attribution: AttributionFacts | None = Field(
        default=None,
        description='`{"status": "attributed" | "whatsapp_influenced" | "unattributed", "model": '
        '"last_touch" | "link_token", "reason": null | "no_phone" | "unparseable_phone" | "no_contact" | '
        '"no_referral" | '
        '"outside_window" | "unknown_shop", "keysTried": [{"key": "token" | "phone", "outcome": ...}]}` '
        "(outcomes: [shopify](shopify.md#how-an-order-is-attributed)); null for a follow-up of an order "
        "never seen",
    )
    test: bool = Field(
        default=False,
        description="true for Shopify test orders: recorded, never forwarded as real conversions",
    )
    order_known: bool = Field(
        default=True,
        alias="orderKnown",
        description="follow-ups: false for a refund (or cancellation) of an order never seen; its "
        "attribution properties are then null",
    )
    action: str | None = Field(
        default=None, description="off-thread events: what the lead did (`Purchased an item`, `Booked`)"
    )
    event_name: str | None = Field(
        default=None,
        alias="eventName",
        description="off-thread events: the Meta event (`Purchase`, `LeadSubmitted`, ...)",
    )
    previous_external_event_id: str | None = Field(
        default=None,
        alias="previousExternalEventId",
        description="off-thread events chained to an earlier one",
    )
    app_id: str | None = Field(
        default=None,
        alias="appId",
        description="off-thread events: the business number the caller asked to attribute to, when given",
    )
    customer: Customer | None = Field(
        default=None,
        description="Shopify orders: `{firstName, lastName, city, state, zip, country}` from the billing "
        "address (else shipping, else the customer's default), for Meta's website events; never logged",
    )
    landing_site: str | None = Field(
        default=None, alias="landingSite", description="Shopify orders: the landing page"
    )
    client_ip: str | None = Field(
        default=None, alias="clientIp", description="Shopify orders: `client_details`"
    )
    user_agent: str | None = Field(
        default=None, alias="userAgent", description="Shopify orders: `client_details`"
    )
    fbc: str | None = Field(
        default=None, description="Shopify orders: Meta's click id from the note attributes"
    )
    fbp: str | None = Field(
        default=None, description="Shopify orders: Meta's browser id from the note attributes"
    )
    fulfillment_id: str | None = Field(
        default=None,
        alias="fulfillmentId",
        description="`order.shipped`, `order.delivered`: Shopify's fulfillment id (the first shipment; one "
        "event per order and stage)",
    )
    refund_id: str | None = Field(
        default=None, alias="refundId", description="`refund.created`: Shopify's refund id"
    )
    # POST /conversions only (Meta's queue; never on the bus)
    content_ids: list[str] = Field(default_factory=list, alias="contentIds", exclude=False)
    external_id: str | None = Field(default=None, alias="externalId")
    test_event_code: str | None = Field(default=None, alias="testEventCode")
    waba_id: str | None = Field(default=None, alias="wabaId")

    @field_validator("order_id", "shop", "phone", "fulfillment_id", "refund_id", mode="before")
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
        if isinstance(value, int | float) and not isinstance(value, bool):
            return iso_timestamp(value)
        return value


# Event name -> its properties model: the registry producers, consumers and docs/events.md share.
PROPERTIES: dict[EventName, type[Properties]] = {
    EventName.CONTACT_CREATED: ContactCreated,
    EventName.MESSAGE_RECEIVED: MessageReceived,
    **dict.fromkeys(STATUS_EVENTS, MessageStatus),
    EventName.REFERRAL_CAPTURED: ReferralCaptured,
    EventName.AUTOMATIC_EVENT_RECEIVED: AutomaticEventReceived,
    EventName.CONTACT_MERGED: ContactMerged,
    EventName.CONTACT_UPDATED: ContactUpdated,
    EventName.CHAT_ASSIGNED: ChatAssigned,
    EventName.CHAT_RESOLVED: ChatResolved,
    EventName.AGENT_HANDOFF: AgentHandoff,
    **dict.fromkeys(CONVERSION_EVENTS, ConversionProperties),
}


# -- the envelope --------------------------------------------------------------------------------


class EventContext(BaseModel):
    channel: Literal["whatsapp"] = "whatsapp"
    provider: str = Field(default="meta", description="meta | cm | twilio | shopify | external | capture")
    library: dict[str, str] = Field(default_factory=lambda: dict(LIBRARY))
    counted: bool | None = Field(
        default=None,
        description="true when the processor counted the event into the analytics itself, so the "
        "aggregator's bus rule skips it (analytics.md, How it works); absent otherwise",
    )

    @model_serializer(mode="wrap")
    def _wire(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.counted is None:  # absent, not null: the envelope other events had stays as it was
            data.pop("counted", None)
        return data


class LifecycleEvent(BaseModel):
    """The `detail` of every bus event. `properties` is kept as the wire dict; `typed()` reads it
    through the event's model."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    version: str = ENVELOPE_VERSION
    message_id: str = Field(
        alias="messageId",
        description="a stable UUID: the same fact always yields the same id, so consumers drop repeats",
    )
    type: Literal["track"] = "track"
    event: str = Field(description="the event name, also the EventBridge `detail-type`")
    user_id: str | None = Field(
        default=None,
        alias="userId",
        description="+<E.164>, or the business-scoped user id when no phone is known, or null",
    )
    timestamp: str = Field(
        description="ISO 8601 in UTC, milliseconds: when it happened, not when it was processed"
    )
    context: EventContext = Field(default_factory=EventContext)
    properties: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        update_key: str,
        event: str,
        user_id: str | None,
        epoch_seconds: int | float,
        provider: str,
        properties: Properties | dict[str, Any],
    ) -> LifecycleEvent:
        """`properties`: the event's model; a dict is taken as wire properties already shaped."""
        return cls(
            message_id=event_id_for(update_key, event),
            event=str(event),
            user_id=user_id,
            timestamp=iso_timestamp(epoch_seconds),
            context=EventContext(provider=provider),
            properties=properties.wire() if isinstance(properties, Properties) else dict(properties),
        )

    def detail_json(self) -> str:
        return self.model_dump_json(by_alias=True)

    def as_counted(self) -> LifecycleEvent:
        """This event, marked as counted into the analytics by the processor that produced it."""
        return self.model_copy(update={"context": self.context.model_copy(update={"counted": True})})

    def typed(self) -> Properties:
        """The properties through the event's model; BusEventError for an unknown name or a bad shape."""
        return _typed(self.event, self.properties)


class BusEventError(ValueError):
    """A detail that is not one of the bus's events: an unknown name, or properties of another shape."""


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def _typed(event: str, properties: dict[str, Any]) -> Properties:
    try:
        model = PROPERTIES[EventName(event)]
    except ValueError:
        raise BusEventError(f"unknown event {event!r}") from None
    try:
        return model.model_validate(properties)
    except ValidationError as error:
        raise BusEventError(f"{event}: properties.{_first_error(error)}") from None


def parse_event(detail: Any) -> LifecycleEvent:
    """A bus event's `detail` (a dict or its JSON text), checked against its event's model."""
    try:
        if isinstance(detail, str | bytes):
            event = LifecycleEvent.model_validate_json(detail)
        else:
            event = LifecycleEvent.model_validate(detail)
    except ValidationError as error:
        raise BusEventError(f"not a bus event: {_first_error(error)}") from None
    event.typed()
    return event


def properties_as[P: Properties](event: LifecycleEvent, model: type[P]) -> P:
    """The event's properties as `model`, for a consumer that reads one kind of event."""
    typed = event.typed()
    if not isinstance(typed, model):
        raise BusEventError(f"{event.event} does not carry {model.__name__}")
    return typed


def contact_merged(
    source_key: str, target_key: str, epoch_seconds: int | float, provider: str
) -> LifecycleEvent:
    """Capture folded contact `source_key` into `target_key` (one person is one contact, docs/events.md):
    the analytics aggregator folds their states likewise. One id per merged contact, however repeated."""
    return LifecycleEvent.build(
        update_key=f"merge:{source_key}",
        event=EventName.CONTACT_MERGED,
        user_id=None,
        epoch_seconds=epoch_seconds,
        provider=provider,
        properties=ContactMerged(contact_key=target_key, merged_from=source_key),
    )
