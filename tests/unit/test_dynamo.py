"""The batch calls every repository makes (store/dynamo.py): cut to DynamoDB's limits, the part it
leaves unprocessed retried with a growing wait, and a unit of work failed, not half done in silence,
when DynamoDB keeps refusing."""

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


def test_a_batch_dynamodb_keeps_refusing_fails_the_unit_of_work() -> None:
    table, waits = Table(refusals=10**6), []

    with pytest.raises(UnprocessedError, match="test writes"):
        batch_write(table, "t", _puts(3), what="test writes", sleep=waits.append)  # type: ignore[arg-type]
    assert len(waits) == MAX_UNPROCESSED_ROUNDS - 1  # no wait after the last round
