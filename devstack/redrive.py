"""`python -m devstack redrive QUEUE`: move the messages of QUEUE's dead-letter queue back to QUEUE.

QUEUE is the template's logical id (WaxQueue, MetaCapiQueue, CmConversionsQueue, Dialog360Queue, ...)
or a queue name or URL. EventBusDLQ, which holds what EventBridge rules could not deliver, is given
itself: each of its events goes back to the queue its TARGET_ARN attribute names, without
EventBridge's error attributes. Against the local stack pass --endpoint (the `aws=` URL `make dev`
prints); without it, boto3's usual configuration applies (AWS_ENDPOINT_URL, or AWS itself). On AWS,
SQS can also do it itself:

    aws sqs start-message-move-task --source-arn <DLQ arn>   # back to the queue it came from

The parking reason is dropped from the message attributes on the way back: the delivery log keeps the
history, and a message that fails again is parked with its new reason.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

DROPPED_ATTRIBUTES = frozenset({"reason", "source", "parked_at"})


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "redrive",
        help="move a dead-letter queue's messages back to its queue",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "queue", help="logical id, name or URL of the source queue (not its DLQ), or EventBusDLQ"
    )
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"), help="AWS endpoint URL")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.set_defaults(run=run)


def find_queue_url(sqs: Any, queue: str) -> str:
    if queue.startswith("http"):
        return queue
    urls: list[str] = sqs.list_queues().get("QueueUrls", [])
    exact = [url for url in urls if url.rsplit("/", 1)[-1] == queue]
    if exact:
        return exact[0]
    # The local stack names queues <stack>-<LogicalId>, CloudFormation <stack>-<LogicalId>-<hash>.
    names = {url: url.rsplit("/", 1)[-1] for url in urls}
    matches = [url for url, name in names.items() if f"-{queue}-" in name or name.endswith(f"-{queue}")]
    if len(matches) != 1:
        raise SystemExit(f"no single queue matches {queue!r}: {matches or urls}")
    return matches[0]


def redrive(sqs: Any, queue_url: str) -> int:
    """Moves every message now in the queue's DLQ back to it; returns how many moved."""
    response = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    attributes = response.get("Attributes", {})  # absent when the queue has none of those asked for
    if "RedrivePolicy" not in attributes:
        return redrive_to_targets(sqs, queue_url)
    dlq_arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    dlq_url = sqs.get_queue_url(QueueName=dlq_arn.rsplit(":", 1)[-1])["QueueUrl"]
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            kept = {
                name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
                for name, value in message.get("MessageAttributes", {}).items()
                if name not in DROPPED_ATTRIBUTES and "StringValue" in value
            }
            request: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": message["Body"]}
            if kept:
                request["MessageAttributes"] = kept
            sqs.send_message(**request)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def redrive_to_targets(sqs: Any, dlq_url: str) -> int:
    """Moves every event of an EventBridge DLQ to the queue its TARGET_ARN names; returns how many."""
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            return moved
        for position, message in enumerate(messages):
            target = message.get("MessageAttributes", {}).get("TARGET_ARN", {}).get("StringValue", "")
            if target.split(":")[2:3] != ["sqs"]:
                for left in messages[position:]:  # visible again at once, untouched
                    sqs.change_message_visibility(
                        QueueUrl=dlq_url, ReceiptHandle=left["ReceiptHandle"], VisibilityTimeout=0
                    )
                raise SystemExit(
                    f"{dlq_url} has no dead-letter queue (RedrivePolicy) and a message of it names no "
                    f"SQS target (TARGET_ARN {target!r}); {moved} moved before it"
                )
            target_url = sqs.get_queue_url(QueueName=target.rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=target_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def run(args: argparse.Namespace) -> int:
    import boto3

    sqs = boto3.client("sqs", endpoint_url=args.endpoint, region_name=args.region)
    queue_url = find_queue_url(sqs, args.queue)
    moved = redrive(sqs, queue_url)
    print(f"moved {moved} message(s) back to {queue_url}")
    return 0
