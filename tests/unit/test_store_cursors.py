"""Where each shop's reconciliation stands (store.cursors): a cursor that only moves forward, kept per
shop, and expiring like every record."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import store_tables
from tests.support.store_tables import TABLE
from wa_conversions.store.cursors import CURSOR_KEPT_DAYS, ReconcileCursors
from wa_conversions.store.keys import CURSOR, reconcile_cursor_pk

SHOP = "wa-conversions-dev.myshopify.com"
OTHER_SHOP = "brand-b.myshopify.com"
RECORDED_AT = 1_750_000_000


@pytest.fixture
def cursors(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReconcileCursors]:
    for client in store_tables.moto_tables(monkeypatch, "Table"):
        yield ReconcileCursors(client, TABLE)


def test_a_shop_never_reconciled_has_no_cursor(cursors: ReconcileCursors) -> None:
    assert cursors.current(SHOP) is None


def test_the_first_cursor_is_taken_and_read_back(cursors: ReconcileCursors) -> None:
    assert cursors.advance(SHOP, "2025-06-18T10:00:00Z", RECORDED_AT) is True

    assert cursors.current(SHOP) == "2025-06-18T10:00:00Z"


def test_a_later_cursor_moves_it_forward(cursors: ReconcileCursors) -> None:
    cursors.advance(SHOP, "2025-06-18T10:00:00Z", RECORDED_AT)

    assert cursors.advance(SHOP, "2025-06-18T10:00:01Z", RECORDED_AT + 60) is True
    assert cursors.current(SHOP) == "2025-06-18T10:00:01Z"


@pytest.mark.parametrize("cursor", ["2025-06-18T09:59:59Z", "2025-06-18T10:00:00Z", "2024-12-31T23:59:59Z"])
def test_an_earlier_or_equal_cursor_is_refused_and_the_cursor_stays(
    cursors: ReconcileCursors, cursor: str
) -> None:
    cursors.advance(SHOP, "2025-06-18T10:00:00Z", RECORDED_AT)

    assert cursors.advance(SHOP, cursor, RECORDED_AT + 60) is False
    assert cursors.current(SHOP) == "2025-06-18T10:00:00Z"


def test_each_shop_keeps_its_own_cursor(cursors: ReconcileCursors) -> None:
    cursors.advance(SHOP, "2025-06-18T10:00:00Z", RECORDED_AT)

    assert cursors.advance(OTHER_SHOP, "2025-01-01T00:00:00Z", RECORDED_AT) is True
    assert (cursors.current(SHOP), cursors.current(OTHER_SHOP)) == (
        "2025-06-18T10:00:00Z",
        "2025-01-01T00:00:00Z",
    )


def test_the_cursor_expires_its_kept_days_after_it_last_moved(cursors: ReconcileCursors) -> None:
    cursors.advance(SHOP, "2025-06-18T10:00:00Z", RECORDED_AT)
    cursors.advance(SHOP, "2025-06-19T10:00:00Z", RECORDED_AT + 86_400)
    cursors.advance(SHOP, "2025-06-01T10:00:00Z", RECORDED_AT + 2 * 86_400)  # refused: no renewal

    item = store_tables.stored(cursors._client, reconcile_cursor_pk(SHOP), CURSOR)

    assert item is not None
    assert item["item_type"] == "reconcile_cursor"
    assert item["recorded_at"] == RECORDED_AT + 86_400
    assert item["expires_at"] == RECORDED_AT + 86_400 + CURSOR_KEPT_DAYS * 86_400
