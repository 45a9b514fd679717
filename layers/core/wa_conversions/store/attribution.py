"""Storage of attributed conversions: Shopify orders with their follow-ups, and off-thread events.

Each conversion item keeps the event it announces on the bus (`event_detail`) and whether it went out
(`published`). Items are created with conditional puts (first writer wins), so a redelivered webhook
finds the stored decision instead of making a new one, and re-publishes the same event (same
messageId) only if the first attempt never got as far as marking it published.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..aws_limits import DYNAMODB_BATCH_GET_MAX
from ..models.retention import DEFAULT_RETENTION, Retention
from . import keys
from .dynamo import UpdateBuilder, batch_get, from_item, serialize, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# store.capture.MERGED: a contact profile folded into another, kept as a pointer.
MERGED_CONTACT = "merged_contact"


class AttributionRepository:
    def __init__(
        self, client: DynamoDBClient, table_name: str, *, retention: Retention = DEFAULT_RETENTION
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention = retention

    # -- contacts, as capture stored them ----------------------------------------------------------

    def find_contact(
        self, contact_keys: Sequence[str], *, hops: int = 3
    ) -> tuple[str, dict[str, Any]] | None:
        """The first of `contact_keys` (in the given order) that names a stored contact; a contact
        merged into another (store.capture.merge_contact) leads to that one."""
        wanted = list(dict.fromkeys(contact_keys))[:DYNAMODB_BATCH_GET_MAX]
        if not wanted:
            return None
        found: dict[str, dict[str, Any]] = {}
        item_keys = [{"pk": serialize(keys.contact_pk(k)), "sk": serialize(keys.PROFILE)} for k in wanted]
        for raw in batch_get(self._client, self._table, item_keys, what="contact reads"):
            item = from_item(raw)
            found[keys.contact_key_of(str(item["pk"])) or ""] = item
        for key in wanted:
            if key in found:
                merged_into = found[key].get("merged_into")
                if found[key].get("item_type") == MERGED_CONTACT and isinstance(merged_into, str):
                    return self.find_contact([merged_into], hops=hops - 1) if hops > 0 else None
                return key, found[key]
        return None

    def contacts_with_email(self, email: str) -> list[str]:
        """The contacts an email is known for (store.emails); two are enough to call it ambiguous."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": serialize(keys.email_pk(email))},
            ProjectionExpression="contact_key",
            Limit=2,
        )
        return [str(from_item(item)["contact_key"]) for item in response.get("Items", [])]

    def link_token(self, token: str) -> dict[str, Any] | None:
        """What a link token stands for (attribution.links), expired or not; None if never issued."""
        return self._get(keys.link_token_pk(token), keys.LINK)

    def referrals(self, contact_key: str) -> list[dict[str, Any]]:
        """The contact's ad clicks, newest first."""
        return self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": serialize(keys.contact_pk(contact_key)),
                ":prefix": serialize(keys.REFERRAL_PREFIX),
            },
            ScanIndexForward=False,
        )

    def inbound_between(self, contact_key: str, start: int, end: int) -> bool:
        """Whether the contact sent any message in [start, end] (epoch seconds)."""
        low, high = keys.message_gsi1sk_between(start, end)
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self._table,
            IndexName=keys.GSI1,
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk BETWEEN :start AND :end",
            FilterExpression="direction = :inbound",
            ExpressionAttributeValues={
                ":pk": serialize(keys.contact_pk(contact_key)),
                ":start": serialize(low),
                ":end": serialize(high),
                ":inbound": serialize("inbound"),
            },
            ProjectionExpression="pk",
        ):
            if page.get("Items"):
                return True
        return False

    # -- orders ----------------------------------------------------------------------------------

    def get_order(self, shop: str, order_id: str) -> dict[str, Any] | None:
        return self._get(keys.order_pk(shop, order_id), keys.ORDER)

    def create_order(self, shop: str, order_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
        """Store the order's attribution unless it exists; returns the stored one either way."""
        item = {
            **attributes,
            "pk": keys.order_pk(shop, order_id),
            "sk": keys.ORDER,
            "gsi1pk": keys.order_id_pk(order_id),
            "gsi1sk": keys.order_shop_sk(shop, keys.ORDER),
            "item_type": "order",
            "published": False,
            "expires_at": self._retention.order_expiry(),
        }
        return self._create(item)

    def create_follow_up(
        self, shop: str, order_id: str, kind: str, follow_up_id: str, attributes: dict[str, Any]
    ) -> dict[str, Any]:
        sk = keys.follow_up_sk(kind, follow_up_id)
        item = {
            **attributes,
            "pk": keys.order_pk(shop, order_id),
            "sk": sk,
            "gsi1pk": keys.order_id_pk(order_id),
            "gsi1sk": keys.order_shop_sk(shop, sk),
            "item_type": "order_follow_up",
            "published": False,
            "expires_at": self._retention.order_expiry(),
        }
        return self._create(item)

    def refresh_order(self, shop: str, order_id: str, snapshot: dict[str, Any], updated_at: int) -> None:
        """Keep the order's latest status; an older (retried, stale) payload changes nothing."""
        values = {k: v for k, v in snapshot.items() if v is not None}
        if not values:
            return
        update = UpdateBuilder()
        for attribute, value in values.items():
            update.set(attribute, value)
        update.set("status_updated_at", updated_at)
        stamp, at = update.name_token("status_updated_at"), update.value_token(updated_at)
        update.condition(f"attribute_exists(pk) AND (attribute_not_exists({stamp}) OR {stamp} <= {at})")
        # an older (retried, stale) payload fails the condition and changes nothing
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.order_pk(shop, order_id), keys.ORDER),
                **update.kwargs(),
            )

    def order_items(self, shop: str, order_id: str) -> list[dict[str, Any]]:
        return self._query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": serialize(keys.order_pk(shop, order_id))},
        )

    def shops_with_order(self, order_id: str) -> list[str]:
        items = self._query_all(
            IndexName=keys.GSI1,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": serialize(keys.order_id_pk(order_id))},
            ProjectionExpression="shop",
        )
        return sorted({str(item["shop"]) for item in items if item.get("shop")})

    # -- off-thread events -----------------------------------------------------------------------

    def create_external_event(self, external_event_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
        item = {
            **attributes,
            "pk": keys.external_event_pk(external_event_id),
            "sk": keys.EXTERNAL_EVENT,
            "item_type": "external_event",
            "published": False,
            "expires_at": self._retention.order_expiry(),
        }
        return self._create(item)

    def get_external_event(self, external_event_id: str) -> dict[str, Any] | None:
        return self._get(keys.external_event_pk(external_event_id), keys.EXTERNAL_EVENT)

    # -- idempotency keys (attribution.idempotency) ----------------------------------------------

    def claim_idempotency_key(
        self, scope: str, key: str, attributes: dict[str, Any], now: int
    ) -> dict[str, Any] | None:
        """None when the key is ours now; else the live claim holding it ({} if it vanished since).
        An expired claim counts as free: DynamoDB's TTL removes items only eventually."""
        pk = keys.idempotency_key_pk(scope, key)
        item = {**attributes, "pk": pk, "sk": keys.IDEMPOTENCY, "item_type": "idempotency_key"}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": serialize(now)},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return self._get(pk, keys.IDEMPOTENCY) or {}
        return None

    def take_over_idempotency_key(self, scope: str, key: str, claimed_at: int, now: int) -> bool:
        """Renew an abandoned claim, unless another retry renewed or finished it first."""
        update = UpdateBuilder().set("claimed_at", now)
        state, claimed = update.name_token("state"), update.name_token("claimed_at")
        in_progress, held = update.value_token("in_progress"), update.value_token(claimed_at)
        update.condition(f"{state} = {in_progress} AND {claimed} = {held}")
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.idempotency_key_pk(scope, key), keys.IDEMPOTENCY),
                **update.kwargs(),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def complete_idempotency_key(
        self, scope: str, key: str, status_code: int, response: str, expires_at: int
    ) -> None:
        update = (
            UpdateBuilder()
            .set("state", "completed")
            .set("status_code", status_code)
            .set("response", response)
            .set("expires_at", expires_at)
        )
        self._client.update_item(
            TableName=self._table,
            Key=self._key(keys.idempotency_key_pk(scope, key), keys.IDEMPOTENCY),
            **update.kwargs(),
        )

    # -- publishing state ------------------------------------------------------------------------

    def mark_published(self, pk: str, sk: str) -> None:
        self._client.update_item(
            TableName=self._table, Key=self._key(pk, sk), **UpdateBuilder().set("published", True).kwargs()
        )

    # -- helpers ---------------------------------------------------------------------------------

    def _create(self, item: dict[str, Any]) -> dict[str, Any]:
        try:
            self._client.put_item(
                TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            stored = self._get(str(item["pk"]), str(item["sk"]))
            if stored is None:  # deleted in between: let the record be retried
                raise
            return stored
        return from_item(to_item(item))

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=self._key(pk, sk), ConsistentRead=True).get(
            "Item"
        )
        return from_item(item) if item else None

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self._client.get_paginator("query").paginate(TableName=self._table, **kwargs):
            items.extend(from_item(item) for item in page.get("Items", []))
        return items

    @staticmethod
    def _key(pk: str, sk: str) -> dict[str, Any]:
        return {"pk": serialize(pk), "sk": serialize(sk)}
