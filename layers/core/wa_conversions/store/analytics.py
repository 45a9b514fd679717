"""Analytics items: per-day counters, per-contact state, and the counted-event markers.

| item            | table       | key                                                     |
|-----------------|-------------|---------------------------------------------------------|
| hour counters   | single      | pk ANALYTICS#<YYYY-MM>, sk DAY#<YYYY-MM-DD>T<HH>#<shard> |
| contact state   | single      | pk ANALYTICS#CONTACT#<contact key>, sk STATE            |
| counted marker  | idempotency | id analytics#<event messageId> (TTL: expiration)        |

Counters are flat attributes ("sent", "country#KE", "ad#<source id>#revenue") updated with ADD, so a
new counter needs no schema; a listed tenant's are there again as "tenant#<id>#<counter>"
(analytics.tenancy). They are kept per UTC hour, so a day in any whole-hour time zone is a
sum of hours (docs/analytics.md#time-zones); items written before that are per UTC day
(sk DAY#<YYYY-MM-DD>#<shard>) and still read. A month is one partition: a 366-day query is at most
14 Query calls (a day more each side for the zone). Each hour is split over a few shards so
concurrent writers rarely touch the same item.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from ..analytics.aggregator import StateConflictError
from ..analytics.state import ContactState
from ..analytics.tenancy import counters_of
from .dynamo import from_item, serialize
from .retention import DEFAULT_RETENTION, Retention

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

MARKER_PREFIX = "analytics#"
STATE_SK = "STATE"


def month_pk(month: str) -> str:
    return f"ANALYTICS#{month}"


def day_sk(day: str, shard: int) -> str:
    return f"DAY#{day}#{shard}"


def contact_state_pk(contact: str) -> str:
    return f"ANALYTICS#CONTACT#{contact}"


class AnalyticsReader:
    """Reads only the day counters: what GET /metrics needs."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def read_days(self, start: date, end: date, tenant: str | None = None) -> dict[str, dict[str, float]]:
        """The counters of every UTC day from start to end inclusive, shards summed:
        {"YYYY-MM-DDTHH" (or "YYYY-MM-DD" for items from before hours were kept): {counter: n}};
        one tenant's (analytics.tenancy) when given, else the whole deployment's."""
        totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for month in _months(start, end):
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
                "ExpressionAttributeValues": {
                    ":pk": serialize(month_pk(month)),
                    ":low": serialize(f"DAY#{max(start.isoformat(), month + '-01')}"),
                    # "~" sorts after both "#<shard>" (whole days) and "T<hour>#<shard>" (hours).
                    ":high": serialize(f"DAY#{min(end.isoformat(), month + '-31')}~"),
                },
            }
            while True:
                page = self._client.query(**kwargs)
                for raw in page.get("Items", []):
                    item = from_item(raw)
                    day = str(item.pop("day"))
                    for key in ("pk", "sk"):
                        item.pop(key, None)
                    for counter, amount in counters_of(item, tenant).items():
                        if isinstance(amount, int | float):
                            totals[day][counter] += amount
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return {day: dict(counters) for day, counters in totals.items()}


class AnalyticsRepository(AnalyticsReader):
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        idempotency_table_name: str,
        *,
        marker_ttl_seconds: int,
        retention: Retention = DEFAULT_RETENTION,
    ) -> None:
        super().__init__(client, table_name)
        self._markers = idempotency_table_name
        self._marker_ttl = marker_ttl_seconds
        self._retention = retention

    # -- writing -------------------------------------------------------------------------------

    def seen(self, event_id: str) -> bool:
        found = self._client.get_item(
            TableName=self._markers,
            Key={"id": serialize(MARKER_PREFIX + event_id)},
            ProjectionExpression="id, expiration",
            ConsistentRead=True,
        ).get("Item")
        return found is not None and int(found["expiration"]["N"]) > int(time.time())

    def load_state(self, contact: str) -> ContactState:
        found = self._client.get_item(
            TableName=self._table,
            Key={"pk": serialize(contact_state_pk(contact)), "sk": serialize(STATE_SK)},
            ConsistentRead=True,
        ).get("Item")
        if found is None:
            return ContactState(contact=contact)
        plain = from_item(found)
        state = ContactState.model_validate_json(plain["state"])
        state.version = int(plain["version"])
        return state

    def commit(
        self,
        event_id: str,
        deltas: dict[str, float],
        shard: int,
        *,
        state: ContactState | None = None,
        expected_version: int | None = None,
        retired: tuple[ContactState, int] | None = None,
    ) -> bool:
        """`retired`: a contact merged into `state`'s one (contact.merged), written emptied in the same
        transaction, with the version it was loaded at."""
        now = int(time.time())
        actions: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._markers,
                    "Item": {
                        "id": serialize(MARKER_PREFIX + event_id),
                        "expiration": serialize(now + self._marker_ttl),
                        "status": serialize("COMPLETED"),
                    },
                    # An expired marker that TTL has not yet removed may be overwritten.
                    "ConditionExpression": "attribute_not_exists(id) OR expiration < :now",
                    "ExpressionAttributeValues": {":now": serialize(now)},
                }
            }
        ]
        written = [(state, expected_version)] if state is not None else []
        for state, expected_version in written + ([retired] if retired else []):
            condition = "attribute_not_exists(pk)" if not expected_version else "version = :expected"
            put: dict[str, Any] = {
                "TableName": self._table,
                "Item": {
                    "pk": serialize(contact_state_pk(state.contact)),
                    "sk": serialize(STATE_SK),
                    "version": serialize(state.version),
                    "state": serialize(state.model_dump_json(exclude={"version"})),
                    "updated_at": serialize(now),
                    # each counted event rewrites it, so the state of a contact still active stays
                    "expires_at": serialize(self._retention.analytics_state_expiry(now)),
                },
                "ConditionExpression": condition,
            }
            if expected_version:
                put["ExpressionAttributeValues"] = {":expected": serialize(expected_version)}
            actions.append({"Put": put})  # type: ignore[typeddict-item]
        by_day: dict[str, dict[str, float]] = defaultdict(dict)
        for key, amount in deltas.items():
            day, _, counter = key.partition("|")
            by_day[day][counter] = amount
        for day, counters in sorted(by_day.items()):
            names: dict[str, str] = {}
            values: dict[str, Any] = {
                ":day": serialize(day),
                ":expires": serialize(self._retention.analytics_counter_expiry(_day_start(day))),
            }
            clauses: list[str] = []
            for index, (counter, amount) in enumerate(sorted(counters.items())):
                names[f"#c{index}"] = counter
                values[f":c{index}"] = serialize(amount)
                clauses.append(f"#c{index} :c{index}")
            actions.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"pk": serialize(month_pk(day[:7])), "sk": serialize(day_sk(day, shard))},
                        "UpdateExpression": "SET #day = :day, #expires = :expires ADD " + ", ".join(clauses),
                        "ExpressionAttributeNames": {**names, "#day": "day", "#expires": "expires_at"},
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=actions)
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            if any(code in ("ConditionalCheckFailed", "TransactionConflict") for code in reasons[1:3]):
                raise StateConflictError(f"contact state changed: {reasons}") from error
            raise
        return True


def _day_start(day: str) -> int:
    """Epoch seconds of a YYYY-MM-DD day's start (UTC)."""
    # day[:10]: counters are kept per UTC hour ("2025-06-18T05"), by the day the hour is in
    return int(datetime.combine(date.fromisoformat(day[:10]), datetime.min.time(), tzinfo=UTC).timestamp())


def _months(start: date, end: date) -> list[str]:
    months: list[str] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
