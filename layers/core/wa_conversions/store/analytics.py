"""Analytics items: per-day counters, per-contact state, and the counted-event markers.

| item            | table       | key                                                     |
|-----------------|-------------|---------------------------------------------------------|
| day counters    | single      | pk ANALYTICS#<YYYY-MM>, sk DAY#<YYYY-MM-DD>#<shard>     |
| contact state   | single      | pk ANALYTICS#CONTACT#<contact key>, sk STATE            |
| counted marker  | idempotency | id analytics#<event messageId> (TTL: expiration)        |

Counters are flat attributes updated with ADD, so a new counter needs no schema. Each is kept per UTC
hour as "<HH>|<counter>" ("05|sent", "05|ad#<source id>#revenue") in its UTC day's item, so a day in
any whole-hour time zone is a sum of hours (docs/analytics.md#time-zones) while a range still reads one
item per day and shard; a listed tenant's are there again as "<HH>|tenant#<id>#<counter>"
(analytics.tenancy). Counters without an hour prefix were written before hours were kept and count
for the whole day; items keyed per hour (sk DAY#<YYYY-MM-DD>T<HH>#<shard>) are still read. A month is
one partition: a 366-day query is 14 Query calls (a day more each side for the zone), more only when
a month's items pass Query's 1 MB page. Each day is split over a few shards (by contact) so
concurrent writers rarely touch the same item.

A commit that touches more days than one TransactWriteItems holds (100 actions) saves the contact's
state with the rest of its counter updates parked on the state item ("pending#<version>#<n>"); each
parked part is then applied in a transaction that removes it, so it is applied once, and whoever loads
the state next (a retry, the next event) finishes them before reading it. The counted marker is
written last: a redelivery after a crash recounts nothing and finishes the parked parts.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from ..errors import StateConflictError
from ..models.contact_state import ContactState
from ..models.counters import counters_of
from ..models.retention import DEFAULT_RETENTION, Retention
from .dynamo import from_item, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

MARKER_PREFIX = "analytics#"
STATE_SK = "STATE"
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
MAX_ACTIONS = 100
PENDING_PREFIX = "pending#"
DRAIN_ATTEMPTS = 5
_NOT_COUNTERS = ("pk", "sk", "day", "expires_at")

type DayCounters = dict[str, dict[str, float]]
"""UTC day -> {attribute ("05|sent", or "sent" for a whole day): amount}"""


def month_pk(month: str) -> str:
    return f"ANALYTICS#{month}"


def day_sk(day: str, shard: int) -> str:
    return f"DAY#{day}#{shard}"


def contact_state_pk(contact: str) -> str:
    return f"ANALYTICS#CONTACT#{contact}"


def counter_attribute(bucket: str, counter: str) -> tuple[str, str]:
    """The UTC day item and attribute a "<YYYY-MM-DD>T<HH>" (or whole-day) bucket's counter is in."""
    if len(bucket) == 13 and bucket[10] == "T":
        return bucket[:10], f"{bucket[11:]}|{counter}"
    return bucket, counter


def _bucket_of(day: str, attribute: str) -> tuple[str, str]:
    """counter_attribute's inverse: ("<day>T<HH>" or the item's own day, counter)."""
    if len(attribute) > 3 and attribute[2] == "|" and attribute[:2].isdigit() and len(day) == 10:
        return f"{day}T{attribute[:2]}", attribute[3:]
    return day, attribute


