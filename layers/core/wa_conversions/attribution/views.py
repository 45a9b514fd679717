"""What the attribution API answers: explicit views of stored orders and off-thread events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..errors import BadRequestError, NotFoundError
from ..models.domain import user_id_of_key

if TYPE_CHECKING:
    from ..store.attribution import AttributionRepository
    from ..tenants import Tenant, TenantDirectory


class KeyTriedView(BaseModel):
    key: str  # token | phone
    outcome: str  # matched | expired | unknown | not_in_order | no_phone | unparseable_phone | no_contact


class AttributionView(BaseModel):
    status: str
    model: str
    reason: str | None
    contact_key: str | None
    ctwa_clid: str | None
    source_id: str | None
    clicked_at: str | None
    # Which keys were tried, in order, and what each gave: "matched", or why not (docs/shopify.md).
    keys_tried: list[KeyTriedView] = []


class MoneyView(BaseModel):
    amount: str
    currency: str


class LineItemView(BaseModel):
    id: str | None
    product_id: str | None = None
    variant_id: str | None = None
    sku: str | None = None
    title: str | None
    quantity: int
    price: str | None


class FollowUpView(BaseModel):
    kind: str
    id: str
    event_id: str
    at: str | None
    value: MoneyView | None
    presentment_value: MoneyView | None
    order_known: bool
    published: bool


class OrderView(BaseModel):
    shop: str
    order_id: str
    known: bool
    order_name: str | None = None
    conversion_id: str
    event_id: str | None = None
    event: str | None = None
    placed_at: str | None = None
    value: MoneyView | None = None
    presentment_value: MoneyView | None = None
    line_items: list[LineItemView] = []
    test: bool = False
    financial_status: str | None = None
    cancelled_at: str | None = None
    attribution: AttributionView | None = None
    published: bool = False
    follow_ups: list[FollowUpView]
    # The order's tenant, in a deployment with a tenant list (docs/tenants.md); shown only then.
    tenant: str | None = None


class ExternalEventView(BaseModel):
    external_event_id: str
    conversion_id: str
    event_id: str
    event: str
    lead_phone: str
    action: str
    meta_event_name: str
    revenue: MoneyView | None
    app_id: str | None
    previous_external_event_id: str | None
    occurred_at: str
    attribution: AttributionView


def attribution_view(record: dict[str, Any]) -> AttributionView:
    clicked = record.get("clicked_at")
    return AttributionView(
        status=str(record["status"]),
        model=str(record.get("model") or "last_touch"),
        reason=record.get("reason"),
        contact_key=record.get("contact_key"),
        ctwa_clid=record.get("ctwa_clid"),
        source_id=record.get("source_id"),
        clicked_at=_time(clicked),
        keys_tried=[
            KeyTriedView(key=str(tried["key"]), outcome=str(tried["outcome"]))
            for tried in record.get("keys_tried") or []
            if isinstance(tried, dict)
        ],
    )


def _surviving(repository: AttributionRepository, record: dict[str, Any]) -> dict[str, Any]:
    """The contact an order was credited to, as it is now: a user-id contact merged into a phone's
    one is that one (store.capture.merge_contact), so the order is found with the contact's others."""
    key = record.get("contact_key")
    if not isinstance(key, str) or user_id_of_key(key) is None:
        return record
    found = repository.find_contact([key])
    return {**record, "contact_key": found[0]} if found else record


def _money(amount: Any, currency: Any) -> MoneyView | None:
    if amount is None or not currency:
        return None
    return MoneyView(amount=str(amount), currency=str(currency))


def _iso(epoch_seconds: Any) -> str:
    # The bus contract's format, imported on use: its models would cost the API's cold start.
    from ..models.events import iso_timestamp

    return iso_timestamp(int(epoch_seconds))


def _time(value: Any) -> str | None:
    return _iso(value) if value is not None else None


