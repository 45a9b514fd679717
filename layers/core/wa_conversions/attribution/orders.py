"""Applying Shopify order webhooks: attribute each order once, attach its follow-ups, announce both.

Idempotent on (shop, order id, kind): the order's attribution is created with a conditional write the
first time an orders/create or orders/paid names it, and each follow-up (paid, cancelled, a refund)
likewise; a redelivery finds what is stored and only re-publishes an event that never went out.
Shopify does not keep order: a refund or cancellation may arrive before its order, and is then recorded
with orderKnown false.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..errors import PermanentFailure, validation_summary
from ..models.commerce import FulfillmentFacts, LineItem, Money, OrderFacts, RefundFacts
from ..models.events import LifecycleEvent
from ..providers import shopify
from ..publishing.eventbridge import EventPublisher
from ..store.attribution import AttributionRepository
from . import conversions as cv
from .delivery import ShopifyDelivery
from .domain import (
    ORDER_TOPICS,
    Attribution,
    AttributionStatus,
    OrderTopic,
    UnmatchedReason,
)
from .engine import ContactHistory, Windows, attribute_order
from .phones import ResolvedPhones, resolve
from .tenancy import TenantHistory

if TYPE_CHECKING:
    from ..tenants import Tenant, TenantDirectory

PROVIDER = "shopify"


@dataclass(frozen=True, slots=True)
class Applied:
    topic: str
    order_id: str | None
    outcome: str  # created, attached, refreshed, ignored
    events: int


class OrdersService:
    def __init__(
        self,
        repository: AttributionRepository,
        publisher: EventPublisher,
        *,
        windows: Windows,
        default_country: str | None,
        tenants: Callable[[], TenantDirectory] | None = None,
    ) -> None:
        self._repository = repository
        self._publisher = publisher
        self._windows = windows
        self._default_country = default_country or None
        # The deployment's tenants (docs/tenants.md); None or an unlisted directory: one business.
        self._tenants = tenants

    def _tenant_of(
        self, shop: str, order: dict[str, Any] | None
    ) -> tuple[TenantDirectory | None, Tenant | None]:
        """The tenant list (None without one) and the shop's tenant: the order's own once stored."""
        directory = self._tenants() if self._tenants is not None else None
        if directory is None or not directory.listed:
            return None, None
        if order is not None and order.get("tenant"):
            return directory, directory.get(str(order["tenant"]))
        return directory, directory.for_shop(shop)

    def _attribute(
        self, shop: str, facts: OrderFacts, phones: ResolvedPhones, at: int
    ) -> tuple[Attribution, dict[str, Any]]:
        """Last touch within the shop's tenant; an order of a shop no tenant lists is unattributed."""
        directory, tenant = self._tenant_of(shop, None)
        if directory is None:
            history: ContactHistory = self._repository
            return attribute_order(facts.link_tokens, phones, at, history, self._windows, facts.email), {}
        if tenant is None:
            return Attribution(AttributionStatus.UNATTRIBUTED, UnmatchedReason.UNKNOWN_SHOP, None), {}
        history = TenantHistory(self._repository, directory.scope(tenant))
        attribution = attribute_order(facts.link_tokens, phones, at, history, self._windows, facts.email)
        return attribution, {"tenant": tenant.id}

    def apply(self, delivery: ShopifyDelivery) -> Applied:
        topic = delivery.topic
        try:
            if topic == OrderTopic.REFUNDS_CREATE:
                return self._refund(delivery, shopify.refund_facts(shopify.parse_refund(delivery.body)))
            if topic == OrderTopic.FULFILLMENTS_CREATE:
                facts = shopify.fulfillment_facts(shopify.parse_fulfillment(delivery.body))
                return self._fulfillment(delivery, facts, cv.KIND_ORDER_SHIPPED)
            if topic == OrderTopic.FULFILLMENT_EVENTS_CREATE:
                facts = shopify.fulfillment_event_facts(shopify.parse_fulfillment_event(delivery.body))
                if facts.status != "delivered":
                    # Only the delivery is a stage Meta lists; in-transit updates are not.
                    return Applied(topic=topic, order_id=facts.order_id, outcome="ignored", events=0)
                return self._fulfillment(delivery, facts, cv.KIND_ORDER_DELIVERED)
            if topic in ORDER_TOPICS:
                return self._order(delivery, shopify.order_facts(shopify.parse_order(delivery.body)))
        except ValidationError as error:
            raise PermanentFailure(
                f"Not a valid Shopify {topic} payload: {validation_summary(error)}"
            ) from error
        return Applied(topic=topic, order_id=None, outcome="ignored", events=0)

    # -- orders ----------------------------------------------------------------------------------

    def _order(self, delivery: ShopifyDelivery, facts: OrderFacts) -> Applied:
        shop, topic = delivery.shop, delivery.topic
        order = self._repository.get_order(shop, facts.order_id)
        outcome = "attached"
        events = 0
        if order is None and topic in (OrderTopic.ORDERS_CREATE, OrderTopic.ORDERS_PAID):
            order = self._repository.create_order(shop, facts.order_id, self._order_item(delivery, facts))
            outcome = "created"
        if order is not None:
            events += self._publish_pending(order)
            self._repository.refresh_order(
                shop,
                facts.order_id,
                {
                    "financial_status": facts.financial_status,
                    "cancelled_at": facts.cancelled_at,
                    "cancel_reason": facts.cancel_reason,
                },
                facts.updated_at or _epoch(delivery.triggered_at) or 0,
            )
        if topic == OrderTopic.ORDERS_PAID or (
            topic == OrderTopic.ORDERS_CREATE and facts.financial_status == "paid"
        ):
            # The purchase: orders/paid, or an order created paid; whichever comes first, once.
            events += self._follow_up(
                delivery,
                facts.order_id,
                cv.KIND_ORDER_PAID,
                facts.order_id,
                order,
                facts.value,
                facts.presentment_value,
                _event_time(delivery, facts.updated_at),
            )
        elif topic == OrderTopic.ORDERS_CANCELLED:
            events += self._follow_up(
                delivery,
                facts.order_id,
                cv.KIND_ORDER_CANCELLED,
                facts.order_id,
                order,
                facts.value,
                facts.presentment_value,
                facts.cancelled_at or _event_time(delivery, facts.updated_at),
            )
        elif order is None:
            outcome = "ignored"  # orders/updated before its order: the create will follow
        return Applied(topic=topic, order_id=facts.order_id, outcome=outcome, events=events)

    def _order_item(self, delivery: ShopifyDelivery, facts: OrderFacts) -> dict[str, Any]:
        phones = resolve(facts.phones, self._default_country)
        placed_at = facts.placed_at or _event_time(delivery, facts.updated_at)
        attribution, tenancy = self._attribute(delivery.shop, facts, phones, placed_at)
        phone = cv.conversion_phone(attribution, phones.e164)
        conversion_id = cv.shopify_conversion_id(delivery.shop, facts.order_id)
        event_id = f"{conversion_id}:{cv.KIND_ORDER}"
        web = facts.web.as_record() if facts.web else None
        event = cv.build_event(
            event_name=cv.conversion_event_name(attribution),
            conversion_id=conversion_id,
            kind=cv.KIND_ORDER,
            event_id=event_id,
            provider=PROVIDER,
            at=placed_at,
            phone=phone,
            properties={
                "shop": delivery.shop,
                "order_id": facts.order_id,
                "order_name": facts.name,
                **cv.value_properties(facts.value, facts.presentment_value),
                "line_items": cv.line_item_properties(facts.line_items),
                "email": facts.email,
                "phone": phone,
                **cv.attribution_properties(attribution),
                "test": facts.test,
                **cv.web_properties(web),
                **tenancy,
            },
        )
        return {
            **tenancy,
            "shop": delivery.shop,
            "order_id": facts.order_id,
            "order_name": facts.name,
            "conversion_id": conversion_id,
            "event_id": event_id,
            "placed_at": placed_at,
            "value": _amount(facts.value),
            "currency": facts.value.currency if facts.value else None,
            "presentment_value": _amount(facts.presentment_value),
            "presentment_currency": facts.presentment_value.currency if facts.presentment_value else None,
            "line_items": [_line_item(item) for item in facts.line_items],
            "email": facts.email,
            "phone": phone,
            "test": facts.test,
            "attribution": {k: v for k, v in attribution.as_record().items() if v is not None},
            "web": web or None,
            "first_topic": delivery.topic,
            "first_delivery": delivery.event_id,
            "recorded_at": int(time.time()),
            "event_name": event.event,
            "event_detail": event.detail_json(),
        }

    # -- follow-ups ------------------------------------------------------------------------------

    def _fulfillment(self, delivery: ShopifyDelivery, facts: FulfillmentFacts, kind: str) -> Applied:
        """The order's first shipment is OrderShipped, its first delivered one OrderDelivered: one
        event per stage and order (a split shipment does not ship the order twice)."""
        order = self._repository.get_order(delivery.shop, facts.order_id)
        if order is not None:
            self._publish_pending(order)
        events = self._follow_up(
            delivery,
            facts.order_id,
            kind,
            facts.order_id,
            order,
            _stored_money(order, "value", "currency"),
            _stored_money(order, "presentment_value", "presentment_currency"),
            facts.at or _event_time(delivery, None),
            extra={"fulfillment_id": facts.fulfillment_id},
        )
        return Applied(topic=delivery.topic, order_id=facts.order_id, outcome="attached", events=events)

    def _refund(self, delivery: ShopifyDelivery, refund: RefundFacts) -> Applied:
        order = self._repository.get_order(delivery.shop, refund.order_id)
        if order is not None:
            self._publish_pending(order)
        at = refund.created_at or _event_time(delivery, None)
        events = self._follow_up(
            delivery,
            refund.order_id,
            cv.KIND_REFUND,
            refund.refund_id,
            order,
            refund.value,
            refund.presentment_value,
            at,
            extra={"refund_id": refund.refund_id},
        )
        return Applied(topic=delivery.topic, order_id=refund.order_id, outcome="attached", events=events)

    def _follow_up(
        self,
        delivery: ShopifyDelivery,
        order_id: str,
        kind: str,
        follow_up_id: str,
        order: dict[str, Any] | None,
        value: Money | None,
        presentment: Money | None,
        at: int,
        extra: dict[str, Any] | None = None,
    ) -> int:
        conversion_id = cv.shopify_conversion_id(delivery.shop, order_id)
        # Several refunds per order: each is an event of its own.
        event_id = (
            f"{conversion_id}:{kind}" if kind != cv.KIND_REFUND else f"{conversion_id}:{kind}:{follow_up_id}"
        )
        attribution = self._surviving(Attribution.from_record(order["attribution"]) if order else None)
        tenant = self._tenant_of(delivery.shop, order)[1]
        tenancy = {"tenant": tenant.id} if tenant is not None else {}
        # Orders stored before the phone rule kept the buyer's first phone: the contact's wins here too.
        phone = cv.conversion_phone(attribution, order.get("phone") if order else None)
        event = cv.build_event(
            event_name=cv.FOLLOW_UP_EVENTS[kind],
            conversion_id=conversion_id,
            kind=kind,
            event_id=event_id,
            provider=PROVIDER,
            at=at,
            phone=phone,
            properties={
                "shop": delivery.shop,
                "order_id": order_id,
                "order_name": order.get("order_name") if order else None,
                **cv.value_properties(value, presentment),
                "line_items": cv.line_item_properties(_stored_line_items(order)),
                "email": order.get("email") if order else None,
                "phone": phone,
                **cv.attribution_properties(attribution),
                "test": bool(order.get("test")) if order else False,
                "order_known": order is not None,
                **cv.web_properties(order.get("web") if order else None),
                **(extra or {}),
                **tenancy,
            },
        )
        item = self._repository.create_follow_up(
            delivery.shop,
            order_id,
            kind,
            follow_up_id,
            {
                "shop": delivery.shop,
                "order_id": order_id,
                "kind": kind,
                "follow_up_id": follow_up_id,
                "event_id": event_id,
                "at": at,
                "value": _amount(value),
                "currency": value.currency if value else None,
                "presentment_value": _amount(presentment),
                "presentment_currency": presentment.currency if presentment else None,
                "order_known": order is not None,
                "delivery": delivery.event_id,
                "recorded_at": int(time.time()),
                "event_name": event.event,
                "event_detail": event.detail_json(),
            },
        )
        return self._publish_pending(item)

    def _surviving(self, attribution: Attribution | None) -> Attribution | None:
        """An order credited to a contact known by user id alone follows that contact once it was
        merged into a phone's (store.capture.merge_contact): follow-ups carry it and its phone."""
        key = attribution.contact_key if attribution else None
        if attribution is None or not key or key.isdigit():
            return attribution
        found = self._repository.find_contact([key])
        return replace(attribution, contact_key=found[0]) if found and found[0] != key else attribution

    # -- publishing ------------------------------------------------------------------------------

    def _publish_pending(self, item: dict[str, Any]) -> int:
        return publish_pending(self._repository, self._publisher, item)


