"""Where each shop's reconciliation stands: the `updatedAt` of the last order it handed to the orders
queue (docs/shopify.md, "Reconciliation"). The cursor only moves forward: a write with an older value,
from a run that overlapped another or a SINCE far back, leaves it as it is. Like every record it
expires (the table's TTL): a shop with no new order for CURSOR_KEPT_DAYS starts over from the lookback,
which only queues again what the orders processor already has."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import keys
from .dynamo import UpdateBuilder

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


CURSOR_KEPT_DAYS = 90
TTL_ATTRIBUTE = "expires_at"


def _key(shop: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": keys.reconcile_cursor_pk(shop)}, "sk": {"S": keys.CURSOR}}


class ReconcileCursors:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def current(self, shop: str) -> str | None:
        """The cursor, an ISO 8601 UTC time written as YYYY-MM-DDTHH:MM:SSZ (so text order is time order)."""
        item = self._client.get_item(TableName=self._table, Key=_key(shop), ConsistentRead=True).get("Item")
        return item["cursor"]["S"] if item and "cursor" in item else None

    def advance(self, shop: str, cursor: str, recorded_at: int) -> bool:
        """Moves the cursor to `cursor` if that is later; False when it was already there or past it."""
        try:
            update = (
                UpdateBuilder()
                .set("cursor", cursor)
                .set("recorded_at", recorded_at)
                .set("item_type", "reconcile_cursor")
                .set(TTL_ATTRIBUTE, recorded_at + CURSOR_KEPT_DAYS * 86_400)
            )
            name, token = update.name_token("cursor"), update.value_token(cursor)
            update.condition(f"attribute_not_exists({name}) OR {name} < {token}")
            self._client.update_item(TableName=self._table, Key=_key(shop), **update.kwargs())
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