class AnalyticsReader:
    """Reads only the day counters: what GET /metrics needs."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def read_days(self, start: date, end: date, tenant: str | None = None) -> dict[str, dict[str, float]]:
        """The counters of every UTC day from start to end inclusive, shards summed:
        {"YYYY-MM-DDTHH" (or "YYYY-MM-DD" for counters from before hours were kept): {counter: n}};
        one tenant's (analytics.tenancy) when given, else the whole deployment's."""
        totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for month in _months(start, end):
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
                "ExpressionAttributeValues": {
                    ":pk": serialize(month_pk(month)),
                    ":low": serialize(f"DAY#{max(start.isoformat(), month + '-01')}"),
                    # "~" sorts after both "#<shard>" (days) and "T<hour>#<shard>" (hour items).
                    ":high": serialize(f"DAY#{min(end.isoformat(), month + '-31')}~"),
                },
            }
            while True:
                page = self._client.query(**kwargs)
                for raw in page.get("Items", []):
                    item = from_item(raw)
                    day = str(item["day"])
                    buckets: dict[str, dict[str, Any]] = defaultdict(dict)
                    for attribute, amount in item.items():
                        if attribute not in _NOT_COUNTERS:
                            bucket, counter = _bucket_of(day, attribute)
                            buckets[bucket][counter] = amount
                    for bucket, counters in buckets.items():
                        for counter, amount in counters_of(counters, tenant).items():
                            if isinstance(amount, int | float):
                                totals[bucket][counter] += amount
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
        """The contact's state, once any counter updates parked on it are applied (see the module)."""
        found = self._client.get_item(
            TableName=self._table,
            Key={"pk": serialize(contact_state_pk(contact)), "sk": serialize(STATE_SK)},
            ConsistentRead=True,
        ).get("Item")
        if found is None:
            return ContactState(contact=contact)
        plain = from_item(found)
        parked = {k: json.loads(v) for k, v in plain.items() if k.startswith(PENDING_PREFIX)}
        for name, part in sorted(parked.items()):
            self._apply_parked(contact, name, part["days"], int(part["shard"]))
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
        marker: TransactWriteItemTypeDef = {
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
        by_day: DayCounters = defaultdict(dict)
        for key, amount in deltas.items():
            bucket, _, counter = key.partition("|")
            day, attribute = counter_attribute(bucket, counter)
            by_day[day][attribute] = by_day[day].get(attribute, 0) + amount
        written = [(state, expected_version)] if state is not None else []
        written += [retired] if retired else []
        days = sorted(by_day)
        parts: list[DayCounters] = []
        if 1 + len(written) + len(days) > MAX_ACTIONS:
            if state is None:  # a conversion touches one hour: this cannot happen
                raise ValueError(f"{len(days)} days of counters in one commit without a state")
            size = MAX_ACTIONS - 1  # each parked part is applied with the removal of its attribute
            parts = [{d: by_day[d] for d in days[i : i + size]} for i in range(0, len(days), size)]
        actions: list[TransactWriteItemTypeDef] = [] if parts else [marker]
        for index, (saved, version) in enumerate(written):
            item: dict[str, Any] = {
                "pk": serialize(contact_state_pk(saved.contact)),
                "sk": serialize(STATE_SK),
                "version": serialize(saved.version),
                "state": serialize(saved.model_dump_json(exclude={"version"})),
                "updated_at": serialize(now),
                # each counted event rewrites it, so the state of a contact still active stays
                "expires_at": serialize(self._retention.analytics_state_expiry(now)),
            }
            if index == 0:
                for number, part in enumerate(parts):
                    parked = json.dumps({"shard": shard, "days": part})
                    item[f"{PENDING_PREFIX}{saved.version}#{number}"] = serialize(parked)
            put: dict[str, Any] = {
                "TableName": self._table,
                "Item": item,
                "ConditionExpression": "version = :expected" if version else "attribute_not_exists(pk)",
            }
            if version:
                put["ExpressionAttributeValues"] = {":expected": serialize(version)}
            actions.append({"Put": put})  # type: ignore[typeddict-item]
        if not parts:
            actions += [self._counter_update(day, by_day[day], shard) for day in days]
        try:
            self._client.transact_write_items(TransactItems=actions)
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            first = 0 if parts else 1  # the marker comes first when it is in this transaction
            states = reasons[first : first + len(written)]
            if not parts and reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            if any(code in ("ConditionalCheckFailed", "TransactionConflict") for code in states):
                raise StateConflictError(f"contact state changed: {reasons}") from error
            raise
        if not parts:
            return True
        assert state is not None
        for number, part in enumerate(parts):
            self._apply_parked(state.contact, f"{PENDING_PREFIX}{state.version}#{number}", part, shard)
        try:
            self._client.transact_write_items(TransactItems=[marker])
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            raise
        return True

    def _counter_update(self, day: str, counters: dict[str, float], shard: int) -> TransactWriteItemTypeDef:
        names: dict[str, str] = {}
        values: dict[str, Any] = {
            ":day": serialize(day),
            ":expires": serialize(self._retention.analytics_counter_expiry(_day_start(day))),
        }
        clauses: list[str] = []
        for index, (attribute, amount) in enumerate(sorted(counters.items())):
            names[f"#c{index}"] = attribute
            values[f":c{index}"] = serialize(amount)
            clauses.append(f"#c{index} :c{index}")
        return {
            "Update": {
                "TableName": self._table,
                "Key": {"pk": serialize(month_pk(day[:7])), "sk": serialize(day_sk(day, shard))},
                "UpdateExpression": "SET #day = :day, #expires = :expires ADD " + ", ".join(clauses),
                "ExpressionAttributeNames": {**names, "#day": "day", "#expires": "expires_at"},
                "ExpressionAttributeValues": values,
            }
        }

    def _apply_parked(self, contact: str, name: str, part: DayCounters, shard: int) -> None:
        """Add one parked part of a commit's counters and remove it from the state, in one transaction:
        once only, whoever gets there first (the committing invocation or the next to load the state)."""
        actions = [self._counter_update(day, counters, shard) for day, counters in sorted(part.items())]
        actions.append(
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": serialize(contact_state_pk(contact)), "sk": serialize(STATE_SK)},
                    "UpdateExpression": "REMOVE #part",
                    "ConditionExpression": "attribute_exists(#part)",
                    "ExpressionAttributeNames": {"#part": name},
                }
            }
        )
        for _ in range(DRAIN_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=actions)
                return
            except self._client.exceptions.TransactionCanceledException as error:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if reasons and reasons[-1] == "ConditionalCheckFailed":
                    return  # applied already, by whoever removed it
                if "TransactionConflict" not in reasons:
                    raise
        raise StateConflictError(f"parked counters kept conflicting over {DRAIN_ATTEMPTS} attempts")


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
