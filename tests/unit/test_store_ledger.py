"""The webhook updates' dedupe ledger (store.ledger) in moto's idempotency table: what it says was
applied, for how long, under which namespace, and what forgetting takes away."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import store_tables
from tests.support.store_tables import IDEMPOTENCY
from wa_conversions.store.keys import CAPTURE_UPDATES, ERASED_MESSAGES
from wa_conversions.store.ledger import UpdateLedger

WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUQ0N0VFMDA2MTQ0RkJFNkNDNAA="


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from store_tables.moto_tables(monkeypatch, "IdempotencyTable")


def ledger(client: Any, ttl_seconds: int = 3_600, namespace: str = CAPTURE_UPDATES) -> UpdateLedger:
    return UpdateLedger(client, IDEMPOTENCY, ttl_seconds=ttl_seconds, namespace=namespace)


def test_only_the_updates_marked_applied_are_reported_applied(client: Any) -> None:
    updates = ledger(client)

    updates.mark_applied([f"msg:{WAMID}", f"status:{WAMID}:sent"])

    assert updates.applied([f"msg:{WAMID}", f"status:{WAMID}:delivered", f"status:{WAMID}:sent"]) == {
        f"msg:{WAMID}",
        f"status:{WAMID}:sent",
    }


def test_an_entry_is_kept_in_powertools_schema_with_its_expiry(client: Any) -> None:
    before = int(time.time())
    ledger(client, ttl_seconds=600).mark_applied([f"msg:{WAMID}"])
    after = int(time.time())

    [entry] = store_tables.everything(client, IDEMPOTENCY)

    assert (entry["id"], entry["status"]) == (f"capture#msg:{WAMID}", "COMPLETED")
    assert before + 600 <= entry["expiration"] <= after + 600


def test_an_expired_entry_no_longer_counts_as_applied(client: Any) -> None:
    expired = ledger(client, ttl_seconds=-1)
    expired.mark_applied([f"msg:{WAMID}"])

    assert expired.applied([f"msg:{WAMID}"]) == set()


def test_a_key_repeated_in_one_call_is_one_entry(client: Any) -> None:
    updates = ledger(client)

    updates.mark_applied([f"msg:{WAMID}", f"msg:{WAMID}"])

    assert len(store_tables.everything(client, IDEMPOTENCY)) == 1
    assert updates.applied([f"msg:{WAMID}", f"msg:{WAMID}"]) == {f"msg:{WAMID}"}


def test_namespaces_share_the_table_without_seeing_each_others_entries(client: Any) -> None:
    capture = ledger(client)
    tombstones = ledger(client, namespace=ERASED_MESSAGES)

    tombstones.mark_applied(["3f2a"])

    assert capture.applied(["3f2a"]) == set()
    assert tombstones.applied(["3f2a"]) == {"3f2a"}


def test_a_key_holding_the_separator_comes_back_whole(client: Any) -> None:
    updates = ledger(client)
    key = "auto:wamid.X#Purchase"

    updates.mark_applied([key])

    assert updates.applied([key]) == {key}


def test_a_batch_larger_than_one_call_holds_is_marked_and_read_in_full(client: Any) -> None:
    """More than one BatchWriteItem (25 entries) and one BatchGetItem (100 keys) hold."""
    updates = ledger(client)
    batch = [f"msg:wamid.{n:04d}" for n in range(230)]

    updates.mark_applied(batch[:140])

    assert updates.applied(batch) == set(batch[:140])


def test_forgetting_takes_the_entries_away_and_an_absent_one_is_no_error(client: Any) -> None:
    updates = ledger(client)
    updates.mark_applied([f"msg:{WAMID}", f"status:{WAMID}:read"])

    updates.forget([f"msg:{WAMID}", "msg:never-seen"])

    assert updates.applied([f"msg:{WAMID}", f"status:{WAMID}:read"]) == {f"status:{WAMID}:read"}


def test_forgetting_in_one_namespace_leaves_the_same_key_in_another(client: Any) -> None:
    capture = ledger(client)
    tombstones = ledger(client, namespace=ERASED_MESSAGES)
    capture.mark_applied(["k"])
    tombstones.mark_applied(["k"])

    capture.forget(["k"])

    assert (capture.applied(["k"]), tombstones.applied(["k"])) == (set(), {"k"})


class CountingClient:
    """The moto client, counting the BatchGetItem calls made through it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.batch_gets = 0

    def __getattr__(self, name: str) -> Any:
        if name == "batch_get_item":
            self.batch_gets += 1
        return getattr(self._client, name)


def test_two_ledgers_of_one_table_are_read_in_one_call_each_answering_for_its_own_keys(client: Any) -> None:
    updates, erased = ledger(client), ledger(client, namespace=ERASED_MESSAGES)
    updates.mark_applied(["msg:a", "shared"])
    erased.mark_applied(["gone", "shared"])
    counting = CountingClient(client)

    reader = ledger(counting)
    done, gone = reader.applied_together(
        [
            (reader, ["msg:a", "msg:b", "gone", "shared"]),
            (ledger(counting, namespace=ERASED_MESSAGES), ["msg:a", "gone", "shared"]),
        ]
    )

    assert (done, gone) == ({"msg:a", "shared"}, {"gone", "shared"})
    assert counting.batch_gets == 1


def test_ledgers_of_two_tables_are_not_read_together(client: Any) -> None:
    other = UpdateLedger(client, "another-table", ttl_seconds=60)
    with pytest.raises(ValueError, match="share their table"):
        ledger(client).applied_together([(ledger(client), ["a"]), (other, ["b"])])