def publish_pending(
    repository: AttributionRepository, publisher: EventPublisher, item: dict[str, Any]
) -> int:
    """Publish an item's stored event unless it already went out; then remember that it did."""
    if item.get("published") or not item.get("event_detail"):
        return 0
    publisher.publish([LifecycleEvent.model_validate_json(str(item["event_detail"]))])
    repository.mark_published(str(item["pk"]), str(item["sk"]))
    return 1


def _stored_money(order: dict[str, Any] | None, amount: str, currency: str) -> Money | None:
    """The order's value as stored, for the stages that carry it (shipped, delivered)."""
    if not order or order.get(amount) is None or not order.get(currency):
        return None
    return Money(amount=Decimal(str(order[amount])), currency=str(order[currency]))


def _stored_line_items(order: dict[str, Any] | None) -> list[LineItem]:
    return [
        LineItem(
            id=i.get("id"),
            product_id=i.get("product_id"),
            variant_id=i.get("variant_id"),
            sku=i.get("sku"),
            title=i.get("title"),
            quantity=int(i.get("quantity") or 0),
            price=_decimal(i.get("price")),
        )
        for i in (order or {}).get("line_items") or []
    ]


def _line_item(item: LineItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "sku": item.sku,
        "title": item.title,
        "quantity": item.quantity,
        "price": str(item.price) if item.price is not None else None,
    }


def _amount(money: Money | None) -> str | None:
    return str(money.amount) if money else None


def _decimal(value: Any) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


def _epoch(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _event_time(delivery: ShopifyDelivery, fallback: int | None) -> int:
    """When a follow-up happened: Shopify's trigger time, else the payload's, else now."""
    return _epoch(delivery.triggered_at) or fallback or int(time.time())
