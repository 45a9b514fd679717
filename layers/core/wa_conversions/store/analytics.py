"""Analytics items: per-hour counters, per-contact state, and the dedupe marks. The keys are built by
store/keys.py; how an event is counted once (its fact, its fact's tombstone, or a conversion's marker)
is docs/idempotency.md's "Analytics seen-marks".

| item            | table       | key                                                     |
|-----------------|-------------|---------------------------------------------------------|
| hour counters   | single      | pk ANALYTICS#<YYYY-MM>, sk DAY#<YYYY-MM-DD>T<HH>#<shard>|
| contact head    | single      | pk ANALYTICS#CONTACT#<contact key>, sk STATE            |
| contact fact    | single      | pk ANALYTICS#CONTACT#<contact key>, sk FACT#<group>     |
| counted marker  | idempotency | id analytics#<event messageId> (TTL: expiration)        |
| fact tombstone  | idempotency | id analytics-gone#<sha256 of the group> (TTL: expiration) |

A contact's state is a small head (its version, first clicks, tenant, the contact's own counts) and
one item per fact ("out:<message id>": the fact and what was counted from it), read together by one
strongly consistent Query; a commit writes the head (the version it was read at is the condition)
and only the facts the event changed, so its cost does not grow with the contact's history. A head
saved before facts had items holds the whole state in "state": it is read as it is, and its facts
move to items as commits have room (one transaction holds 100 actions; what does not fit stays in the
head's "facts" for the next commit).

Counters are flat attributes updated with ADD, so a new counter needs no schema. Each UTC hour has
its own item per shard ("sent", "ad#<source id>#revenue"; a listed tenant's again as
"tenant#<id>#<counter>", analytics.tenancy), so a day in any whole-hour time zone is a sum of hours
(docs/analytics.md#time-zones), and what an event's counter update is charged for (the whole item)
stays small however busy the day. Items of earlier layouts are still read: a UTC day's (sk
DAY#<YYYY-MM-DD>#<shard>) with "<HH>|<counter>" attributes, and counters without an hour prefix,
written before hours were kept, which count for the whole day. A month is one partition: a 366-day
query is 14 Query calls (a day more each side for the zone), more only when a month's items pass
Query's 1 MB page. Each hour is split over a few shards (by contact) so concurrent writers rarely
touch the same item.

A commit that touches more hours than one TransactWriteItems holds (100 actions) saves the contact's
state with the rest of its counter updates parked on the state item ("pending#<version>#<n>"); each
parked part is then applied in a transaction that removes it, so it is applied once, and whoever loads
the state next (a retry, the next event) finishes them before reading it: a redelivery after a crash
finds its fact saved, recounts nothing and finishes the parked parts.

A contact's event writes no marker: its fact in the state tells a redelivery. A fact the state forgets
(the window, MAX_FACTS) leaves a tombstone in the same transaction, and an event that brings a fact
the state lacks, to a contact that ever forgot one, is looked up there first (forgotten()).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from ..errors import StateConflictError
from ..models.contact_state import FORGOTTEN_BEFORE_TOMBSTONES, ContactState, Stored
from ..models.counters import counters_of
from ..models.retention import DEFAULT_RETENTION, Retention
from . import keys
from .dynamo import UpdateBuilder, batch_get, from_item, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

READ_ATTEMPTS = 5
GONE_TTL_SECONDS = 86_400
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
MAX_ACTIONS = 100
DRAIN_ATTEMPTS = 5
_NOT_COUNTERS = ("pk", "sk", "day", "expires_at")

type DayCounters = dict[str, dict[str, float]]
"""counter item ("<YYYY-MM-DD>T<HH>", or a whole day) -> {counter: amount}"""


def _bucket_of(day: str, attribute: str) -> tuple[str, str]:
    """The bucket ("<day>T<HH>", or the item's own day or hour) and counter an attribute holds:
    an hour item's are its own; a day item's (the earlier layout) "<HH>|<counter>"."""
    if len(attribute) > 3 and attribute[2] == "|" and attribute[:2].isdigit() and len(day) == 10:
        return f"{day}T{attribute[:2]}", attribute[3:]
    return day, attribute


class AnalyticsReader:
    """Reads only the hour (and older day) counters: what GET /metrics needs."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def read_days(self, start: date, end: date, tenant: str | None = None) -> dict[str, dict[str, float]]:
        """The counters of every UTC day from start to end inclusive, shards summed:
        {"YYYY-MM-DDTHH" (or "YYYY-MM-DD" for counters from before hours were kept): {counter: n}};
        one tenant's (analytics.tenancy) when given, else the whole deployment's."""
        totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for month in keys.months(start, end):
            low, high = keys.analytics_days_between(
                max(start.isoformat(), month + "-01"), min(end.isoformat(), month + "-31")
            )
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
                "ExpressionAttributeValues": {
                    ":pk": serialize(keys.analytics_month_pk(month)),
                    ":low": serialize(low),
                    ":high": serialize(high),
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

    def load_state(self, contact: str) -> ContactState:
        """The contact's state: its head and fact items in one strongly consistent Query, once any
        counter updates parked on it are applied (see the module). A Query sees each item committed
        but may see a transaction half applied, so a view that does not match the head's version
        (an item newer than it, or one its commit wrote still older) is read again."""
        for attempt in range(READ_ATTEMPTS):
            head, items = self._read_contact(contact)
            version = int(head["version"]) if head else 0
            if head is not None and not _settled(head, items, version, int(time.time())):
                time.sleep(0.02 * 2**attempt)
                continue
            finished: set[str] = set()
            if head is not None:
                parked = {
                    k: json.loads(v) for k, v in head.items() if k.startswith(keys.ANALYTICS_PENDING_PREFIX)
                }
                for name, part in sorted(parked.items()):
                    self._apply_parked(contact, name, part["days"], int(part["shard"]))
                    finished.add(str(part.get("event", "")))
            facts = {group: str(item["fact"]) for group, (item, _) in items.items() if "fact" in item}
            embedded: dict[str, str | None] = {}
            if head is None:
                state = ContactState(contact=contact)
            elif "head" not in head:  # saved whole, before facts had items of their own
                state = ContactState.model_validate_json(head["state"])
                state.version = version
                state.forgotten_facts = FORGOTTEN_BEFORE_TOMBSTONES
                embedded = dict(state.fact_groups())
            else:
                embedded = json.loads(head.get("facts") or "{}")
                groups = {**facts, **embedded}
                known = {g: text for g, text in groups.items() if text is not None}
                state = ContactState.from_parts(str(head["head"]), known, version)
            state.remember(Stored(items=facts, embedded=embedded, finished=finished))
            return state
        raise StateConflictError(f"contact state kept changing while read, {READ_ATTEMPTS} times")

    def _read_contact(
        self, contact: str
    ) -> tuple[dict[str, Any] | None, dict[str, tuple[dict[str, Any], int]]]:
        """The head item, and the fact items by group with the version that wrote each."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": serialize(keys.analytics_state_pk(contact))},
            "ConsistentRead": True,
        }
        head: dict[str, Any] | None = None
        items: dict[str, tuple[dict[str, Any], int]] = {}
        while True:
            page = self._client.query(**kwargs)
            for raw in page.get("Items", []):
                item = from_item(raw)
                sk = str(item["sk"])
                group = keys.analytics_fact_group_of(sk)
                if sk == keys.ANALYTICS_STATE:
                    head = item
                elif group is not None:
                    items[group] = (item, int(item["v"]))  # "fact" unless retired
            if "LastEvaluatedKey" not in page:
                return head, items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

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
        transaction, with the version it was loaded at. Without a state (a conversion), or with a
        retired one, the counted marker goes in, on condition it is absent: False when it was there.
        With one, the state's facts tell a redelivery, and each fact it forgot leaves a tombstone
        (forgotten()). Only the fact items that changed are written; what one transaction has no
        room for stays in the head item, to be moved to its own item by a later commit."""
        now = int(time.time())
        marker: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self._markers,
                "Item": {
                    "id": serialize(keys.analytics_marker_id(event_id)),
                    "expiration": serialize(now + self._marker_ttl),
                    "status": serialize("COMPLETED"),
                },
                # An expired marker that TTL has not yet removed may be overwritten.
                "ConditionExpression": "attribute_not_exists(id) OR expiration < :now",
                "ExpressionAttributeValues": {":now": serialize(now)},
            }
        }
        # each bucket ("<YYYY-MM-DD>T<HH>") its own item: an update is charged for the whole item
        by_day: DayCounters = defaultdict(dict)
        for key, amount in deltas.items():
            bucket, _, counter = key.partition("|")
            by_day[bucket][counter] = by_day[bucket].get(counter, 0) + amount
        written = [(state, expected_version)] if state is not None else []
        written += [retired] if retired else []
        tombstones = [self._tombstone(group, now) for group in sorted(state.forgotten)] if state else []
        # a merge is marked too: merged back later, its redelivery finds no pointer to tell it
        first = 1 if state is None or retired else 0
        days = sorted(by_day)
        parts: list[DayCounters] = []
        if first + len(written) + len(tombstones) + len(days) > MAX_ACTIONS:
            if state is None:  # a conversion touches one hour: this cannot happen
                raise ValueError(f"{len(days)} hours of counters in one commit without a state")
            size = MAX_ACTIONS - 1  # each parked part is applied with the removal of its attribute
            parts = [{d: by_day[d] for d in days[i : i + size]} for i in range(0, len(days), size)]
        actions: list[TransactWriteItemTypeDef] = [marker] if first else []
        actions += tombstones
        room = MAX_ACTIONS - len(actions) - len(written) - (0 if parts else len(days))
        heads: list[TransactWriteItemTypeDef] = []
        facts: list[TransactWriteItemTypeDef] = []
        for index, (saved, version) in enumerate(written):
            moves, embedded = self._plan(saved, room)
            room -= len(moves)
            pk = serialize(keys.analytics_state_pk(saved.contact))
            for group, text in moves:
                fact: dict[str, Any] = {
                    "pk": pk,
                    "sk": serialize(keys.analytics_fact_sk(group)),
                    "v": serialize(saved.version),
                }
                if text is None:
                    # a forgotten fact: a small stub that TTL removes soon (no function but erasure
                    # may delete, tests/unit/test_iam.py), read as no fact until then
                    fact["expires_at"] = serialize(now + GONE_TTL_SECONDS)
                else:
                    fact["fact"] = serialize(text)
                    fact["expires_at"] = serialize(self._retention.analytics_state_expiry(now))
                facts.append({"Put": {"TableName": self._table, "Item": fact}})
            item: dict[str, Any] = {
                "pk": pk,
                "sk": serialize(keys.ANALYTICS_STATE),
                "version": serialize(saved.version),
                "head": serialize(saved.head_json()),
                "updated_at": serialize(now),
                # each counted event rewrites it, so the state of a contact still active stays
                "expires_at": serialize(self._retention.analytics_state_expiry(now)),
            }
            # kept apart: a retired group's stub may be gone (TTL) while the head still names it
            touched = [group for group, text in moves if text is not None]
            gone = [group for group, text in moves if text is None]
            for name, value in (("facts", embedded), ("touched", touched), ("retired", gone)):
                if value:
                    item[name] = serialize(json.dumps(value, sort_keys=True, separators=(",", ":")))
            if index == 0:
                for number, part in enumerate(parts):
                    parked = json.dumps({"shard": shard, "days": part, "event": event_id})
                    item[keys.analytics_pending_attribute(saved.version, number)] = serialize(parked)
            put: dict[str, Any] = {
                "TableName": self._table,
                "Item": item,
                "ConditionExpression": "version = :expected" if version else "attribute_not_exists(pk)",
            }
            if version:
                put["ExpressionAttributeValues"] = {":expected": serialize(version)}
            heads.append({"Put": put})  # type: ignore[typeddict-item]
        actions += heads + facts
        if not parts:
            actions += [self._counter_update(day, by_day[day], shard) for day in days]
        try:
            self._client.transact_write_items(TransactItems=actions)
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if first and reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            offset = first + len(tombstones)
            states = reasons[offset : offset + len(heads) + len(facts)]
            # TransactionConflict on an hour's item: another commit was writing it at that moment
            # (a busy hour and shard); transient, so retried like a moved state, never written off
            if "ConditionalCheckFailed" in states or "TransactionConflict" in reasons:
                raise StateConflictError(f"contact state changed: {reasons}") from error
            raise
        if not parts:
            return True
        assert state is not None
        for number, part in enumerate(parts):
            self._apply_parked(
                state.contact, keys.analytics_pending_attribute(state.version, number), part, shard
            )
        return True

    def _tombstone(self, group: str, now: int) -> TransactWriteItemTypeDef:
        """A forgotten fact's mark, as long as a counted marker's: a redelivery of its event finds it
        (forgotten()) where the fact is gone. Its id is a hash: the group holds a wamid."""
        item = {
            "id": serialize(keys.analytics_forgotten_id(group)),
            "expiration": serialize(now + self._marker_ttl),
            "status": serialize("COMPLETED"),
        }
        return {"Put": {"TableName": self._markers, "Item": item}}

    def forgotten(self, groups: set[str], event_id: str) -> bool:
        """Whether any of these fact groups was forgotten (its tombstone), or the event was counted
        before tombstones were kept (its marker): one strongly consistent BatchGetItem."""
        ids = [keys.analytics_forgotten_id(group) for group in sorted(groups)]
        ids.append(keys.analytics_marker_id(event_id))
        now = int(time.time())
        # consistent: the tombstone may have been written by the commit just before this event
        found = batch_get(
            self._client,
            self._markers,
            [{"id": serialize(i)} for i in ids],
            what="analytics tombstone reads",
            projection="id, expiration",
            consistent=True,
        )
        return any(int(item["expiration"]["N"]) >= now for item in found)

    @staticmethod
    def _plan(saved: ContactState, room: int) -> tuple[list[tuple[str, str | None]], dict[str, str | None]]:
        """The fact items to write (group, JSON) or retire (group, None), at most `room`: changed
        facts first, then facts kept in the head; and what stays in the head instead (None hides an
        item a later commit retires)."""
        stored = saved.stored
        groups = saved.fact_groups()
        ops: list[tuple[int, str, str | None]] = []
        for group, now_text in groups.items():
            if stored.items.get(group) != now_text or group in stored.embedded:
                ops.append((0 if stored.groups.get(group) != now_text else 1, group, now_text))
        ops += [(0, group, None) for group in stored.items if group not in groups]
        ops.sort(key=lambda op: (op[0], op[1]))
        moves = [(group, text) for _, group, text in ops[: max(room, 0)]]
        embedded = {group: text for _, group, text in ops[max(room, 0) :]}
        return moves, embedded

    def _counter_update(self, day: str, counters: dict[str, float], shard: int) -> TransactWriteItemTypeDef:
        update = UpdateBuilder().set("day", day)
        update.set("expires_at", self._retention.analytics_counter_expiry(_day_start(day)))
        for attribute, amount in sorted(counters.items()):
            update.increment(attribute, amount)
        key = {
            "pk": serialize(keys.analytics_month_pk(day[:7])),
            "sk": serialize(keys.analytics_day_sk(day, shard)),
        }
        return {"Update": {"TableName": self._table, "Key": key, **update.kwargs()}}  # type: ignore[typeddict-item]

    def _apply_parked(self, contact: str, name: str, part: DayCounters, shard: int) -> None:
        """Add one parked part of a commit's counters and remove it from the state, in one transaction:
        once only, whoever gets there first (the committing invocation or the next to load the state)."""
        actions = [self._counter_update(day, counters, shard) for day, counters in sorted(part.items())]
        removal = UpdateBuilder().remove(name)
        removal.condition(f"attribute_exists({removal.name_token(name)})")
        key = {"pk": serialize(keys.analytics_state_pk(contact)), "sk": serialize(keys.ANALYTICS_STATE)}
        actions.append({"Update": {"TableName": self._table, "Key": key, **removal.kwargs()}})  # type: ignore[typeddict-item]
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


def _settled(
    head: dict[str, Any], items: dict[str, tuple[dict[str, Any], int]], version: int, now: int
) -> bool:
    """Whether the items read are those of the head's version: none newer, every fact its commit
    wrote there at that version, and every fact it retired absent or stubbed at that version. TTL
    deletes lazily, so an item may be gone once past its expiry: a fact written with the head's
    expiry is not required once that has passed, a stub never is."""
    if any(written > version for _, written in items.values()):
        return False
    touched: list[str] = json.loads(head.get("touched") or "[]")
    retired: list[str] = json.loads(head.get("retired") or "[]")
    expired = int(head.get("expires_at") or now) < now
    if any(group in items and items[group][1] != version for group in retired):
        return False
    return expired or all(group in items and items[group][1] == version for group in touched)


def _day_start(day: str) -> int:
    """Epoch seconds of a YYYY-MM-DD day's start (UTC)."""
    # day[:10]: counters are kept per UTC hour ("2025-06-18T05"), by the day the hour is in
    return int(datetime.combine(date.fromisoformat(day[:10]), datetime.min.time(), tzinfo=UTC).timestamp())
