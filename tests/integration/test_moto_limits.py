"""The local stack's moto refuses what AWS refuses: SQS messages and batches over 1 MiB in UTF-8 bytes
(attributes included), characters outside SQS's set, and PutEvents calls over 256 KiB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import moto_limits
from devstack.motoserver import ProcessMotoServer

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws(), moto_limits.enforced():
        sqs = boto3.client("sqs")
        yield {
            "sqs": sqs,
            "events": boto3.client("events"),
            "queue": sqs.create_queue(QueueName="q")["QueueUrl"],
        }


def code_of(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


@pytest.mark.parametrize("character", ["\x00", "\x1f", "\ud800", "\ufffe", "\uffff"])
def test_characters_sqs_refuses_are_refused(aws: dict[str, Any], character: str) -> None:
    with pytest.raises(ClientError) as refused:
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=f"text {character}")
    assert code_of(refused) == "InvalidMessageContents"
    with pytest.raises(ClientError):
        aws["sqs"].send_message_batch(
            QueueUrl=aws["queue"],
            Entries=[{"Id": "0", "MessageBody": "fine"}, {"Id": "1", "MessageBody": character}],
        )
    assert "Messages" not in aws["sqs"].receive_message(QueueUrl=aws["queue"])  # nothing of the batch went


def test_sizes_are_counted_in_bytes_with_the_attributes(aws: dict[str, Any]) -> None:
    attributes = {"provider": {"DataType": "String", "StringValue": "cm"}}
    fits = "é" * ((1_048_576 - 16) // 2)
    aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=fits, MessageAttributes=attributes)
    with pytest.raises(ClientError) as refused:
        aws["sqs"].send_message(QueueUrl=aws["queue"], MessageBody=fits + "é", MessageAttributes=attributes)
    assert code_of(refused) == "InvalidParameterValue"
    # Six messages of 200,000 bytes but 100,000 characters each: over 1 MiB for SQS, not for moto.
    entries = [{"Id": str(i), "MessageBody": "é" * 100_000} for i in range(6)]
    with pytest.raises(ClientError) as too_long:
        aws["sqs"].send_message_batch(QueueUrl=aws["queue"], Entries=entries)
    assert "BatchRequestTooLong" in code_of(too_long)
    assert aws["sqs"].send_message_batch(QueueUrl=aws["queue"], Entries=entries[:5])["Successful"]


def test_put_events_over_256_kib_in_all_is_refused(aws: dict[str, Any]) -> None:
    def entry(characters: int) -> dict[str, str]:
        return {
            "Source": "s",
            "DetailType": "d",
            "Detail": json.dumps({"a": "é" * characters}, ensure_ascii=False),
        }

    with pytest.raises(ClientError) as refused:
        aws["events"].put_events(Entries=[entry(45_000)] * 3)  # 270 kB in bytes, 135,000 characters
    assert code_of(refused) == "ValidationException"
    assert aws["events"].put_events(Entries=[entry(45_000)] * 2)["FailedEntryCount"] == 0


def test_the_local_stack_s_moto_server_enforces_them() -> None:
    server = ProcessMotoServer("127.0.0.1")
    try:
        client = boto3.client(
            "sqs",
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        url = client.create_queue(QueueName="q")["QueueUrl"]
        with pytest.raises(ClientError) as refused:
            client.send_message(QueueUrl=url, MessageBody="lone \ud800")
        assert code_of(refused) == "InvalidMessageContents"
    finally:
        server.stop()
