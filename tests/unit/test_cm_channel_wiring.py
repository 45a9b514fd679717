"""The CM.com channel's objects as its functions build them from their settings (cm_channel.wiring),
against moto, with respx as CM.com: the actions API queues its events on the configured queue; the
events runner posts them to the configured endpoint with the product token from SSM, records the
read-marking, sends a redelivered event only once, and parks events while no business number is set.
Either refuses a configuration without its queues, naming the setting."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import httpx
import pytest
import respx
from pydantic import ValidationError

from tests.support.delivery import DeliveryAws, moto_aws
from wa_conversions import reset
from wa_conversions.cm_channel.commands import EventCommand, EventType
from wa_conversions.cm_channel.wiring import actions, events_runner
from wa_conversions.models.domain import ContactRef
from wa_conversions.store.capture import CaptureRepository

PREFIX = "/wa-conversions-cm-wiring"
EVENT_URL = "https://cm.test/v1.0/event"
TOKEN = "00000000-0000-4000-8000-000000000000"
BUSINESS = "31698765432"
PHONE = "31612345678"
WAMID = "wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQTdCMjBGQjM0RjlGNEUyRkQ1QgA="


@pytest.fixture(scope="module")
def moto() -> Iterator[None]:
    with moto_aws():
        boto3.client("ssm").put_parameter(Name=f"{PREFIX}/cm-product-token", Value=TOKEN, Type="SecureString")
        yield


@pytest.fixture
def aws(moto: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeliveryAws]:
    """A fresh table and queues named by the functions' settings, nothing built yet."""
    created = DeliveryAws.create()
    for name, value in {
        "TABLE_NAME": created.table,
        "CM_EVENTS_QUEUE_URL": created.queue_url,
        "DELIVERY_QUEUE_URL": created.queue_url,
        "DELIVERY_DLQ_URL": created.dlq_url,
        "CM_EVENT_URL": EVENT_URL,
        "CM_BUSINESS_NUMBER": BUSINESS,
        "PARAMETER_PREFIX": PREFIX,
    }.items():
        monkeypatch.setenv(name, value)
    reset()
    yield created
    reset()
    created.drop()


def a_cm_message(aws: DeliveryAws) -> None:
    """A contact who wrote just now, and its inbound CM.com message with its wamid."""
    capture = CaptureRepository(aws.dynamodb, aws.table)
    now = int(time.time())
    capture.upsert_contact(ContactRef(phone=PHONE), PHONE, first_seen=now, last_inbound=now, update_key="u1")
    capture.record_inbound_message(
        message_id=WAMID,
        contact_key=PHONE,
        message_type="text",
        raw_type="text",
        timestamp=now,
        channel="cm",
        phone_number_id=None,
        has_referral=False,
        expires_at=now + 86_400,
    )


def mark_as_read() -> str:
    return EventCommand(type=EventType.MARK_AS_READ, phone=PHONE, message_id=WAMID).model_dump_json()


# -- the actions API --------------------------------------------------------------------------------


def test_the_actions_api_queues_its_events_on_the_configured_queue(aws: DeliveryAws) -> None:
    a_cm_message(aws)

    result = actions().block(PHONE)

    [body] = aws.visible()
    generation = (CaptureRepository(aws.dynamodb, aws.table).get_contact(PHONE) or {})["block_generation"]
    assert result.queued is True
    assert EventCommand.model_validate_json(body) == EventCommand(
        type=EventType.BLOCK, phone=PHONE, generation=generation
    )


def test_the_actions_are_built_once_per_execution_environment(aws: DeliveryAws) -> None:
    first = actions()
    assert actions() is first
    reset()
    assert actions() is not first


def test_the_actions_api_refuses_a_configuration_without_its_queue(
    aws: DeliveryAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CM_EVENTS_QUEUE_URL")
    with pytest.raises(ValidationError, match="CM_EVENTS_QUEUE_URL"):
        actions()


# -- the events runner ------------------------------------------------------------------------------


@respx.mock
def test_the_events_runner_posts_to_the_configured_endpoint_with_the_token_from_ssm(
    aws: DeliveryAws,
) -> None:
    route = respx.post(EVENT_URL).mock(return_value=httpx.Response(200, json={"status": "accepted"}))
    a_cm_message(aws)

    response = events_runner().handle({"Records": aws.records(mark_as_read())})

    assert response == {"batchItemFailures": []}
    request = route.calls.last.request
    assert request.headers["X-CM-PRODUCTTOKEN"] == TOKEN
    assert json.loads(request.content)["from"] == {"number": f"00{BUSINESS}"}
    message = CaptureRepository(aws.dynamodb, aws.table).get_message(WAMID) or {}
    assert message.get("read_marked_at") is not None


@respx.mock
def test_a_redelivered_event_is_sent_to_cm_com_only_once(aws: DeliveryAws) -> None:
    route = respx.post(EVENT_URL).mock(return_value=httpx.Response(200, json={"status": "accepted"}))
    a_cm_message(aws)
    runner = events_runner()

    runner.handle({"Records": aws.records(mark_as_read())})
    runner.handle({"Records": aws.records(mark_as_read())})

    assert route.call_count == 1


@respx.mock
def test_without_a_business_number_the_event_is_parked_with_the_reason_and_nothing_sent(
    aws: DeliveryAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = respx.post(EVENT_URL).mock(return_value=httpx.Response(200))
    monkeypatch.delenv("CM_BUSINESS_NUMBER")

    events_runner().handle({"Records": aws.records(mark_as_read())})

    [(body, reason)] = aws.parked()
    assert json.loads(body)["message_id"] == WAMID
    assert "CmBusinessNumber" in reason
    assert route.call_count == 0


@pytest.mark.parametrize("missing", ["DELIVERY_QUEUE_URL", "DELIVERY_DLQ_URL", "TABLE_NAME"])
def test_the_events_runner_refuses_a_configuration_without_its_queues_or_table(
    aws: DeliveryAws, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.delenv(missing)
    with pytest.raises(ValidationError, match=missing):
        events_runner()
