"""Reconciliation: the orders and refunds a shop's Admin API has that webhooks may have missed, handed to
the same orders queue as the webhooks (docs/shopify.md, "Reconciliation").

Each order found becomes the deliveries its webhooks would have been (orders/create or orders/paid,
orders/cancelled, one refunds/create per refund), in the REST webhook shape, so the orders processor,
idempotent on (shop, order id, kind), makes nothing twice whichever comes first, a webhook or this.
The shop's cursor moves past a page only once every delivery of that page is queued.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..aws_limits import SQS_MAX_BATCH_BYTES, SQS_MAX_ENTRIES, batches, sqs_message_size
from ..errors import HandoffError
from ..providers import shopify_admin as admin
from ..providers.shopify_format import encode_delivery

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from ..store.cursors import ReconcileCursors

# Shopify's search index trails its writes a little: every run looks this far behind its cursor.
OVERLAP = timedelta(minutes=10)
PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
# A follow-up queued with its order waits this long, so the order is usually applied first.
FOLLOW_UP_DELAY_SECONDS = 5
EVENT_PREFIX = "reconcile"
# No new page is asked for with less time left than a slow page takes (a killed run is safe too: its
# last page, queued or not, is read again by the next run, since the cursor had not moved past it).
RUN_MARGIN_SECONDS = 30.0


@dataclass
class ShopResult:
    shop: str
    # done; partial: the deadline or Shopify's limits stopped it, the next run goes on; failed; skipped
    status: str = "done"
    since: str | None = None
    cursor: str | None = None
    pages: int = 0
    orders: int = 0
    deliveries: int = 0
    reason: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Delivery:
    body: str
    delay: int = 0


class OrdersQueue:
    """SendMessageBatch to the orders queue, cut to SQS's limits; any entry refused fails the page."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, deliveries: list[Delivery]) -> None:
        entries = [
            {"Id": str(i), "MessageBody": d.body, "DelaySeconds": d.delay} for i, d in enumerate(deliveries)
        ]
        for batch in batches(
            entries, sqs_message_size, max_entries=SQS_MAX_ENTRIES, max_bytes=SQS_MAX_BATCH_BYTES
        ):
            try:
                answer = self._client.send_message_batch(QueueUrl=self._url, Entries=batch)  # type: ignore[arg-type]
            except Exception as error:  # any transport or service error: the page is not applied
                raise HandoffError(f"Could not queue reconciled orders: {type(error).__name__}") from error
            if answer.get("Failed"):
                codes = sorted({str(f.get("Code")) for f in answer["Failed"]})
                raise HandoffError(f"SQS refused reconciled orders: {', '.join(codes)}")


def deliveries_for(shop: str, node: dict[str, Any]) -> list[Delivery]:
    """The webhooks one Admin API order stands for, as queued deliveries."""
    order = admin.rest_order(node)
    order_id = order.get("id")
    if not order_id:
        return []
    updated = str(order.get("updated_at") or "")
    paid = order.get("financial_status") in PAID_STATUSES
    order_body = json.dumps(order, separators=(",", ":"), ensure_ascii=False)

    def delivery(topic: str, key: str, at: Any, body: str, delay: int = 0) -> Delivery:
        return Delivery(
            encode_delivery(
                topic=topic,
                shop=shop,
                event_id=f"{EVENT_PREFIX}:{topic}:{key}",
                webhook_id=None,
                triggered_at=str(at) if at else None,
                api_version=None,
                body=body,
            ),
            delay,
        )

    # The purchase happened when the order was processed (paid at checkout), not at its last update.
    found = [
        delivery(
            "orders/paid" if paid else "orders/create",
            f"{order_id}:{updated}",
            order.get("processed_at") if paid else order.get("created_at"),
            order_body,
        )
    ]
    if order.get("cancelled_at"):
        found.append(
            delivery(
                "orders/cancelled", str(order_id), order["cancelled_at"], order_body, FOLLOW_UP_DELAY_SECONDS
            )
        )
    for refund in admin.rest_refunds(node):
        body = json.dumps(refund, separators=(",", ":"), ensure_ascii=False)
        found.append(
            delivery(
                "refunds/create", str(refund["id"]), refund.get("created_at"), body, FOLLOW_UP_DELAY_SECONDS
            )
        )
    return found


class Reconciler:
    def __init__(
        self,
        cursors: ReconcileCursors,
        queue: OrdersQueue,
        *,
        lookback: timedelta,
        page_size: int = admin.ORDERS_PER_PAGE,
        now: Callable[[], datetime] | None = None,
        deadline: Callable[[], float] = lambda: float("inf"),
    ) -> None:
        """`lookback`: how far back a shop without a cursor starts. `deadline()`: seconds left."""
        self._cursors = cursors
        self._queue = queue
        self._lookback = lookback
        self._page_size = page_size
        self._now = now or (lambda: datetime.now(UTC))
        self._deadline = deadline

    def since(self, shop: str, override: datetime | None) -> datetime:
        if override is not None:
            return override
        cursor = self._cursors.current(shop)
        if cursor is None:
            return self._now() - self._lookback
        return admin.parse_time(cursor) - OVERLAP

    def run(self, shop: str, client: admin.AdminClient, since_override: datetime | None = None) -> ShopResult:
        since = self.since(shop, since_override)
        result = ShopResult(shop=shop, since=admin.iso(since), cursor=self._cursors.current(shop))
        after: str | None = None
        try:
            while True:
                if self._deadline() < RUN_MARGIN_SECONDS:
                    result.status, result.reason = "partial", "out of time; the next run goes on"
                    return result
                page = client.orders_page(since, after, self._page_size)
                result.pages += 1
                found = [d for node in page.orders for d in deliveries_for(shop, node)]
                if found:
                    self._queue.send(found)
                result.orders += len(page.orders)
                result.deliveries += len(found)
                latest = _latest_update(page.orders)
                if latest is not None and self._cursors.advance(shop, latest, int(time.time())):
                    result.cursor = latest
                if not page.has_next_page or not page.end_cursor:
                    return result
                after = page.end_cursor
        except admin.AdminApiUnavailable as error:
            result.status, result.reason = "partial", str(error)
        except (admin.AdminApiError, HandoffError) as error:
            result.status, result.reason = "failed", str(error)
        return result


def _latest_update(nodes: Iterable[dict[str, Any]]) -> str | None:
    stamps = [admin.iso(admin.parse_time(str(n["updatedAt"]))) for n in nodes if n.get("updatedAt")]
    return max(stamps) if stamps else None


@dataclass
class RunRequest:
    """What one invocation asks: every configured shop, or one; from its cursor, or from `since`."""

    shops: list[str]
    since: datetime | None = None
    errors: list[str] = field(default_factory=list)


def parse_request(event: Any, configured: list[str]) -> RunRequest:
    """The scheduled event (anything) or `make reconcile`'s {"shop": ..., "since": ...}."""
    wanted = event.get("shop") if isinstance(event, dict) else None
    since_text = event.get("since") if isinstance(event, dict) else None
    request = RunRequest(shops=list(configured))
    if wanted:
        shop = str(wanted).strip().lower()
        if shop not in configured:
            request.errors.append(f"shop {shop!r} is not in ShopifyShops ({', '.join(configured) or 'none'})")
        request.shops = [shop]
    if since_text:
        try:
            request.since = admin.parse_time(str(since_text))
        except ValueError:
            request.errors.append(f"since {since_text!r} is not an ISO 8601 time (2026-12-01T00:00:00Z)")
    return request
