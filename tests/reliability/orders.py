"""Attributed orders through the local stack, and what became of each at each destination: how often
the destination's stand-in accepted it, the delivery log's word on it, and what its DLQ holds."""

from __future__ import annotations

import json
import random
import string
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from devstack.stack import DevStack
from devstack.testing import AwsHelpers
from tests.reliability.harness import (
    DESTINATIONS,
    DLQS,
    ENV,
    Pii,
    click_webhook,
    meta_headers,
    operator_headers,
    post_until_accepted,
    run_concurrently,
    shopify_order,
    signed_shopify,
)
from wa_conversions.delivery.log import delivery_id_for

# The states a delivery may end in; "pending" after the queues drained means it is stuck.
FINAL = frozenset({"delivered", "failed", "ambiguous", "skipped"})


@dataclass(frozen=True)
class Order:
    order_id: int
    phone: str
    name: str
    email: str
    clid: str

    @property
    def event_id(self) -> str:
        return f"shopify:{ENV['SHOPIFY_SHOP_DOMAIN']}:{self.order_id}:order"

    def token(self, destination: str) -> str:
        """Text that only this order's requests to the destination carry."""
        if destination in ("meta", "cm"):
            return self.clid
        if destination == "dialog360":
            return self.phone
        return self.event_id


def new_orders(pii: Pii, rng: random.Random, count: int) -> list[Order]:
    orders: list[Order] = []
    ids: set[int] = set()
    while len(orders) < count:
        order_id = rng.randint(10**12, 10**13 - 1)
        if order_id in ids:
            continue
        ids.add(order_id)
        clid = "RELCLID" + "".join(rng.choice(string.ascii_letters) for _ in range(16))
        orders.append(Order(order_id, pii.phone(), pii.name(), pii.email(), clid))
    return orders


def post_clicks(stack: DevStack, pii: Pii, rng: random.Random, orders: list[Order], clients: int) -> int:
    """A signed ad click per buyer, an hour ago; returns how many were never accepted."""
    now = int(time.time())

    def click(order: Order) -> Any:
        body = click_webhook(pii, rng, order.phone, order.name, order.clid, now - 3600)
        return lambda client: post_until_accepted(client, "/webhooks/whatsapp", body, meta_headers(body))[0]

    return sum(
        1 for status in run_concurrently(clients, stack.api_url, [click(o) for o in orders]) if status != 200
    )


def post_orders(stack: DevStack, orders: list[Order], clients: int) -> int:
    """A signed orders/create per buyer, a minute ago; returns how many were never accepted."""
    now = int(time.time())

    def purchase(order: Order) -> Any:
        payload = shopify_order(order.order_id, order.phone, order.name, order.email, now - 60)
        body, headers = signed_shopify(payload)
        return lambda client: post_until_accepted(client, "/webhooks/shopify", body, headers)[0]

    placed = run_concurrently(clients, stack.api_url, [purchase(o) for o in orders])
    return sum(1 for status in placed if status != 200)


@dataclass
class Outcomes:
    """Per (destination, order id): accepted count, delivery log item, parked reasons."""

    accepted: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failed_answers: int = 0
    deliveries: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    parked: dict[tuple[str, int], list[str]] = field(default_factory=lambda: defaultdict(list))
    attributed: dict[int, str | None] = field(default_factory=dict)
    listed_ambiguous: set[str] = field(default_factory=set)


