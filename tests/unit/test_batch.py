"""The one poison-message policy (wa_conversions.batch): a permanent failure is parked in the DLQ at
once with its reason and counted done, any other failure is left to the queue, and each failed record
is logged once without its text."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from moto import mock_aws

from wa_conversions import batch
from wa_conversions.deadletter import DeadLetterQueue
from wa_conversions.errors import PermanentFailure

SECRET = "4915112345678 secret text"


def record(message_id: str, body: str, **attributes: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "0"},
        "messageAttributes": {
            name: {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}
            for name, value in attributes.items()
        },
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:queue",
        "awsRegion": "us-east-1",
    }


def handler(seen: list[str]) -> batch.RecordHandler:
    """`bad…` bodies can never succeed, `flaky…` ones fail for now, the others are processed."""

    def handle(item: SQSRecord) -> None:
        if item.body.startswith("bad"):
            raise PermanentFailure(f"not a thing: {item.body}")
        if item.body.startswith("flaky"):
            raise ConnectionError(f"timed out reading {item.body}")
        seen.append(item.body)

    return handle


@pytest.fixture
def dlq(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sqs = boto3.client("sqs")
        yield sqs, sqs.create_queue(QueueName="consumer-dlq")["QueueUrl"]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    output = io.StringIO()
    stream = logging.StreamHandler(output)
    stream.setFormatter(batch.logger.registered_formatter)
    std_logger = logging.getLogger(batch.logger.service)
    std_logger.addHandler(stream)
    try:
        yield output
    finally:
        std_logger.removeHandler(stream)


def parked(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    return messages


def lines(output: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.getvalue().splitlines() if line.strip()]


def test_a_permanent_failure_is_parked_at_once_with_its_reason_and_counted_done(
    dlq: tuple[Any, str], log_lines: io.StringIO
) -> None:
    sqs, url = dlq
    queue = DeadLetterQueue(sqs, url, "consumer")

    response = batch.process_batch(
        {"Records": [record("m-1", f"bad {SECRET}", provider="cm")]},
        None,
        handler([]),
        dead_letters=lambda: queue,
    )

    assert response == {"batchItemFailures": []}
    [message] = parked(sqs, url)
    assert message["Body"] == f"bad {SECRET}"
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["reason"] == f"not a thing: bad {SECRET}"
    # the record's own attributes go with it, so a redrive reads it as it was first read
    assert attributes["provider"] == "cm" and attributes["source"] == "consumer"
    [line] = lines(log_lines)
    assert (line["message"], line["message_id"], line["error"]) == (
        "Record parked in the DLQ",
        "m-1",
        "PermanentFailure",
    )
    assert "4915112345678" not in log_lines.getvalue() and "secret" not in log_lines.getvalue()


def test_any_other_failure_is_left_to_the_queue_and_logged_once_without_its_text(
    dlq: tuple[Any, str], log_lines: io.StringIO
) -> None:
    sqs, url = dlq
    queue = DeadLetterQueue(sqs, url, "consumer")

    response = batch.process_batch(
        {"Records": [record("m-2", f"flaky {SECRET}")]}, None, handler([]), dead_letters=lambda: queue
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert parked(sqs, url) == []
    [line] = lines(log_lines)
    assert line["message"] == "Record not processed; SQS will deliver it again"
    assert (line["message_id"], line["error"], line["receive_count"]) == ("m-2", "ConnectionError", 2)
    assert "4915112345678" not in log_lines.getvalue() and "secret" not in log_lines.getvalue()


def test_in_a_mixed_batch_the_good_records_are_processed_and_each_bad_one_settled_its_way(
    dlq: tuple[Any, str],
) -> None:
    sqs, url = dlq
    queue = DeadLetterQueue(sqs, url, "consumer")
    seen: list[str] = []
    records = [
        record("ok-1", "good 1"),
        record("bad-1", "bad 1"),
        record("flaky-1", "flaky 1"),
        record("ok-2", "good 2"),
        record("bad-2", "bad 2"),
    ]

    response = batch.process_batch({"Records": records}, None, handler(seen), dead_letters=lambda: queue)

    assert seen == ["good 1", "good 2"]
    assert response == {"batchItemFailures": [{"itemIdentifier": "flaky-1"}]}
    assert sorted(m["Body"] for m in parked(sqs, url)) == ["bad 1", "bad 2"]


def test_a_failure_naming_the_part_to_park_parks_that_part_with_its_attributes(
    dlq: tuple[Any, str],
) -> None:
    sqs, url = dlq
    queue = DeadLetterQueue(sqs, url, "consumer")

    def handle(item: SQSRecord) -> None:
        raise PermanentFailure("two updates not valid", body='["part"]', attributes={"provider": "twilio"})

    batch.process_batch(
        {"Records": [record("m-3", "whole", provider="meta")]}, None, handle, dead_letters=lambda: queue
    )

    [message] = parked(sqs, url)
    assert message["Body"] == '["part"]'
    assert message["MessageAttributes"]["provider"]["StringValue"] == "twilio"


def test_without_a_dlq_a_permanent_failure_is_left_to_the_queues_redrive() -> None:
    response = batch.process_batch(
        {"Records": [record("m-4", "bad 4")]}, None, handler([]), dead_letters=lambda: None
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-4"}]}


def test_a_record_that_cannot_be_parked_fails_and_is_not_lost(
    dlq: tuple[Any, str], log_lines: io.StringIO
) -> None:
    sqs, _ = dlq
    gone = DeadLetterQueue(sqs, "https://sqs.us-east-1.amazonaws.com/123456789012/no-such-dlq", "consumer")

    response = batch.process_batch(
        {"Records": [record("m-5", "bad 5")]}, None, handler([]), dead_letters=lambda: gone
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-5"}]}
    [line] = lines(log_lines)
    assert line["message"] == "Record not processed; SQS will deliver it again"
    assert (line["message_id"], line["error"]) == ("m-5", "QueueDoesNotExist")
    assert line["error_code"] == "AWS.SimpleQueueService.NonExistentQueue"
