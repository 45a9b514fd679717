"""Acknowledging a Shopify webhook: verify, dedupe, hand off durably, then answer.

Shopify gives up after 5 seconds and retries 8 times over 4 hours, so nothing slow happens here: the
verified body goes to the orders queue and the processor does the rest. Only the standard library is
used, to keep this function's cold start small.

Dedupe is on X-Shopify-Event-Id, in an order that never loses an order: look for the event's marker,
queue the delivery, and only then write the marker. A crash between the two lets Shopify's retry
through to the queue again, and the processor, idempotent on (shop, order id, kind), makes nothing
twice of it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..attribution.domain import COMPLIANCE_TOPICS, HANDLED_TOPICS
from ..errors import BadRequestError, HandoffError, UnauthorizedError
from ..jsontext import JsonTextError, loads
from ..providers.shopify_format import encode_delivery
from ..signatures import verify_shopify_signature
from ..store import keys

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

SHOP_HEADER = "x-shopify-shop-domain"
SIGNATURE_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
EVENT_ID_HEADER = "x-shopify-event-id"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
TRIGGERED_AT_HEADER = "x-shopify-triggered-at"
API_VERSION_HEADER = "x-shopify-api-version"
MAX_MESSAGE_BYTES = 256 * 1024
# Shopify's event ids are UUIDs; the marker's key (with the shop) must stay under DynamoDB's 2,048 bytes.
MAX_EVENT_ID_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # accepted, duplicate, ignored
    topic: str
    shop: str
    event_id: str | None


class EventMarkers:
    """Which Shopify events were handed off already, in the idempotency table (Powertools' schema:
    id, expiration): one of the four dedupe mechanisms (docs/idempotency.md, "Shopify event markers")."""

    def __init__(self, client: DynamoDBClient, table_name: str, ttl_seconds: int) -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl_seconds

    @staticmethod
    def _id(shop: str, event_id: str) -> str:
        return keys.shopify_event_marker_id(shop, event_id)

    def seen(self, shop: str, event_id: str) -> bool:
        item = self._client.get_item(
            TableName=self._table, Key={"id": {"S": self._id(shop, event_id)}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return False
        return int(item["expiration"]["N"]) > int(time.time())

    def mark(self, shop: str, event_id: str) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                "id": {"S": self._id(shop, event_id)},
                "expiration": {"N": str(int(time.time()) + self._ttl)},
                "status": {"S": "COMPLETED"},
            },
        )


class OrdersQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, body: str) -> None:
        try:
            self._client.send_message(QueueUrl=self._url, MessageBody=body)
        except Exception as error:  # any transport or service error: Shopify must retry
            raise HandoffError(f"Could not queue the webhook: {type(error).__name__}") from error


def accept_webhook(
    body: bytes,
    headers: dict[str, str],
    secret_for: Callable[[str], str | None],
    markers: Callable[[], EventMarkers],
    queue: Callable[[], OrdersQueue],
    compliance_queue: Callable[[], OrdersQueue] | None = None,
) -> Outcome:
    """`headers` have lower-cased names. Raises UnauthorizedError, BadRequestError or HandoffError.
    The compliance topics go to `compliance_queue` (the ErasureFunction's, docs/privacy.md)."""
    shop = headers.get(SHOP_HEADER, "").strip().lower()
    signature = headers.get(SIGNATURE_HEADER)
    if not shop:
        raise UnauthorizedError("Missing X-Shopify-Shop-Domain header")
    if not signature:
        raise UnauthorizedError("Missing X-Shopify-Hmac-Sha256 header")
    secret = secret_for(shop)
    # An unknown shop and a wrong signature get the same answer: nothing to learn from probing.
    if not secret or not verify_shopify_signature(body, signature, secret):
        raise UnauthorizedError("X-Shopify-Hmac-Sha256 does not match the body for this shop")
    try:
        document = loads(body)
    except JsonTextError as error:
        raise BadRequestError(f"Body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise BadRequestError("Body is not a JSON object")
    text = body.decode("utf-8")  # loads decoded it already: it is UTF-8
    topic = headers.get(TOPIC_HEADER, "").strip()
    event_id = delivery_key(headers, body)
    if topic not in HANDLED_TOPICS:
        return Outcome(status="ignored", topic=topic, shop=shop, event_id=event_id)
    marker_store = markers()
    if marker_store.seen(shop, event_id):
        return Outcome(status="duplicate", topic=topic, shop=shop, event_id=event_id)
    message = encode_delivery(
        topic=topic,
        shop=shop,
        event_id=event_id,
        webhook_id=headers.get(WEBHOOK_ID_HEADER),
        triggered_at=headers.get(TRIGGERED_AT_HEADER),
        api_version=headers.get(API_VERSION_HEADER),
        body=text,
    )
    if len(message.encode("utf-8")) > MAX_MESSAGE_BYTES:
        # Queue a trimmed body: only the fields attribution reads, so a huge order still counts.
        message = encode_delivery(
            topic=topic,
            shop=shop,
            event_id=event_id,
            webhook_id=headers.get(WEBHOOK_ID_HEADER),
            triggered_at=headers.get(TRIGGERED_AT_HEADER),
            api_version=headers.get(API_VERSION_HEADER),
            body=json.dumps(_trimmed(document), separators=(",", ":"), ensure_ascii=False),
        )
    (compliance_queue if compliance_queue and topic in COMPLIANCE_TOPICS else queue)().send(message)
    marker_store.mark(shop, event_id)
    return Outcome(status="accepted", topic=topic, shop=shop, event_id=event_id)


def delivery_key(headers: dict[str, str], body: bytes) -> str:
    """X-Shopify-Event-Id names the event across retries; without it, the body itself does."""
    event_id = headers.get(EVENT_ID_HEADER, "").strip()
    if len(event_id) > MAX_EVENT_ID_LENGTH:
        raise BadRequestError(
            f"X-Shopify-Event-Id is longer than {MAX_EVENT_ID_LENGTH} characters", field=EVENT_ID_HEADER
        )
    if event_id:
        return event_id
    return "sha256:" + hashlib.sha256(headers.get(TOPIC_HEADER, "").encode() + b"\n" + body).hexdigest()


_KEPT_FIELDS = (
    "id", "order_id", "name", "order_number", "email", "contact_email", "phone", "currency",
    "presentment_currency", "total_price", "total_price_set", "financial_status", "created_at",
    "processed_at", "updated_at", "cancelled_at", "cancel_reason", "test", "customer",
    "billing_address", "shipping_address", "transactions", "landing_site", "client_details",
    "note_attributes", "fulfillment_id", "status", "happened_at",
)  # fmt: skip
_KEPT_LINE_ITEM_FIELDS = ("id", "product_id", "variant_id", "sku", "title", "quantity", "price")


def _trimmed(document: dict[str, object]) -> dict[str, object]:
    kept: dict[str, object] = {k: document[k] for k in _KEPT_FIELDS if k in document}
    customer = kept.get("customer")
    if isinstance(customer, dict):
        kept["customer"] = {
            k: customer.get(k)
            for k in ("id", "email", "phone", "first_name", "last_name", "default_address")
            if k in customer
        }
    notes = document.get("note_attributes")
    if isinstance(notes, list):
        # Only Meta's browser ids are read from them (fbc, fbp): a handful, each of bounded size.
        kept["note_attributes"] = [
            {k: str(n[k])[:500] for k in ("name", "value") if n.get(k) is not None}
            for n in notes[:50]
            if isinstance(n, dict)
        ]
    items = document.get("line_items")
    if isinstance(items, list):
        kept["line_items"] = [
            {k: item.get(k) for k in _KEPT_LINE_ITEM_FIELDS} for item in items[:200] if isinstance(item, dict)
        ]
    return kept
