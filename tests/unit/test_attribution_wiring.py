"""attribution.wiring in moto: the orders DLQ exists only when configured and parks under
orders_processor; the services are built once from the settings, and refused naming a missing or
invalid variable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from tests.support.delivery import DeliveryAws, moto_aws
from wa_conversions import reset
from wa_conversions.attribution import wiring


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[DeliveryAws]:
    with moto_aws():
        world = DeliveryAws.create()
        monkeypatch.setenv("TABLE_NAME", world.table)
        monkeypatch.setenv("EVENT_BUS_NAME", "wa-conversions-events")
        monkeypatch.delenv("DEAD_LETTER_QUEUE_URL", raising=False)
        reset()
        yield world
        reset()


def test_without_a_dead_letter_queue_url_there_is_no_orders_dlq(world: DeliveryAws) -> None:
    assert wiring.orders_dead_letters() is None


def test_the_orders_dlq_parks_in_the_configured_queue_as_orders_processor(
    world: DeliveryAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", world.dlq_url)

    dead_letters = wiring.orders_dead_letters()
    assert dead_letters is not None
    dead_letters.park('{"id": 1}', "no line items")

    [(body, reason)] = world.parked()
    assert (body, reason) == ('{"id": 1}', "no line items")


def test_the_services_are_built_once_until_reset(world: DeliveryAws) -> None:
    orders, external = wiring.orders_service(), wiring.external_service()
    assert (wiring.orders_service(), wiring.external_service()) == (orders, external)
    reset()
    assert wiring.orders_service() is not orders


def test_a_missing_event_bus_is_refused_naming_the_variable(
    world: DeliveryAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVENT_BUS_NAME")
    with pytest.raises(ValidationError, match="EVENT_BUS_NAME"):
        wiring.external_service()


def test_a_click_window_beyond_ninety_days_is_refused(
    world: DeliveryAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLICK_WINDOW_DAYS", "91")
    with pytest.raises(ValidationError, match="CLICK_WINDOW_DAYS"):
        wiring.orders_service()
