"""The analytics store (store.analytics) at the unit level, against moto: hour counters summed over
shards and read by UTC day and tenant, a conversion counted once by its marker, a forgotten fact's
tombstone, a contact's state saved
at a version and refused when another commit moved it, and what a half-applied view is."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from tests.support import store_tables
from tests.support.store_tables import IDEMPOTENCY, TABLE
from wa_conversions.errors import StateConflictError
from wa_conversions.models.contact_state import ContactState
from wa_conversions.models.retention import Retention
from wa_conversions.store import analytics, keys
from wa_conversions.store.analytics import AnalyticsReader, AnalyticsRepository
from wa_conversions.store.keys import analytics_day_sk, analytics_month_pk

CONTACT = "16505551234"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from store_tables.moto_tables(monkeypatch)


def store(client: Any, marker_ttl_seconds: int = 86_400, **retention: int) -> AnalyticsRepository:
    return AnalyticsRepository(
        client, TABLE, IDEMPOTENCY, marker_ttl_seconds=marker_ttl_seconds, retention=Retention(**retention)
    )


def test_an_hours_counters_are_summed_over_its_shards(client: Any) -> None:
    repository = store(client)
    repository.commit("evt-1", {"2025-06-18T10|sent": 1, "2025-06-18T10|delivered": 1}, shard=0)
    repository.commit("evt-2", {"2025-06-18T10|sent": 1}, shard=3)
    repository.commit("evt-3", {"2025-06-18T23|sent": 2.5}, shard=3)

    assert AnalyticsReader(client, TABLE).read_days(date(2025, 6, 18), date(2025, 6, 18)) == {
        "2025-06-18T10": {"sent": 2, "delivered": 1},
        "2025-06-18T23": {"sent": 2.5},
    }


def test_an_event_is_counted_once_however_often_it_is_committed(client: Any) -> None:
    repository = store(client)

    first = repository.commit("conversion-9201", {"2025-06-18T10|orders": 1}, shard=1)
    again = repository.commit("conversion-9201", {"2025-06-18T10|orders": 1}, shard=2)

    assert (first, again) == (True, False)
    assert repository.read_days(date(2025, 6, 18), date(2025, 6, 18)) == {"2025-06-18T10": {"orders": 1}}


def test_an_event_whose_marker_expired_is_counted_again(client: Any) -> None:
    """TTL removes an expired marker late; until then it no longer stands in the way."""
    repository = store(client, marker_ttl_seconds=-5)

    assert repository.commit("evt-old", {"2025-06-18T10|sent": 1}, shard=0) is True
    assert repository.commit("evt-old", {"2025-06-18T10|sent": 1}, shard=0) is True
    assert repository.read_days(date(2025, 6, 18), date(2025, 6, 18)) == {"2025-06-18T10": {"sent": 2}}


def test_a_tenants_counters_are_read_apart_from_the_deployments(client: Any) -> None:
    repository = store(client)
    repository.commit("evt-1", {"2025-06-18T10|sent": 1, "2025-06-18T10|tenant#brand-b#sent": 1}, shard=0)
    repository.commit("evt-2", {"2025-06-18T11|sent": 1}, shard=0)

    day = date(2025, 6, 18)
    assert repository.read_days(day, day, tenant="brand-b") == {"2025-06-18T10": {"sent": 1}}
    assert repository.read_days(day, day) == {"2025-06-18T10": {"sent": 1}, "2025-06-18T11": {"sent": 1}}
    assert repository.read_days(day, day, tenant="brand-c") == {}


def test_a_range_reads_its_days_across_months_and_none_outside(client: Any) -> None:
    repository = store(client)
    for number, hour in enumerate(["2025-01-30T23", "2025-01-31T00", "2025-02-01T12", "2025-02-02T00"]):
        repository.commit(f"evt-{number}", {f"{hour}|sent": 1}, shard=0)

    found = repository.read_days(date(2025, 1, 31), date(2025, 2, 1))

    assert sorted(found) == ["2025-01-31T00", "2025-02-01T12"]


def test_a_day_item_of_the_layout_before_hours_is_read_by_hour_and_whole_day(client: Any) -> None:
    store_tables.put(
        client,
        pk=analytics_month_pk("2025-06"),
        sk="DAY#2025-06-18#2",
        day="2025-06-18",
        orders=3,
        expires_at=2_000_000_000,
        **{"09|sent": 4, "tenant#brand-b#orders": 1},
    )

    day = date(2025, 6, 18)
    assert AnalyticsReader(client, TABLE).read_days(day, day) == {
        "2025-06-18T09": {"sent": 4},
        "2025-06-18": {"orders": 3},
    }
    assert AnalyticsReader(client, TABLE).read_days(day, day, tenant="brand-b") == {
        "2025-06-18": {"orders": 1}
    }


def test_every_shard_of_a_day_expires_with_that_day(client: Any) -> None:
    repository = store(client, analytics_counter_days=10)
    repository.commit("evt-1", {"2025-06-18T01|sent": 1}, shard=0)
    repository.commit("evt-2", {"2025-06-18T22|sent": 1}, shard=5)

    hours = [
        store_tables.stored(client, analytics_month_pk("2025-06"), analytics_day_sk(hour, shard))
        for hour, shard in (("2025-06-18T01", 0), ("2025-06-18T22", 5))
    ]

    midnight = int(datetime(2025, 6, 18, tzinfo=UTC).timestamp())
    assert [hour["expires_at"] if hour else None for hour in hours] == [midnight + 10 * 86_400] * 2


def test_counters_of_more_hours_than_a_transaction_holds_need_a_state(client: Any) -> None:
    deltas: dict[str, float] = {f"2025-06-{1 + n // 24:02d}T{n % 24:02d}|sent": 1 for n in range(100)}

    with pytest.raises(ValueError, match="100 hours of counters in one commit without a state"):
        store(client).commit("evt-1", deltas, shard=0)


def test_a_contact_never_counted_has_an_empty_state_at_version_zero(client: Any) -> None:
    state = store(client).load_state(CONTACT)

    assert (state.contact, state.version, state.inbound, state.counted) == (CONTACT, 0, {}, {})


def counted_message(state: ContactState, message_id: str, at: int) -> dict[str, float]:
    state.note_inbound(message_id, at, "US")
    return state.settle()


def test_a_state_saved_at_a_version_is_loaded_back_at_it(client: Any) -> None:
    repository = store(client)
    at = int(time.time()) - 3_600
    state = repository.load_state(CONTACT)
    deltas = counted_message(state, "wamid.1", at)
    state.version = 1

    assert repository.commit("evt-1", deltas, shard=0, state=state, expected_version=0) is True

    loaded = repository.load_state(CONTACT)
    assert (loaded.version, sorted(loaded.inbound)) == (1, ["wamid.1"])
    assert loaded.counted == state.counted
    assert loaded.changed() is False


def test_a_commit_from_a_state_another_commit_moved_is_refused_and_counts_nothing(client: Any) -> None:
    repository = store(client)
    at = int(time.time()) - 3_600
    first, second = repository.load_state(CONTACT), repository.load_state(CONTACT)
    first_deltas = counted_message(first, "wamid.1", at)
    first.version = 1
    repository.commit("evt-1", first_deltas, shard=0, state=first, expected_version=0)
    day = datetime.fromtimestamp(at, UTC).date()
    before = repository.read_days(day, day)
    second_deltas = counted_message(second, "wamid.2", at)
    second.version = 1

    with pytest.raises(StateConflictError, match="contact state changed"):
        repository.commit("evt-2", second_deltas, shard=0, state=second, expected_version=0)

    assert before != {}
    assert repository.read_days(day, day) == before
    assert repository.commit("evt-2", {}, shard=0) is True  # its marker was not written either


class BusyHour:
    """A client whose transactions meet another one writing the hour's item (the last action) at
    that moment: DynamoDB cancels with TransactionConflict there, None elsewhere."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        codes = ["None"] * (len(kwargs["TransactItems"]) - 1) + ["TransactionConflict"]
        raise self.exceptions.TransactionCanceledException(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                "CancellationReasons": [{"Code": code} for code in codes],
            },
            "TransactWriteItems",
        )


