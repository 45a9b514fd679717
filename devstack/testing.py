"""Helpers for tests and demos that look inside a running DevStack's AWS.

Every client is bound to the stack's endpoint explicitly: tests must not set AWS_ENDPOINT_URL in
their own environment, because moto's in-process mock_aws stops intercepting when it is set.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from devstack.stack import DevStack


class AwsHelpers:
    def __init__(self, stack: DevStack) -> None:
        self.stack = stack
        self.sqs: Any = stack.client("sqs")
        self.dynamodb: Any = stack.client("dynamodb")
        self.events: Any = stack.client("events")
        self.ssm: Any = stack.client("ssm")

    def client(self, service_name: str) -> Any:
        return self.stack.client(service_name)

    def queue_url(self, queue: str) -> str:
        """A queue's URL from its logical id (URLs pass through)."""
        return queue if queue.startswith("http") else self.stack.physical_id(queue)

    def receive_all(self, queue: str, *, delete: bool = True, wait_seconds: int = 0) -> list[dict[str, Any]]:
        """Every message available now, oldest first as far as SQS tells; deleted unless delete=False.

        With delete=False messages stay invisible for their visibility timeout.
        """
        url = self.queue_url(queue)
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            if delete:
                self.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                    ],
                )
            wait_seconds = 0

    def queue_depth(self, queue: str) -> int:
        """Visible plus in-flight plus delayed messages."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url(queue),
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def table_items(self, table: str) -> list[dict[str, Any]]:
        """All items of a table (logical id or name), as plain Python values."""
        name = self.stack.physical_id(table) if table in self.stack.template.get("Resources", {}) else table
        deserializer = TypeDeserializer()
        items: list[dict[str, Any]] = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=name):
            items.extend(
                {key: deserializer.deserialize(value) for key, value in item.items()}
                for item in page["Items"]
            )
        return items

    def secret(self, name: str) -> str:
        value: str = self.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        return value
