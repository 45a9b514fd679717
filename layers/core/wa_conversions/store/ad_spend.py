"""Ad spend per ad per day, from Meta's insights (analytics.insights, models.ad_day).

| item      | table  | key                                                          |
|-----------|--------|--------------------------------------------------------------|
| ad day    | single | pk ADSPEND#<YYYY-MM>, sk DAY#<YYYY-MM-DD>#<account>#<ad id>  |
| last read | single | pk ADSPEND#READ, sk <account>                                |

Storing an account's range replaces it: each ad day is put whole (a re-read overwrites it), and ad
days of that account and range that the new read no longer holds are deleted. A month is one
partition, so GET /metrics reads a range's spend in one Query per month. Each account's last read is
kept, so a run that ran out of time starts the next with the accounts it did not reach.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from ..models.ad_day import AdDay
from ..models.retention import DEFAULT_RETENTION, TTL_ATTRIBUTE, Retention
from . import keys
from .dynamo import batch_write, from_item, serialize, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class AdSpendReader:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def read(self, start: date, end: date) -> list[AdDay]:
        return [
            AdDay.model_validate(
                {**item, "date_start": item["day"], "account_currency": item.get("currency")}
            )
            for item in self._items(start, end)
        ]

    def _items(self, start: date, end: date, account_id: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for month in keys.months(start, end):
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
                "ExpressionAttributeValues": {
                    ":pk": serialize(keys.ad_spend_pk(month)),
                    ":low": serialize(keys.day_sk(max(start.isoformat(), month + "-01"))),
                    ":high": serialize(keys.day_sk(min(end.isoformat(), month + "-31")) + "#~"),
                },
            }
            while True:
                page = self._client.query(**kwargs)
                for raw in page.get("Items", []):
                    item = from_item(raw)
                    if account_id is None or str(item.get("account_id")) == account_id:
                        found.append(item)
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found


class AdSpendRepository(AdSpendReader):
    def __init__(
        self, client: DynamoDBClient, table_name: str, retention: Retention = DEFAULT_RETENTION
    ) -> None:
        super().__init__(client, table_name)
        self._retention = retention

    def replace(self, account_id: str, since: date, until: date, rows: Iterable[AdDay]) -> int:
        """Makes the stored ad days of the account from since to until exactly `rows`; returns how many."""
        items: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            if row.account_id != account_id or not since.isoformat() <= row.day <= until.isoformat():
                continue
            items[(keys.ad_spend_pk(row.day[:7]), keys.ad_spend_sk(row.day, account_id, row.ad_id))] = {
                "day": row.day,
                "account_id": account_id,
                "ad_id": row.ad_id,
                "ad_name": row.ad_name,
                "adset_name": row.adset_name,
                "campaign_name": row.campaign_name,
                "spend": row.spend,
                "impressions": row.impressions,
                "clicks": row.clicks,
                "currency": row.currency,
                # aggregate figures, no personal data: kept as long as the day counters they sit beside
                TTL_ATTRIBUTE: self._retention.analytics_counter_expiry(
                    int(datetime.fromisoformat(row.day).replace(tzinfo=UTC).timestamp())
                ),
            }
        stale = [
            (item["pk"], item["sk"])
            for item in self._items(since, until, account_id)
            if (item["pk"], item["sk"]) not in items
        ]
        requests: list[dict[str, Any]] = [
            {"PutRequest": {"Item": to_item({"pk": pk, "sk": sk, **values})}}
            for (pk, sk), values in items.items()
        ]
        requests += [
            {"DeleteRequest": {"Key": {"pk": serialize(pk), "sk": serialize(sk)}}} for pk, sk in stale
        ]
        now = int(time.time())
        read = {"pk": keys.AD_SPEND_READ_PK, "sk": account_id, "read_at": now}
        requests.append(
            {
                "PutRequest": {
                    "Item": to_item({**read, TTL_ATTRIBUTE: self._retention.analytics_counter_expiry(now)})
                }
            }
        )
        batch_write(self._client, self._table, requests, what="ad spend writes")
        return len(items)

    def least_recently_read(self, accounts: Iterable[str]) -> list[str]:
        """The accounts, those never read or read longest ago first (one Query)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": serialize(keys.AD_SPEND_READ_PK)},
        }
        read_at: dict[str, int] = {}
        while True:
            page = self._client.query(**kwargs)
            for raw in page.get("Items", []):
                item = from_item(raw)
                read_at[str(item["sk"])] = int(item.get("read_at") or 0)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(accounts, key=lambda account: read_at.get(account, 0))