def test_a_commit_meeting_another_on_the_hour_s_item_is_retried_not_failed(client: Any) -> None:
    # Retried by the aggregator's loop, with the state loaded again; before, it failed the event.
    repository = store(BusyHour(client))
    state = repository.load_state(CONTACT)
    deltas = counted_message(state, "wamid.1", int(time.time()) - 3_600)
    state.version = 1

    with pytest.raises(StateConflictError):
        repository.commit("evt-1", deltas, shard=0, state=state, expected_version=0)


@pytest.mark.parametrize(
    ("head", "items", "settled"),
    [
        ({"version": 2, "touched": '["in:a"]'}, {"in:a": ({}, 2)}, True),
        ({"version": 2, "touched": '["in:a"]'}, {"in:a": ({}, 1)}, False),  # its fact not written yet
        ({"version": 2}, {"in:a": ({}, 3)}, False),  # an item of a later commit
        ({"version": 2, "retired": '["in:b"]'}, {"in:b": ({}, 1)}, False),  # not yet stubbed
        ({"version": 2, "retired": '["in:b"]'}, {}, True),  # the stub's TTL removed it
        ({"version": 2, "touched": '["in:a"]', "expires_at": 10}, {}, True),  # past its expiry
    ],
)
def test_a_view_is_settled_only_when_its_items_are_those_of_the_heads_version(
    head: dict[str, Any], items: dict[str, tuple[dict[str, Any], int]], settled: bool
) -> None:
    assert analytics._settled(head, items, int(head["version"]), now=1_000) is settled


