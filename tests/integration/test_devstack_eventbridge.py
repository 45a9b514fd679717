"""The local stack's EventBridge treats a rule target that fails as AWS does: the publisher's PutEvents
succeeds, the other targets get the event, and the failed one's event goes to its DeadLetterConfig
queue with EventBridge's attributes, or is dropped when there is none (devstack/eventbridge.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack import eventbridge, redrive
from devstack.aws import AwsClients, AwsEndpoint
from devstack.cfn import PseudoParameters, load_template, resolve_parameters
from devstack.motoserver import ProcessMotoServer
from devstack.provision import Provisioner

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    eventbridge.install()
    with mock_aws():
        sqs = boto3.client("sqs")
        events = boto3.client("events")
        events.create_event_bus(Name="bus")
        queues = {}
        for name in ("target", "other", "dlq"):
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            queues[name] = (url, arn)
        yield {"sqs": sqs, "events": events, "queues": queues}


def _rule(aws: dict[str, Any], name: str, targets: list[dict[str, Any]]) -> str:
    arn: str = aws["events"].put_rule(
        Name=name, EventBusName="bus", EventPattern=json.dumps({"source": ["shop"]})
    )["RuleArn"]
    aws["events"].put_targets(Rule=name, EventBusName="bus", Targets=targets)
    return arn


def _publish(aws: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = aws["events"].put_events(
        Entries=[
            {"Source": "shop", "DetailType": "order.paid", "Detail": '{"order": 1}', "EventBusName": "bus"}
        ]
    )
    return response


def _receive(aws: dict[str, Any], queue: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = (
        aws["sqs"]
        .receive_message(
            QueueUrl=aws["queues"][queue][0], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        .get("Messages", [])
    )
    return messages


def test_a_target_that_fails_sends_the_event_to_its_dlq_and_the_publisher_never_sees_it(
    aws: dict[str, Any],
) -> None:
    target_url, target_arn = aws["queues"]["target"]
    rule_arn = _rule(
        aws,
        "to-queues",
        [
            {
                "Id": "broken",
                "Arn": target_arn,
                "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
                "DeadLetterConfig": {"Arn": aws["queues"]["dlq"][1]},
            },
            {"Id": "fine", "Arn": aws["queues"]["other"][1]},
        ],
    )
    aws["sqs"].delete_queue(QueueUrl=target_url)

    response = _publish(aws)

    assert response["FailedEntryCount"] == 0
    assert [json.loads(m["Body"])["detail"] for m in _receive(aws, "other")] == [{"order": 1}]
    (parked,) = _receive(aws, "dlq")
    assert json.loads(parked["Body"])["detail"] == {"order": 1}
    assert json.loads(parked["Body"])["id"] == response["Entries"][0]["EventId"]
    attributes = {name: value["StringValue"] for name, value in parked["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["TARGET_ARN"] == target_arn
    assert attributes["ERROR_CODE"] == "RESOURCE_NOT_FOUND"
    assert attributes["ERROR_MESSAGE"]


def test_without_a_dlq_the_event_is_dropped_and_logged_without_failing_the_publisher(
    aws: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    target_url, target_arn = aws["queues"]["target"]
    _rule(aws, "to-queue", [{"Id": "broken", "Arn": target_arn}])
    aws["sqs"].delete_queue(QueueUrl=target_url)

    with caplog.at_level(logging.ERROR, logger="devstack"):
        response = _publish(aws)

    assert response["FailedEntryCount"] == 0
    assert _receive(aws, "dlq") == []
    assert any("dropped" in record.getMessage() for record in caplog.records)


@pytest.fixture(scope="module")
def provisioned() -> Iterator[tuple[Provisioner, AwsClients]]:
    """The repository's template with the Wax destination on, provisioned as `make dev` does."""
    server = ProcessMotoServer("127.0.0.1")
    try:
        clients = AwsClients(AwsEndpoint(server.url, REGION))
        template = load_template(ROOT / "template.yaml")
        parameters = resolve_parameters(template, {"EnableWaxDestination": "true"})
        provisioner = Provisioner(template, parameters, PseudoParameters("dlq-check", REGION), clients)
        provisioner.provision()
        yield provisioner, clients
    finally:
        server.stop()


def test_the_templates_rules_park_what_their_queue_cannot_take_and_a_redrive_delivers_it_later(
    provisioned: tuple[Provisioner, AwsClients],
) -> None:
    """A forwarder's queue gone: an event for it lands in EventBusDLQ, the analytics queue still gets
    it, and once the queue is back `make redrive QUEUE=EventBusDLQ` hands the event to it."""
    provisioner, clients = provisioned
    wax_arn = provisioner.get_att("WaxQueue", "Arn")
    wax_queue = provisioner.ref("WaxQueue")
    wax_attributes = clients.sqs.get_queue_attributes(QueueUrl=wax_queue, AttributeNames=["All"])[
        "Attributes"
    ]
    clients.sqs.delete_queue(QueueUrl=wax_queue)

    response = clients.events.put_events(
        Entries=[
            {
                "Source": "wa-conversions",
                "DetailType": "conversion.attributed",
                "Detail": json.dumps({"conversion_id": "c-1"}),
                "EventBusName": provisioner.get_att("EventBus", "Name"),
            }
        ]
    )

    assert response["FailedEntryCount"] == 0
    dead_letters = provisioner.ref("EventBusDLQ")
    parked = clients.sqs.receive_message(
        QueueUrl=dead_letters, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
    ).get("Messages", [])
    assert [m["MessageAttributes"]["TARGET_ARN"]["StringValue"] for m in parked] == [wax_arn]
    assert json.loads(parked[0]["Body"])["detail"] == {"conversion_id": "c-1"}
    counted = clients.sqs.receive_message(QueueUrl=provisioner.ref("AnalyticsQueue")).get("Messages", [])
    assert len(counted) == 1

    kept: dict[Any, str] = {
        k: v for k, v in wax_attributes.items() if k in ("VisibilityTimeout", "RedrivePolicy")
    }
    clients.sqs.create_queue(QueueName=wax_arn.rsplit(":", 1)[-1], Attributes=kept)
    assert redrive.redrive(clients.sqs, redrive.find_queue_url(clients.sqs, "EventBusDLQ")) == 1

    (back,) = clients.sqs.receive_message(QueueUrl=wax_queue, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(back["Body"])["detail"] == {"conversion_id": "c-1"}
    assert "MessageAttributes" not in back
    assert clients.sqs.receive_message(QueueUrl=dead_letters).get("Messages", []) == []


def test_the_templates_log_groups_exist_locally_with_their_retention(
    provisioned: tuple[Provisioner, AwsClients],
) -> None:
    provisioner, clients = provisioned
    logs = clients.client("logs")
    groups = {
        group["logGroupName"]: group.get("retentionInDays")
        for page in logs.get_paginator("describe_log_groups").paginate()
        for group in page["logGroups"]
    }

    expected = {provisioner.ref(f"{f}LogGroup") for f in provisioner.logical_ids("AWS::Serverless::Function")}
    expected.add(provisioner.ref("ApiAccessLogGroup"))
    assert "/aws/lambda/dlq-check/WhatsAppWebhookFunction" in expected
    assert {name: groups.get(name) for name in expected} == dict.fromkeys(expected, 30)
