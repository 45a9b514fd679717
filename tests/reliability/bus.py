"""A test-only rule and queue that see every message.received event on the stack's bus, read as they
come (moto's ReceiveMessage walks the whole queue each call, so the queue is kept short)."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from devstack.stack import DevStack
from devstack.testing import AwsHelpers


class BusObserver:
    def __init__(self, stack: DevStack, aws: AwsHelpers) -> None:
        self._aws = aws
        self._bus = stack.physical_id("EventBus")
        suffix = uuid.uuid4().hex[:8]
        self.queue_url: str = aws.sqs.create_queue(QueueName=f"reliability-observer-{suffix}")["QueueUrl"]
        attributes = aws.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.rule = f"reliability-observer-{suffix}"
        pattern = {"source": ["wa-conversions"], "detail-type": ["message.received"]}
        aws.events.put_rule(Name=self.rule, EventBusName=self._bus, EventPattern=json.dumps(pattern))
        target = {"Id": "observer", "Arn": attributes["Attributes"]["QueueArn"]}
        aws.events.put_targets(Rule=self.rule, EventBusName=self._bus, Targets=[target])
        self._seen: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, name="bus-observer", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            # take() waits for a read in progress, so no event is between the queue and the list.
            with self._reading:
                try:
                    found = self._aws.receive_all(self.queue_url, wait_seconds=1)
                except Exception:
                    found = []  # the stack is stopping; take() reads what is left
                with self._lock:
                    self._seen.extend(json.loads(message["Body"]) for message in found)
            self._stop.wait(0.05)  # lets a take() waiting for the lock in

    def take(self) -> list[dict[str, Any]]:
        """Every event seen since the last call."""
        with self._reading:
            left = self._aws.receive_all(self.queue_url)
        with self._lock:
            self._seen.extend(json.loads(message["Body"]) for message in left)
            taken, self._seen = self._seen, []
        return taken

    def close(self) -> None:
        self._stop.set()
        self._reader.join(timeout=5)
        self._aws.events.remove_targets(Rule=self.rule, EventBusName=self._bus, Ids=["observer"])
        self._aws.events.delete_rule(Name=self.rule, EventBusName=self._bus)