def test_parked_counters_on_a_state_are_applied_by_whoever_loads_it_next(client: Any) -> None:
    """A commit cut short after saving the state: the next load adds its parked part, once."""
    repository = store(client)
    part = {"shard": 4, "days": {"2025-06-18T10": {"sent": 2}}, "event": "evt-cut"}
    store_tables.put(
        client,
        pk=f"ANALYTICS#CONTACT#{CONTACT}",
        sk="STATE",
        version=1,
        head=ContactState(contact=CONTACT).head_json(),
        expires_at=2_000_000_000,
        **{"pending#1#0": json.dumps(part)},
    )

    loaded = repository.load_state(CONTACT)
    repository.load_state(CONTACT)

    assert loaded.stored.finished == {"evt-cut"}
    assert repository.read_days(date(2025, 6, 18), date(2025, 6, 18)) == {"2025-06-18T10": {"sent": 2}}


def _idempotency_ids(client: Any) -> list[str]:
    return sorted(item["id"]["S"] for item in client.scan(TableName=IDEMPOTENCY)["Items"])


def test_a_contacts_event_leaves_no_marker_and_a_forgotten_fact_a_tombstone_without_its_wamid(
    client: Any,
) -> None:
    repository = store(client)
    wamid = "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTdGMjdEODUwRjNCMUE4NzBBMQA="  # the phone, in base64
    at = int(time.time()) - 40 * 86_400
    state = repository.load_state(CONTACT)
    deltas = counted_message(state, wamid, at)
    state.version = 1
    repository.commit("evt-1", deltas, shard=0, state=state, expected_version=0)
    assert _idempotency_ids(client) == []

    later = repository.load_state(CONTACT)
    deltas = counted_message(later, "wamid.2", at + 31 * 86_400)
    later.version = 2
    assert later.forgotten == {f"in:{wamid}"}
    repository.commit("evt-2", deltas, shard=0, state=later, expected_version=1)

    stored = json.dumps(client.scan(TableName=IDEMPOTENCY)["Items"])
    assert _idempotency_ids(client) == [keys.analytics_forgotten_id(f"in:{wamid}")]
    assert wamid not in stored and "MTY1MDU1NTEyMzQ" not in stored and CONTACT not in stored
    assert repository.forgotten({f"in:{wamid}"}, "evt-1") is True
    assert repository.forgotten({"in:wamid.3"}, "evt-3") is False
    assert wamid not in repository.load_state(CONTACT).inbound


def test_an_event_counted_before_tombstones_is_told_by_its_old_marker(client: Any) -> None:
    repository = store(client)
    assert repository.forgotten({"in:wamid.1"}, "evt-1") is False
    repository.commit("evt-1", {"2025-06-18T10|orders": 1}, shard=0)  # a marker, as every event had
    assert repository.forgotten({"in:wamid.1"}, "evt-1") is True


def test_an_expired_tombstone_no_longer_stands_in_the_way(client: Any) -> None:
    repository = store(client, marker_ttl_seconds=-5)
    state = repository.load_state(CONTACT)
    counted_message(state, "wamid.1", int(time.time()) - 40 * 86_400)
    deltas = counted_message(state, "wamid.2", int(time.time()))
    state.version = 1
    repository.commit("evt-2", deltas, shard=0, state=state, expected_version=0)
    assert _idempotency_ids(client) == [keys.analytics_forgotten_id("in:wamid.1")]  # written expired
    assert repository.forgotten({"in:wamid.1"}, "evt-1") is False
