"""The CRM intake as the capture API builds it (analytics.wiring.track_intake), against moto: a phone
the CRM gives merges a contact known by user id alone and announces the merge on the bus before the
item's own event; an email follows the person to the contact it lives in; DynamoDB failing is a
PublishError the client retries on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.cfn import create_table, load_template
from wa_conversions import reset
from wa_conversions.analytics.wiring import track_intake
from wa_conversions.errors import PublishError
from wa_conversions.models.domain import ContactRef
from wa_conversions.models.events import EVENT_SOURCE
from wa_conversions.models.retention import Retention
from wa_conversions.store import keys
from wa_conversions.store.capture import CaptureRepository

TABLE = "wa-conversions-table"
BUS = "wa-conversions-events"
USER = "US.13491208655302741918"
PHONE = "16505551234"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
TEMPLATE = load_template()


@pytest.fixture(scope="module")
def bus_queue() -> Iterator[str]:
    """The bus the capture API publishes to, and a queue seeing every event on it (one moto per file)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "TABLE_NAME": TABLE,
            "EVENT_BUS_NAME": BUS,
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            events, sqs = boto3.client("events"), boto3.client("sqs")
            events.create_event_bus(Name=BUS)
            url = sqs.create_queue(QueueName="bus-observer")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            pattern = json.dumps({"source": [EVENT_SOURCE]})
            events.put_rule(Name="all", EventBusName=BUS, EventPattern=pattern)
            events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "observer", "Arn": arn}])
            yield url


@pytest.fixture
def aws(bus_queue: str) -> Iterator[str]:
    """A fresh table, an empty observer queue and nothing built yet, as a new execution environment."""
    dynamodb = boto3.client("dynamodb")
    if TABLE in dynamodb.list_tables()["TableNames"]:
        dynamodb.delete_table(TableName=TABLE)
    create_table(dynamodb, TEMPLATE, "Table", TABLE)
    on_the_bus(bus_queue)  # what an earlier test published
    reset()
    yield bus_queue
    reset()


def on_the_bus(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    seen: list[dict[str, Any]] = []
    while received := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in received:
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def crm_update(**properties: str) -> dict[str, Any]:
    return {
        "batch": [
            {
                "type": "track",
                "event": "contact.updated",
                "userId": USER,
                "messageId": "crm-update-1",
                "timestamp": "2026-06-01T10:00:00Z",
                "context": {"channel": "whatsapp"},
                "properties": properties,
            }
        ]
    }


def a_contact_known_by_user_id_alone() -> CaptureRepository:
    contacts = CaptureRepository(boto3.client("dynamodb"), TABLE, retention=Retention())
    contact = ContactRef(user_id=USER, username="ana")
    [key] = contacts.resolve_contact_keys([contact]).values()
    assert key == f"uid:{USER}"
    contacts.upsert_contact(
        contact, key, first_seen=1_780_000_000, last_inbound=1_780_000_000, update_key="w1"
    )
    return contacts


def emails_of(contact_key: str) -> list[str]:
    found = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    return [
        item["pk"]["S"]
        for item in found
        if item.get("item_type", {}).get("S") == "contact_email" and item["contact_key"]["S"] == contact_key
    ]


def test_a_crm_phone_merges_the_user_id_contact_and_announces_it_first(aws: str) -> None:
    contacts = a_contact_known_by_user_id_alone()

    result = track_intake().accept(crm_update(phone="+1 (650) 555-1234"), now=NOW)

    assert (result.accepted, result.errors) == (1, [])
    bus = on_the_bus(aws)
    assert [e["detail-type"] for e in bus] == ["contact.merged", "contact.updated"]
    assert bus[0]["detail"]["properties"] == {"contactKey": PHONE, "mergedFrom": f"uid:{USER}"}
    assert contacts.contact_key_of_user(USER) == PHONE
    assert (contacts.get_contact(f"uid:{USER}") or {}).get("merge_announced") is True


def test_a_crm_email_is_kept_under_the_contact_the_person_lives_in(aws: str) -> None:
    a_contact_known_by_user_id_alone()
    track_intake().accept(crm_update(phone=f"+{PHONE}"), now=NOW)

    track_intake().accept(crm_update(email=" Ana@Example.com"), now=NOW)

    assert emails_of(PHONE) == [keys.email_pk("Ana@Example.com")]
    assert emails_of(f"uid:{USER}") == []


def test_an_email_for_a_contact_never_seen_is_kept_under_its_own_key(aws: str) -> None:
    track_intake().accept(crm_update(email="ana@example.com"), now=NOW)
    assert emails_of(f"uid:{USER}") == [keys.email_pk("ana@example.com")]


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"phone": f"+{PHONE}"}, "contact phones not stored"),
        ({"email": "a@b.co"}, "contact emails not stored"),
    ],
)
def test_dynamodb_failing_is_a_publish_error_and_nothing_is_published(
    aws: str, properties: dict[str, str], message: str
) -> None:
    boto3.client("dynamodb").delete_table(TableName=TABLE)
    with pytest.raises(PublishError, match=message) as raised:
        track_intake().accept(crm_update(**properties), now=NOW)
    assert raised.value.__cause__ is not None
    assert on_the_bus(aws) == []