def order_view(
    repository: AttributionRepository,
    order_id: str,
    shop: str | None,
    tenant: Tenant | None = None,
    directory: TenantDirectory | None = None,
) -> OrderView:
    """`tenant` (?tenant=): only that tenant's order, looked for in its shops; 404 for another's.
    `directory`, the tenant list, tells whose shop an order known only by its follow-ups is in."""
    from .conversions import shopify_conversion_id  # builds bus events: off the API's cold start

    order_id = order_id.strip()
    if shop is None:
        shops = repository.shops_with_order(order_id)
        if tenant is not None:
            listed = {s.lower() for s in tenant.shops}
            # the default tenant's orders include those from before the tenant list (any shop)
            shops = [s for s in shops if s.lower() in listed] or (shops if tenant.default else [])
        if not shops:
            raise NotFoundError(f"No order {order_id}" + (f" for tenant {tenant.id}" if tenant else ""))
        if len(shops) > 1:
            raise BadRequestError(
                f"Order {order_id} exists in several shops ({', '.join(shops)}): pass ?shop=", field="shop"
            )
        shop = shops[0]
    items = repository.order_items(shop.strip().lower(), order_id)
    if not items:
        raise NotFoundError(f"No order {order_id} in {shop}")
    order = next((i for i in items if i.get("item_type") == "order"), None)
    if tenant is not None and not _tenants_order(tenant, str(items[0]["shop"]), order, directory):
        raise NotFoundError(f"No order {order_id} in {shop} for tenant {tenant.id}")
    follow_ups = sorted(
        (i for i in items if i.get("item_type") == "order_follow_up"), key=lambda i: int(i.get("at") or 0)
    )
    base: dict[str, Any] = {
        "shop": str(items[0]["shop"]),
        "order_id": order_id,
        "conversion_id": shopify_conversion_id(str(items[0]["shop"]), order_id),
        "known": order is not None,
        "tenant": str(order["tenant"]) if order and order.get("tenant") else None,
        "follow_ups": [
            FollowUpView(
                kind=str(f["kind"]),
                id=str(f["follow_up_id"]),
                event_id=str(f["event_id"]),
                at=_time(f.get("at")),
                value=_money(f.get("value"), f.get("currency")),
                presentment_value=_money(f.get("presentment_value"), f.get("presentment_currency")),
                order_known=bool(f.get("order_known")),
                published=bool(f.get("published")),
            )
            for f in follow_ups
        ],
    }
    if order is None:
        return OrderView(**base)
    return OrderView(
        **base,
        order_name=order.get("order_name"),
        event_id=order.get("event_id"),
        event=order.get("event_name"),
        placed_at=_time(order.get("placed_at")),
        value=_money(order.get("value"), order.get("currency")),
        presentment_value=_money(order.get("presentment_value"), order.get("presentment_currency")),
        line_items=[LineItemView(**item) for item in order.get("line_items") or []],
        test=bool(order.get("test")),
        financial_status=order.get("financial_status"),
        cancelled_at=_time(order.get("cancelled_at")),
        attribution=attribution_view(_surviving(repository, order["attribution"])),
        published=bool(order.get("published")),
    )


def _tenants_order(
    tenant: Tenant, shop: str, order: dict[str, Any] | None, directory: TenantDirectory | None
) -> bool:
    from ..tenants import owns

    if order is not None:
        return owns(tenant, order.get("tenant"))
    # only follow-ups so far (a refund before its order): the shop tells, as it will for the order
    owner = directory.for_shop(shop) if directory is not None and directory.listed else None
    if owner is not None:
        return owner.id == tenant.id
    return shop.lower() in {s.lower() for s in tenant.shops} or tenant.default


def external_event_view(item: dict[str, Any]) -> ExternalEventView:
    return ExternalEventView(
        external_event_id=str(item["external_event_id"]),
        conversion_id=str(item["conversion_id"]),
        event_id=str(item["event_id"]),
        event=str(item["event_name"]),
        lead_phone=str(item["lead_phone"]),
        action=str(item["action"]),
        meta_event_name=str(item["meta_event_name"]),
        revenue=_money(item.get("value"), item.get("currency")),
        app_id=item.get("app_id"),
        previous_external_event_id=item.get("previous_external_event_id"),
        occurred_at=_iso(item["occurred_at"]),
        attribution=attribution_view(item["attribution"]),
    )
