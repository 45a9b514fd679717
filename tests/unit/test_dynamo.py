"""store/dynamo.py: an update knows whether it would change an item; the batch calls every repository
makes are cut to DynamoDB's limits, the part left unprocessed retried with a growing wait, and a unit
of work failed, not half done in silence, when DynamoDB keeps refusing. (The contact expiry rule that
uses `changes` is here too: it decides which updates are left out.)"""

from __future__ import annotations

from typing import Any

import pytest

from wa_conversions.errors import UnprocessedError
from wa_conversions.store.dynamo import MAX_UNPROCESSED_ROUNDS, batch_get, batch_write


class Table:
    """BatchWriteItem / BatchGetItem over a dict, leaving the last entry of a call unprocessed the
    first `refusals` times it is asked."""

    def __init__(self, refusals: int = 0) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.calls: list[int] = []  # entries per call
        self.refusals = refusals

    def _refuse(self, entries: list[Any]) -> tuple[list[Any], list[Any]]:
        if self.refusals > 0 and entries:
            self.refusals -= 1
            return entries[:-1], entries[-1:]
        return entries, []

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        [(table, requests)] = RequestItems.items()
        assert len(requests) <= 25, "BatchWriteItem takes 25 requests at most"
        self.calls.append(len(requests))
        done, left = self._refuse(requests)
        for request in done:
            if "PutRequest" in request:
                item = request["PutRequest"]["Item"]
                self.items[item["id"]["S"]] = item
            else:
                self.items.pop(request["DeleteRequest"]["Key"]["id"]["S"], None)
        return {"UnprocessedItems": {table: left} if left else {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        [(table, ask)] = RequestItems.items()
        assert len(ask["Keys"]) <= 100, "BatchGetItem takes 100 keys at most"
        self.calls.append(len(ask["Keys"]))
        done, left = self._refuse(ask["Keys"])
        found = [self.items[k["id"]["S"]] for k in done if k["id"]["S"] in self.items]
        return {
            "Responses": {table: found},
            "UnprocessedKeys": {table: {**ask, "Keys": left}} if left else {},
        }


def _puts(count: int) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": {"id": {"S": f"k{i}"}}}} for i in range(count)]


def test_writes_go_in_calls_of_25_and_a_refused_entry_is_written_after_a_wait() -> None:
    table, waits = Table(refusals=2), []

    batch_write(table, "t", _puts(60), what="test writes", sleep=waits.append)  # type: ignore[arg-type]

    assert set(table.items) == {f"k{i}" for i in range(60)}
    assert table.calls == [25, 1, 1, 25, 10]  # the refused entry refused once more, then taken
    assert len(waits) == 2


def test_reads_go_in_calls_of_100_and_find_what_was_unprocessed_at_first() -> None:
    table = Table()
    batch_write(table, "t", _puts(150), what="setup")  # type: ignore[arg-type]
    table.refusals, table.calls = 1, []
    wanted = [{"id": {"S": f"k{i}"}} for i in range(0, 160)]

    found = list(batch_get(table, "t", wanted, what="test reads", sleep=lambda _: None))  # type: ignore[arg-type]

    assert sorted(item["id"]["S"] for item in found) == sorted(f"k{i}" for i in range(150))
    assert table.calls == [100, 1, 60]


def test_consistent_reads_are_asked_for_on_every_call_unprocessed_keys_included() -> None:
    asks: list[bool] = []

    class Recording(Table):
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            asks.extend(ask.get("ConsistentRead", False) for ask in RequestItems.values())
            return super().batch_get_item(RequestItems)

    table = Recording()
    batch_write(table, "t", _puts(120), what="setup")  # type: ignore[arg-type]
    table.refusals = 1
    wanted = [{"id": {"S": f"k{i}"}} for i in range(120)]

    found = list(batch_get(table, "t", wanted, what="r", consistent=True, sleep=lambda _: None))  # type: ignore[arg-type]

    assert len(found) == 120 and asks == [True, True, True]
    asks.clear()
    list(batch_get(table, "t", wanted[:1], what="r"))  # type: ignore[arg-type]
    assert asks == [False]


def test_a_batch_dynamodb_keeps_refusing_fails_the_unit_of_work() -> None:
    table, waits = Table(refusals=10**6), []

    with pytest.raises(UnprocessedError, match="test writes"):
        batch_write(table, "t", _puts(3), what="test writes", sleep=waits.append)  # type: ignore[arg-type]
    assert len(waits) == MAX_UNPROCESSED_ROUNDS - 1  # no wait after the last round


def test_an_update_changes_an_item_only_where_it_sets_another_value_or_fills_a_gap() -> None:
    from wa_conversions.store.dynamo import UpdateBuilder

    update = UpdateBuilder().set("name", "Ana").set_if_absent("first_seen_at", 100).set("username", None)
    assert not update.changes({"name": "Ana", "first_seen_at": 50})  # the first sighting stays 50
    assert update.changes({"name": "Ann", "first_seen_at": 50})
    assert update.changes({"name": "Ana"})
    # a counter or a removal always changes it, whatever the item holds
    assert UpdateBuilder().add("count", 1).changes({"count": 1})
    assert UpdateBuilder().remove("name").changes({})
    assert update.copy().increment("count", 1).changes({"name": "Ana", "first_seen_at": 50})


def test_a_contact_sighting_rewrites_its_expiry_only_when_it_is_over_a_day_old(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from wa_conversions.models import retention as module

    monkeypatch.setattr(module, "time", SimpleNamespace(time=lambda: 1_000_000_000))
    retention = module.Retention(contact_days=730)
    fresh = 1_000_000_000 + 730 * module.DAY_SECONDS
    assert retention.contact_kept(fresh - module.DAY_SECONDS)
    assert not retention.contact_kept(fresh - module.DAY_SECONDS - 1)
    assert not retention.contact_kept(None)
    # kept longer than a write now would keep it: a retention lowered since, applied now
    assert retention.contact_kept(fresh + 300)
    assert not module.Retention(contact_days=30).contact_kept(fresh)
