"""The template keeps what it accepts and says what it keeps: no bus event is dropped between a rule and
its queue, every dead-letter queue raises an alarm, and every log has a retention and no personal data."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from devstack.cfn import Evaluator, PseudoParameters, load_template, resolve_parameters

ROOT = Path(__file__).resolve().parents[2]
PSEUDO = PseudoParameters(stack_name="wa-conversions", region="eu-west-1")
ALL_ON = {
    "EnableWaxDestination": "true",
    "EnableMetaDestination": "true",
    "EnableCmConversionsDestination": "true",
    "EnableDialog360Destination": "true",
    "EnableCollectorDestination": "true",
    "AutoMarkAsRead": "true",
}
SETTINGS = pytest.mark.parametrize("overrides", [{}, ALL_ON], ids=["defaults", "everything-on"])


class Symbols:
    def ref(self, logical_id: str) -> Any:
        return f"ref:{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return f"{attribute.lower()}:{logical_id}"


@cache
def _template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _created(overrides: dict[str, str]) -> tuple[Evaluator, dict[str, dict[str, Any]]]:
    """The resources created with these parameters, their properties resolved."""
    template = _template()
    evaluator = Evaluator(template, resolve_parameters(template, overrides), PSEUDO, Symbols())
    resources = {
        logical_id: {**declaration, "Properties": evaluator.resolve(declaration.get("Properties") or {})}
        for logical_id, declaration in template["Resources"].items()
        if evaluator.enabled(declaration)
    }
    return evaluator, resources


def _of_type(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {logical_id: r for logical_id, r in resources.items() if r["Type"] == kind}


def _rule_targets(resources: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(rule, target) of every rule, and of every SAM function event that makes one."""
    targets = [
        (logical_id, target)
        for logical_id, rule in _of_type(resources, "AWS::Events::Rule").items()
        for target in rule["Properties"].get("Targets", [])
    ]
    for logical_id, function in _of_type(resources, "AWS::Serverless::Function").items():
        for name, event in (function["Properties"].get("Events") or {}).items():
            if event["Type"] in ("EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2"):
                targets.append((f"{logical_id}{name}", event["Properties"]))
    return targets


@SETTINGS
def test_every_rule_target_retries_explicitly_then_parks_in_a_dead_letter_queue(
    overrides: dict[str, str],
) -> None:
    _, resources = _created(overrides)
    targets = _rule_targets(resources)

    assert targets
    for rule, target in targets:
        retry = target.get("RetryPolicy") or {}
        assert 0 <= int(retry.get("MaximumRetryAttempts", -1)) <= 185, rule
        assert 60 <= int(retry.get("MaximumEventAgeInSeconds", 0)) <= 86_400, rule
        dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn", "")
        assert dead_letter.startswith("arn:"), f"{rule}: no DeadLetterConfig"
        assert resources[dead_letter.removeprefix("arn:")]["Type"] == "AWS::SQS::Queue", rule


@SETTINGS
def test_each_rule_may_send_to_its_queue_and_to_its_dead_letter_queue_and_no_other_rule_may(
    overrides: dict[str, str],
) -> None:
    """EventBridge needs the queue's own policy (a role does not do for SQS targets), scoped to the rule."""
    _, resources = _created(overrides)
    senders: dict[str, set[str]] = {}
    for policy in _of_type(resources, "AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Principal") != {"Service": "events.amazonaws.com"}:
                continue
            assert statement["Effect"] == "Allow" and statement["Action"] == "sqs:SendMessage"
            source = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
            for queue in policy["Properties"]["Queues"]:
                assert statement["Resource"] == f"arn:{queue.removeprefix('ref:')}"
                senders.setdefault(queue.removeprefix("ref:"), set()).update(
                    source if isinstance(source, list) else [source]
                )

    needed: dict[str, set[str]] = {}
    schedules = {
        f"{f}{n}"
        for f, fn in _of_type(resources, "AWS::Serverless::Function").items()
        for n, e in (fn["Properties"].get("Events") or {}).items()
        if e["Type"] == "ScheduleV2"
    }
    for rule, target in _rule_targets(resources):
        if rule in schedules:
            continue  # EventBridge Scheduler sends with the schedule's role, which SAM grants
        for arn in (target["Arn"], target["DeadLetterConfig"]["Arn"]):
            if arn.startswith("arn:") and resources[arn.removeprefix("arn:")]["Type"] == "AWS::SQS::Queue":
                needed.setdefault(arn.removeprefix("arn:"), set()).add(f"arn:{rule}")
    assert senders == needed


