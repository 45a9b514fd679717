"""forwarding.wiring in moto: each forwarder's runner, built from its settings, parks a message it can
never deliver in the configured DLQ under its own name; a missing variable or bad ConversionRules is
refused with the name of what is wrong."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from tests.support.delivery import DeliveryAws, moto_aws
from wa_conversions import reset
from wa_conversions.errors import PermanentFailure
from wa_conversions.forwarding import wiring

RUNNERS: dict[str, tuple[Callable[[], Any], dict[str, str]]] = {
    "wax": (wiring.wax_runner, {"WAX_BASE_URL": "https://wax.example"}),
    "meta": (wiring.meta_runner, {"META_DATASET_ID": "123"}),
    "cm": (wiring.cm_runner, {"CM_BUSINESS_NUMBER": "31612345678"}),
    "dialog360": (wiring.dialog360_runner, {"DIALOG360_CLIENT_ID": "c1"}),
    "collector": (wiring.collector_runner, {}),
}


@pytest.fixture(scope="module")
def moto() -> Iterator[None]:
    with moto_aws():
        yield


@pytest.fixture
def world(moto: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeliveryAws]:
    world = DeliveryAws.create()
    for name, value in {
        "TABLE_NAME": world.table,
        "DELIVERY_QUEUE_URL": world.queue_url,
        "DELIVERY_DLQ_URL": world.dlq_url,
    }.items():
        monkeypatch.setenv(name, value)
    reset()
    yield world
    reset()
    world.drop()


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_a_runner_parks_an_undeliverable_message_in_the_configured_dlq_under_its_name(
    name: str, world: DeliveryAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory, variables = RUNNERS[name]
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)

    runner = factory()
    result = runner.process(world.records("not json"))

    assert result.counts == {"parked": 1}
    [message] = world.sqs.receive_message(QueueUrl=world.dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert message["MessageAttributes"]["source"]["StringValue"] == f"{name}_forwarder"
    assert message["MessageAttributes"]["reason"]["StringValue"] == f"{name}: the message is not JSON"
    assert factory() is runner


@pytest.mark.parametrize(("name", "missing"), [("wax", "WAX_BASE_URL"), ("meta", "META_DATASET_ID")])
def test_a_runner_without_its_required_setting_is_refused_naming_it(
    name: str, missing: str, world: DeliveryAws
) -> None:
    with pytest.raises(ValidationError, match=missing):
        RUNNERS[name][0]()


def test_the_rules_runner_refuses_conversion_rules_that_are_not_a_list(
    world: DeliveryAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("META_QUEUE_URL", world.queue_url)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", world.dlq_url)
    monkeypatch.setenv("CONVERSION_RULES", '{"name": "won"}')

    with pytest.raises(ValueError, match="must be a JSON list"):
        wiring.rules_runner()


def test_the_rules_runner_refuses_an_unreadable_event_for_good_rather_than_retrying_it(
    world: DeliveryAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("META_QUEUE_URL", world.queue_url)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", world.dlq_url)

    runner = wiring.rules_runner()

    with pytest.raises(PermanentFailure, match=r"^conversion_rules: "):
        runner.apply("not json")
    assert world.visible() == []
