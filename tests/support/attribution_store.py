"""The attribution store for unit tests: the template's Table in moto, the repositories attribution
reads and capture writes over it, contacts and ad clicks seeded the way capture records them, and a
publisher that keeps what it was given (optionally failing, as a throttled PutEvents would)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws

from tests.support.cfn import create_table, load_template
from wa_conversions.errors import PublishError
from wa_conversions.models.domain import AdReferral, ContactRef
from wa_conversions.models.events import LifecycleEvent
from wa_conversions.store.attribution import AttributionRepository
from wa_conversions.store.capture import CaptureRepository

TABLE = "attribution-unit-table"
_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


class RecordingPublisher:
    """EventPublisher that records every event; `failures` publishes refuse that many times first."""

    def __init__(self, failures: int = 0) -> None:
        self.events: list[LifecycleEvent] = []
        self._failures = failures

    def publish(self, events: Sequence[LifecycleEvent]) -> None:
        if self._failures:
            self._failures -= 1
            raise PublishError("EventBridge rejected 1 of 1 events: ['ThrottlingException']")
        self.events.extend(events)

    def names(self) -> list[str]:
        return [event.event for event in self.events]


@dataclass
class Store:
    client: Any
    attribution: AttributionRepository
    capture: CaptureRepository
    publisher: RecordingPublisher = field(default_factory=RecordingPublisher)

    def contact(
        self, key: str, *, first_seen: int, last_inbound: int | None = None, user_id: str | None = None
    ) -> None:
        """A contact as a WhatsApp message from it leaves it (key: wa_id digits, or "uid:<id>")."""
        phone = key.rpartition("~")[2] if key.rpartition("~")[2].isdigit() else None
        self.capture.upsert_contact(
            ContactRef(phone=phone, user_id=user_id),
            key,
            first_seen=first_seen,
            last_inbound=last_inbound if last_inbound is not None else first_seen,
            update_key=f"seed:{key}",
        )

    def click(self, key: str, at: int, ctwa_clid: str, *, source_id: str = "120226305854810726") -> None:
        """An ad click (a referral on an inbound message) by the contact at `at`."""
        referral = AdReferral(
            ctwa_clid=ctwa_clid,
            source_id=source_id,
            source_type="ad",
            source_url="https://fb.me/3cr4Wqqkv",
            headline="Chat with us",
            body=None,
            media_type="image",
        )
        self.capture.record_referral(
            contact_key=key, referral=referral, message_id=f"wamid.{ctwa_clid}", timestamp=at, channel="meta"
        )

    def fresh(self) -> Store:
        """The same table emptied, with a new publisher: a test's own store, without a new moto."""
        for item in self.client.scan(TableName=TABLE, ProjectionExpression="pk, sk")["Items"]:
            self.client.delete_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]})
        self.publisher = RecordingPublisher()
        return self

    def items(self) -> list[dict[str, Any]]:
        from wa_conversions.store.dynamo import from_item

        return [from_item(item) for item in self.client.scan(TableName=TABLE)["Items"]]


@cache
def _template() -> dict[str, Any]:
    return load_template()


@contextmanager
def attribution_table() -> Iterator[Store]:
    """moto with the template's Table: the store's repositories over it, nothing stored yet."""
    with mock.patch.dict(os.environ, _ENV), mock_aws():
        os.environ.pop("AWS_ENDPOINT_URL", None)
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, _template(), "Table", TABLE)
        yield Store(
            client=client,
            attribution=AttributionRepository(client, TABLE),
            capture=CaptureRepository(client, TABLE),
        )


@pytest.fixture(scope="module")
def attribution_moto() -> Iterator[Store]:
    """One moto table for a test file (starting moto costs more than a few tests)."""
    with attribution_table() as found:
        yield found


@pytest.fixture
def store(attribution_moto: Store) -> Store:
    """That table emptied for this test. A test file takes both fixtures by assignment:
    `attribution_moto = shared.attribution_moto` and `store = shared.store`."""
    return attribution_moto.fresh()