def _dead_letter_queues(resources: dict[str, dict[str, Any]]) -> set[str]:
    queues = {
        queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"].removeprefix("arn:")
        for queue in _of_type(resources, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue["Properties"]
    }
    queues.update(
        target["DeadLetterConfig"]["Arn"].removeprefix("arn:") for _, target in _rule_targets(resources)
    )
    return queues


@SETTINGS
def test_a_message_waiting_in_any_dead_letter_queue_raises_an_alarm(overrides: dict[str, str]) -> None:
    _, resources = _created(overrides)
    watched = {
        dimension["Value"].removeprefix("queuename:")
        for alarm in _of_type(resources, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and alarm["Properties"].get("Threshold") == 1
        and alarm["Properties"].get("AlarmActions") == ["ref:AlarmTopic"]
        for dimension in alarm["Properties"].get("Dimensions", [])
        if dimension["Name"] == "QueueName"
    }

    dead_letter_queues = _dead_letter_queues(resources)

    assert "EventBusDLQ" in dead_letter_queues
    assert dead_letter_queues <= watched


@SETTINGS
def test_every_function_logs_to_a_group_kept_for_the_retention_parameter(overrides: dict[str, str]) -> None:
    _, resources = _created(overrides)
    groups = _of_type(resources, "AWS::Logs::LogGroup")
    retention = _template()["Parameters"]["LogRetentionDays"]

    declared = _template()["Resources"]
    assert all(declared[g]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups)
    used = set()
    for logical_id, function in _of_type(resources, "AWS::Serverless::Function").items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"].removeprefix("ref:")
        assert group in groups, logical_id
        used.add(group)
    assert retention["Default"] in retention["AllowedValues"]
    api = _of_type(resources, "AWS::Serverless::Api")["Api"]
    used.add(api["Properties"]["AccessLogSetting"]["DestinationArn"].removeprefix("arn:"))
    webhooks = _of_type(resources, "AWS::Serverless::HttpApi")["WebhookApi"]
    used.add(webhooks["Properties"]["AccessLogSettings"]["DestinationArn"].removeprefix("arn:"))
    assert used == set(groups)


# Context variables that name the request without the person behind it. Left out on purpose:
# $context.path (holds phones and wamids), $context.identity.* (the caller's IP and user agent).
PII_FREE_VARIABLES = frozenset(
    {
        "requestId",
        "extendedRequestId",
        "requestTime",
        "requestTimeEpoch",
        "httpMethod",
        "resourcePath",
        "resourceId",
        "stage",
        "status",
        "responseLength",
        "integrationLatency",
        "responseLatency",
        "integrationStatus",
        "error.responseType",
        "protocol",
        "routeKey",  # an HTTP API's route template: POST /webhooks/cm, never the path or its query
    }
)


def test_the_api_access_log_names_routes_not_people() -> None:
    _, resources = _created({})
    setting = resources["Api"]["Properties"]["AccessLogSetting"]

    fields = json.loads(setting["Format"])
    variables = set(re.findall(r"\$context\.([A-Za-z.]+)", setting["Format"]))

    assert set(fields) >= {"requestId", "httpMethod", "resourcePath", "status"}
    assert fields["resourcePath"] == "$context.resourcePath"
    assert variables <= PII_FREE_VARIABLES
    assert "$input" not in setting["Format"] and "$request" not in setting["Format"]
    assert resources["Api"]["DependsOn"] == "ApiGatewayAccount"


def test_the_webhook_api_access_log_names_routes_not_people() -> None:
    # the webhooks' HTTP API: the route key, never $context.path (CM.com's token rides in the query)
    _, resources = _created({})
    setting = resources["WebhookApi"]["Properties"]["AccessLogSettings"]

    fields = json.loads(setting["Format"])
    variables = set(re.findall(r"\$context\.([A-Za-z.]+)", setting["Format"]))

    assert set(fields) >= {"requestId", "httpMethod", "routeKey", "status"}
    assert fields["routeKey"] == "$context.routeKey"
    assert variables <= PII_FREE_VARIABLES


@SETTINGS
def test_the_queues_a_packed_webhook_part_goes_through_take_sqs_s_largest_message(
    overrides: dict[str, str],
) -> None:
    # a part is up to 1 MiB (capture/ingest.py PART_BYTES); a queue created before keeps 256 KiB unless set
    from wa_conversions.aws_limits import SQS_MAX_MESSAGE_BYTES
    from wa_conversions.capture.ingest import PART_BYTES

    _, resources = _created(overrides)
    processor = resources["WhatsAppProcessorFunction"]["Properties"]
    # the queue it reads (and re-queues to), that queue's DLQ, and the DLQ it parks a part in
    read = processor["Events"]["Ingest"]["Properties"]["Queue"].removeprefix("arn:")
    parked = processor["Environment"]["Variables"]["DEAD_LETTER_QUEUE_URL"].removeprefix("ref:")
    redrive = resources[read]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"].removeprefix("arn:")

    assert {read, parked, redrive} == {"WhatsAppIngestQueue", "WhatsAppIngestDLQ"}
    assert PART_BYTES < SQS_MAX_MESSAGE_BYTES == 1_048_576
    for queue in (read, parked):
        assert resources[queue]["Properties"]["MaximumMessageSize"] == SQS_MAX_MESSAGE_BYTES


def test_every_webhook_is_routed_on_the_http_api_and_on_the_rest_api_for_old_deployments() -> None:
    _, resources = _created({})
    routes: dict[str, set[tuple[str, str, str]]] = {}
    for logical_id, resource in _of_type(resources, "AWS::Serverless::Function").items():
        for event in (resource["Properties"].get("Events") or {}).values():
            properties = event.get("Properties") or {}
            if event["Type"] in ("Api", "HttpApi") and properties["Path"].startswith("/webhooks/"):
                api = properties.get("ApiId") or properties.get("RestApiId")
                routes.setdefault(logical_id, set()).add((api, properties["Method"], properties["Path"]))
    webhooks = {
        "WhatsAppWebhookFunction": {("GET", "/webhooks/whatsapp"), ("POST", "/webhooks/whatsapp")},
        "CmWebhookFunction": {("POST", "/webhooks/cm")},
        "TwilioWebhookFunction": {("POST", "/webhooks/twilio")},
        "ShopifyWebhookFunction": {("POST", "/webhooks/shopify")},
    }

    assert set(routes) >= set(webhooks)
    for function, keys in webhooks.items():
        assert routes[function] == {(api, *key) for api in ("ref:WebhookApi", "ref:Api") for key in keys}
    # the REST routes keep their per-method throttles, the HTTP API's the same per route
    throttled = {
        setting["ResourcePath"].replace("~1", "/"): setting
        for setting in resources["Api"]["Properties"]["MethodSettings"]
        if setting["HttpMethod"] == "POST"
    }
    http_settings = resources["WebhookApi"]["Properties"]["RouteSettings"]
    limits = _template()["Parameters"]
    sized = (int(limits["WebhookRateLimit"]["Default"]), int(limits["WebhookBurstLimit"]["Default"]))
    for path in ("/webhooks/whatsapp", "/webhooks/cm", "/webhooks/twilio", "/webhooks/shopify"):
        for setting in (throttled[f"/{path}"], http_settings[f"POST {path}"]):
            assert (int(setting["ThrottlingRateLimit"]), int(setting["ThrottlingBurstLimit"])) == sized