def collect(stack: DevStack, aws: AwsHelpers, orders: list[Order], clients: int) -> Outcomes:
    found = Outcomes()
    with httpx.Client(base_url=stack.standins.url, timeout=60) as standins:
        records = standins.get("/_requests").json()
    for record in records:
        destination = record["destination"]
        if destination not in DESTINATIONS:
            continue
        text = json.dumps(record.get("body"))
        mine = [order for order in orders if order.token(destination) in text]
        if not mine:
            continue
        found.requests[destination] += 1
        status = int(record["status"])
        if 200 <= status < 300:
            for order in mine:
                found.accepted[(destination, order.order_id)] += 1
        elif status != 409:
            found.failed_answers += 1

    def look_up(order: Order) -> Any:
        def job(client: httpx.Client) -> tuple[Order, dict[str, dict[str, Any]], str | None]:
            attributed = client.get(f"/orders/{order.order_id}", headers=operator_headers())
            status = None
            if attributed.status_code == 200:
                status = (attributed.json().get("attribution") or {}).get("status")
            items = {}
            for destination in DESTINATIONS:
                # The delivery's id is derived from destination and event id (delivery/log.py).
                delivery_id = delivery_id_for(destination, order.event_id)
                answer = client.get(f"/deliveries/{delivery_id}", headers=operator_headers())
                if answer.status_code == 200:
                    items[destination] = answer.json()
            return order, items, status

        return job

    for order, items, status in run_concurrently(clients, stack.api_url, [look_up(o) for o in orders]):
        found.attributed[order.order_id] = status
        for destination, item in items.items():
            found.deliveries[(destination, order.order_id)] = item
    by_event = {order.event_id: order for order in orders}
    for destination in DESTINATIONS:
        for message in aws.receive_all(DLQS[destination], delete=False):
            try:
                properties = (json.loads(message["Body"]).get("detail") or {}).get("properties") or {}
            except (ValueError, AttributeError):
                continue
            order = by_event.get(str(properties.get("eventId")))
            if order is not None:
                reason = (message.get("MessageAttributes") or {}).get("reason", {}).get("StringValue", "")
                found.parked[(destination, order.order_id)].append(reason)
    with httpx.Client(base_url=stack.api_url, timeout=60) as client:
        listed = client.get(
            "/deliveries", params={"status": "ambiguous", "limit": "500"}, headers=operator_headers()
        )
        if listed.status_code == 200:
            found.listed_ambiguous = {item["id"] for item in listed.json().get("deliveries", [])}
    return found


def invariants(
    outcomes: Outcomes, orders: list[Order], destinations: tuple[str, ...]
) -> dict[str, list[str]]:
    """What must hold whatever the faults: nothing twice, nothing stuck, nothing claimed without
    arriving, every failure parked with its reason, every ambiguous one listed."""
    problems: dict[str, list[str]] = defaultdict(list)
    for order in orders:
        if outcomes.attributed.get(order.order_id) != "attributed":
            problems["not_attributed"].append(f"{order.order_id}: {outcomes.attributed.get(order.order_id)}")
        for destination in destinations:
            key = (destination, order.order_id)
            accepted = outcomes.accepted.get(key, 0)
            item = outcomes.deliveries.get(key)
            label = f"{destination} {order.order_id}"
            if accepted > 1:
                problems["duplicated"].append(f"{label} accepted {accepted} times")
            if item is None:
                problems["missing"].append(f"{label}: no delivery in the log")
                continue
            status = item.get("status")
            if status not in FINAL:
                problems["stuck"].append(
                    f"{label}: {status} after the queues drained ({item.get('lastError')})"
                )
            if status == "delivered" and accepted != 1:
                problems["delivered_not_received"].append(f"{label}: delivered, accepted {accepted} times")
            if accepted == 1 and status not in ("delivered", "ambiguous"):
                problems["received_not_recorded"].append(f"{label}: accepted, but {status}")
            if status == "failed" and not any(outcomes.parked.get(key, [])):
                problems["failed_not_parked"].append(f"{label}: failed, not in the DLQ with a reason")
            if status == "ambiguous" and item.get("id") not in outcomes.listed_ambiguous:
                problems["ambiguous_not_listed"].append(f"{label}: not in GET /deliveries?status=ambiguous")
    return problems


def statuses(outcomes: Outcomes) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (destination, _), item in outcomes.deliveries.items():
        counts[destination][str(item.get("status"))] += 1
    return {destination: dict(by_status) for destination, by_status in counts.items()}
