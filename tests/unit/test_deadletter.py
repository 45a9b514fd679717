"""deadletter.DeadLetterQueue in moto: a parked message keeps its body and its own attributes, and
gets why, from where and when; a reason is cut to its limit and never blank; text SQS refuses is
escaped so the message is parked rather than refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.support.delivery import moto_aws
from wa_conversions.deadletter import DLQ_ATTRIBUTES, MAX_REASON_LENGTH, DeadLetterQueue


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    with moto_aws():
        yield boto3.client("sqs")


@pytest.fixture
def queue(sqs: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    url: str = sqs.create_queue(QueueName=f"dlq-{abs(hash(request.node.name))}")["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def parked(sqs: Any, url: str) -> list[dict[str, Any]]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages", []
    )


def attributes_of(message: dict[str, Any]) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}


def test_a_parked_message_keeps_its_body_and_says_why_from_where_and_when(sqs: Any, queue: str) -> None:
    before = datetime.now(UTC)
    DeadLetterQueue(sqs, queue, "orders_processor").park('{"id": 7}', "order has no line items")

    [message] = parked(sqs, queue)
    assert message["Body"] == '{"id": 7}'
    found = attributes_of(message)
    assert set(found) == DLQ_ATTRIBUTES
    assert (found["reason"], found["source"]) == ("order has no line items", "orders_processor")
    parked_at = datetime.fromisoformat(found["parked_at"])
    assert before - timedelta(seconds=1) <= parked_at <= datetime.now(UTC)


def test_the_messages_own_attributes_are_kept_for_a_redrive(sqs: Any, queue: str) -> None:
    DeadLetterQueue(sqs, queue, "capture").park("{}", "bad", attributes={"provider": "twilio"})

    [message] = parked(sqs, queue)
    assert attributes_of(message)["provider"] == "twilio"
    assert attributes_of(message)["source"] == "capture"


def test_a_message_parked_again_has_its_reason_and_source_renewed(sqs: Any, queue: str) -> None:
    old = {"reason": "first failure", "source": "capture", "parked_at": "2020-01-01T00:00:00+00:00"}
    DeadLetterQueue(sqs, queue, "redrive").park("{}", "second failure", attributes=old)

    found = attributes_of(parked(sqs, queue)[0])
    assert (found["reason"], found["source"]) == ("second failure", "redrive")
    assert found["parked_at"] != old["parked_at"]


def test_a_long_reason_is_cut_to_its_limit(sqs: Any, queue: str) -> None:
    DeadLetterQueue(sqs, queue, "x").park("{}", "é" * (MAX_REASON_LENGTH + 500))

    assert attributes_of(parked(sqs, queue)[0])["reason"] == "é" * MAX_REASON_LENGTH


def test_an_empty_reason_is_parked_as_unknown(sqs: Any, queue: str) -> None:
    DeadLetterQueue(sqs, queue, "x").park("{}", "")

    assert attributes_of(parked(sqs, queue)[0])["reason"] == "unknown"


def test_characters_sqs_refuses_are_escaped_and_the_body_reads_back_the_same(sqs: Any, queue: str) -> None:
    body = '{"text": "a\x01b\ufffe"}'  # raw characters, as SQS would refuse them

    DeadLetterQueue(sqs, queue, "x").park(body, f"cannot parse {body}")

    [message] = parked(sqs, queue)
    assert json.loads(message["Body"]) == {"text": "a\x01b\ufffe"}
    assert "\x01" not in attributes_of(message)["reason"]
    assert attributes_of(message)["reason"].startswith("cannot parse ")
