"""The local stack's SQS pollers batch as Lambda's event source mappings do: a batching window gathers
past the 10 messages one receive returns, up to the batch size, and never past 6 MB of payload."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.pollers import BATCH_PAYLOAD_LIMIT, Activity, PollerConfig, QueuePoller
from devstack.runtime import Invocation

REGION = "us-east-1"


class Recorder:
    """The function the poller invokes: keeps each event's records, answers success."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, function: str, event: Any) -> Invocation:
        with self.lock:
            self.batches.append(event["Records"])
        return Invocation(function, "req", True, None)

    def received(self) -> int:
        with self.lock:
            return sum(len(batch) for batch in self.batches)


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def fill(sqs: Any, url: str, count: int, body: str = "{}") -> None:
    if len(body) > 100_000:  # a batch request is at most 1 MiB
        for _ in range(count):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        return
    for start in range(0, count, 10):
        entries = [{"Id": str(i), "MessageBody": body} for i in range(start, min(start + 10, count))]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def drain(sqs: Any, url: str, arn: str, count: int, **config: Any) -> list[list[dict[str, Any]]]:
    recorder = Recorder()
    poller = QueuePoller(
        PollerConfig(function="Fn", queue_url=url, queue_arn=arn, region=REGION, label="test", **config),
        sqs,
        recorder,
        Activity(),
    )
    poller.start()
    deadline = time.monotonic() + 20
    while recorder.received() < count and time.monotonic() < deadline:
        time.sleep(0.05)
    poller.stop()
    poller.join(5)
    assert recorder.received() == count
    return recorder.batches


def test_a_batching_window_gathers_one_invocation_past_ten_messages(sqs: Any) -> None:
    url, arn = queue(sqs, "windowed")
    fill(sqs, url, 35)

    batches = drain(sqs, url, arn, 35, batch_size=1000, batching_window_seconds=1.0)

    assert [len(batch) for batch in batches] == [35]
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )


def test_the_batch_size_ends_a_window_early(sqs: Any) -> None:
    url, arn = queue(sqs, "sized")
    fill(sqs, url, 30)

    batches = drain(sqs, url, arn, 30, batch_size=12, batching_window_seconds=2.0)

    assert sorted(len(batch) for batch in batches) == [6, 12, 12]


def test_without_a_window_a_batch_is_what_one_receive_returns(sqs: Any) -> None:
    url, arn = queue(sqs, "unwindowed")
    fill(sqs, url, 25)

    batches = drain(sqs, url, arn, 25, batch_size=1000)

    assert max(len(batch) for batch in batches) <= 10


def test_a_window_never_gathers_past_lambdas_payload_limit(sqs: Any) -> None:
    url, arn = queue(sqs, "heavy")
    body = "x" * (250 * 1024)
    fill(sqs, url, 30, body)

    batches = drain(sqs, url, arn, 30, batch_size=1000, batching_window_seconds=2.0)

    assert len(batches) >= 2
    assert all(sum(len(r["body"]) for r in batch) <= BATCH_PAYLOAD_LIMIT for batch in batches)


def test_a_receive_past_the_payload_limit_is_split_and_nothing_is_lost(sqs: Any) -> None:
    url, arn = queue(sqs, "largest")
    fill(sqs, url, 8, "y" * (1000 * 1024))  # one receive of 8 is 7.8 MiB

    batches = drain(sqs, url, arn, 8, batch_size=10)

    assert len(batches) >= 2
    assert all(sum(len(r["body"]) for r in batch) <= BATCH_PAYLOAD_LIMIT for batch in batches)
