"""forwarding.rules_runner: the ConversionRulesFunction's consumer with the table and queues in moto:
which ad click a rule's conversion is credited to, the conversions queued ten per call, the events
parked for good and the ones retried (the capture-to-Meta flow is tests/integration/test_meta.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.cfn import create_table, load_template
from tests.support.lambdas import sqs_event
from wa_conversions.deadletter import DeadLetterQueue
from wa_conversions.errors import PermanentFailure
from wa_conversions.forwarding.rules import parse_rules
from wa_conversions.forwarding.rules_runner import RulesRunner
from wa_conversions.models.domain import AdReferral
from wa_conversions.store.capture import CaptureRepository

TABLE = "rules-table"
CONTACT = "5215512345678"
NOW = 1_764_500_000
RULES = parse_rules(
    json.dumps(
        [{"name": "won", "event": "QualifiedLead", "capture": "chat.resolved"}]
        + [
            {"name": f"tag-{i}", "event": "LeadSubmitted", "capture": "chat.tagged", "tag": "t"}
            for i in range(12)
        ]
    )
)


@dataclass
class World:
    runner: RulesRunner
    capture: CaptureRepository
    sqs: Any
    meta_url: str
    dlq_url: str

    def click(self, at: int, clid: str | None) -> None:
        referral = AdReferral(clid, "120226305854810726", "ad", "https://fb.me/x", "Chat", None, "image")
        self.capture.record_referral(
            contact_key=CONTACT, referral=referral, message_id=f"wamid.{at}", timestamp=at, channel="whatsapp"
        )

    def queued(self, url: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(
            QueueUrl=url or self.meta_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", []):
            found.extend(batch)
            for message in batch:
                self.sqs.delete_message(QueueUrl=url or self.meta_url, ReceiptHandle=message["ReceiptHandle"])
        return found


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        create_table(dynamodb, load_template(), "Table", TABLE)
        sqs = boto3.client("sqs")
        meta_url = sqs.create_queue(QueueName="meta")["QueueUrl"]
        dlq_url = sqs.create_queue(QueueName="rules-dlq")["QueueUrl"]
        capture = CaptureRepository(dynamodb, TABLE)
        runner = RulesRunner(RULES, capture, sqs, meta_url, DeadLetterQueue(sqs, dlq_url, "conversion_rules"))
        yield World(runner, capture, sqs, meta_url, dlq_url)


def bus_body(name: str, timestamp: str = "2025-11-30T10:53:20.000Z", **properties: Any) -> str:
    detail = {"event": name, "timestamp": timestamp, "properties": {"contactKey": CONTACT, **properties}}
    return json.dumps({"version": "0", "detail-type": name, "source": "wa-conversions", "detail": detail})


def test_the_newest_ad_click_is_the_referral_and_organic_messages_after_it_do_not_count(world: World) -> None:
    world.click(NOW - 7200, "CLID-OLD")
    world.click(NOW - 3600, "CLID-NEW")
    world.click(NOW - 60, None)  # a referral without a click id (an organic post, say)

    referral = world.runner.referral_of(CONTACT)

    assert referral is not None
    assert (referral["ctwa_clid"], referral["received_at"]) == ("CLID-NEW", NOW - 3600)


def test_a_contact_without_an_ad_click_has_no_referral(world: World) -> None:
    world.click(NOW - 60, None)

    assert world.runner.referral_of(CONTACT) is None
    assert world.runner.referral_of("19995550100") is None


def test_a_matched_event_queues_its_conversion_credited_to_the_contacts_click(world: World) -> None:
    world.click(NOW - 3600, "CLID-7")

    assert world.runner.apply(bus_body("chat.resolved")) == 1

    [message] = world.queued()
    properties = json.loads(message["Body"])["detail"]["properties"]
    assert properties["eventId"] == f"rule:won:{CONTACT}:CLID-7"
    assert properties["attribution"]["status"] == "attributed"


def test_more_than_ten_conversions_are_queued_ten_per_call(world: World) -> None:
    calls: list[int] = []
    send_batch = world.sqs.send_message_batch

    def counted(**kwargs: Any) -> Any:
        calls.append(len(kwargs["Entries"]))
        return send_batch(**kwargs)

    world.runner.sqs = type("CountingSqs", (), {"send_message_batch": staticmethod(counted)})()  # type: ignore[assignment]

    assert world.runner.apply(bus_body("chat.tagged", tags=["t"])) == 12

    assert calls == [10, 2]
    ids = {json.loads(m["Body"])["detail"]["properties"]["ruleName"] for m in world.queued()}
    assert ids == {f"tag-{i}" for i in range(12)}


def test_an_event_no_rule_matches_queues_nothing(world: World) -> None:
    assert world.runner.apply(bus_body("chat.assigned")) == 0
    assert world.queued() == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "conversion_rules: "),
        ('["a list"]', "conversion_rules: not an EventBridge event with a detail object"),
        ('{"detail": "text"}', "conversion_rules: not an EventBridge event with a detail object"),
        (
            bus_body("chat.resolved", timestamp="yesterday"),
            "conversion_rules: the event's timestamp 'yesterday'",
        ),
    ],
)
def test_an_event_that_can_never_be_read_fails_for_good_with_the_reason(
    world: World, body: str, reason: str
) -> None:
    with pytest.raises(PermanentFailure) as raised:
        world.runner.apply(body)

    assert raised.value.reason.startswith(reason)


def test_a_conversion_sqs_did_not_take_fails_the_event_to_be_retried(world: World) -> None:
    class Refusing:
        def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
            entries = kwargs["Entries"]
            return {
                "Successful": [],
                "Failed": [{"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in entries],
            }

    world.runner.sqs = Refusing()  # type: ignore[assignment]

    with pytest.raises(RuntimeError, match=r"^1 conversions not queued$"):
        world.runner.apply(bus_body("chat.resolved"))


def test_a_batch_parks_the_unreadable_event_and_queues_the_others(world: World) -> None:
    world.click(NOW - 3600, "CLID-9")
    event = sqs_event([bus_body("chat.resolved"), bus_body("chat.resolved", timestamp="soon")])

    assert world.runner.handle(event) == {"batchItemFailures": []}

    assert [json.loads(m["Body"])["detail"]["properties"]["ctwaClid"] for m in world.queued()] == ["CLID-9"]
    [parked] = world.queued(world.dlq_url)
    assert parked["MessageAttributes"]["source"]["StringValue"] == "conversion_rules"
    assert "'soon' is not ISO 8601" in parked["MessageAttributes"]["reason"]["StringValue"]


def test_a_batch_reports_the_event_whose_conversions_were_not_queued(world: World) -> None:
    world.runner.meta_queue_url = world.meta_url + "-deleted"
    event = sqs_event([bus_body("chat.resolved"), bus_body("chat.assigned")])

    response = world.runner.handle(event)

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert world.queued(world.dlq_url) == []
