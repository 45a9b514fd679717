"""Analytics through the real handlers against moto: events on the bus (and CRM items through
POST /v1/capture) reach the aggregator via the rule's queue; GET /metrics reads what it counted.

Each metric is checked against the hand-computed figures of tests/support/analytics_history.py, with
the history delivered in order, backwards, and shuffled with every event delivered twice."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.sample_events import proxy_event, read_env
from tests.integration.conftest import assert_every_record_expires
from tests.support import analytics_history as history
from tests.support.cfn import create_table, load_template
from tests.support.lambdas import FakeContext, load_handler, sqs_event
from wa_conversions import reset
from wa_conversions.models.events import LifecycleEvent
from wa_conversions.publishing.eventbridge import EventBridgePublisher

TABLE = "wa-conversions-table"
IDEMPOTENCY_TABLE = "wa-conversions-idempotency"
BUS = "wa-conversions-events"
PREFIX = "/wa-conversions"
RANGE = {"from": history.D1, "to": history.D2}


@dataclass
class AnalyticsHarness:
    queue_url: str
    api_key: str
    handlers: dict[str, Any] = field(default_factory=dict)

    def invoke(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        if name not in self.handlers:
            self.handlers[name] = load_handler(name)
        result: dict[str, Any] = self.handlers[name].lambda_handler(event, FakeContext())
        return result

    def publish(self, document: dict[str, Any]) -> None:
        EventBridgePublisher(boto3.client("events"), BUS).publish([LifecycleEvent.model_validate(document)])

    def capture(self, body: Any, api_key: str | None = "") -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if api_key is not None:
            headers["X-Api-Key"] = api_key or self.api_key
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = self.invoke("capture_api", proxy_event("POST", "/v1/capture", body=raw, headers=headers))
        response["json"] = json.loads(response["body"])
        return response

    def deliver(self, step: history.Step) -> None:
        if step.source == "bus":
            self.publish(step.document)
        else:
            response = self.capture({"batch": [step.document]})
            assert response["statusCode"] == 200, response

    def drain(self, *, redeliver: bool = False) -> None:
        """Play the SQS event source mapping; with redeliver, every batch is handed over twice, as
        SQS may when a visibility timeout runs out."""
        sqs = boto3.client("sqs")
        while received := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            event = sqs_event([m["Body"] for m in received])
            for _ in range(2 if redeliver else 1):
                response = self.invoke("analytics_aggregator", event)
                assert response == {"batchItemFailures": []}, response
            for message in received:
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def metrics(self, query: dict[str, str], api_key: str | None = "") -> dict[str, Any]:
        headers = {} if api_key is None else {"X-Api-Key": api_key or self.api_key}
        response = self.invoke("metrics_api", proxy_event("GET", "/metrics", headers=headers, query=query))
        response["json"] = json.loads(response["body"])
        return response


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnalyticsHarness]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "WaConversionsTest",
        "PARAMETER_PREFIX": PREFIX,
        "TABLE_NAME": TABLE,
        "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
        "EVENT_BUS_NAME": BUS,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        template = load_template()
        dynamodb = boto3.client("dynamodb")
        create_table(dynamodb, template, "Table", TABLE)
        create_table(dynamodb, template, "IdempotencyTable", IDEMPOTENCY_TABLE)
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="analytics")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        rule = template["Resources"]["AnalyticsEventsRule"]["Properties"]
        events = boto3.client("events")
        events.create_event_bus(Name=BUS)
        events.put_rule(Name="analytics", EventBusName=BUS, EventPattern=json.dumps(rule["EventPattern"]))
        events.put_targets(Rule="analytics", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
        env = read_env()
        boto3.client("ssm").put_parameter(
            Name=f"{PREFIX}/api-key", Value=env["API_KEY"], Type="SecureString", Overwrite=True
        )
        reset()
        yield AnalyticsHarness(queue_url=queue_url, api_key=env["API_KEY"])
        try:
            assert_every_record_expires(
                dynamodb, template, {"Table": TABLE, "IdempotencyTable": IDEMPOTENCY_TABLE}
            )
        finally:
            reset()


def metrics_of(harness: AnalyticsHarness) -> dict[str, Any]:
    response = harness.metrics(RANGE)
    assert response["statusCode"] == 200, response
    result: dict[str, Any] = response["json"]
    return result


class TestScriptedHistory:
    def test_in_order(self, harness: AnalyticsHarness) -> None:
        for step in history.HISTORY:
            harness.deliver(step)
        harness.drain()
        history.assert_matches_expected(metrics_of(harness))

    def test_backwards_one_event_at_a_time(self, harness: AnalyticsHarness) -> None:
        # Every read before its sent, every reply before the message it answers.
        for step in reversed(history.HISTORY):
            harness.deliver(step)
            harness.drain()
        history.assert_matches_expected(metrics_of(harness))

    @pytest.mark.parametrize("seed", [3, 11])
    def test_shuffled_with_every_event_twice_and_batches_redelivered(
        self, harness: AnalyticsHarness, seed: int
    ) -> None:
        steps = [*history.HISTORY, *history.HISTORY]
        random.Random(seed).shuffle(steps)
        for index, step in enumerate(steps):
            harness.deliver(step)
            if index % 7 == 0:
                harness.drain(redeliver=True)
        harness.drain(redeliver=True)
        history.assert_matches_expected(metrics_of(harness))

    def test_a_range_holds_only_its_days(self, harness: AnalyticsHarness) -> None:
        for step in history.HISTORY:
            harness.deliver(step)
        harness.drain()
        second_day = harness.metrics({"from": history.D2, "to": history.D2})["json"]
        assert second_day["funnel"] == {"sent": 2, "delivered": 1, "read": 0, "replied": 2}
        assert second_day["new_contacts"] == {history.D2: 1}
        assert second_day["response_time_seconds"] == {"median": 40, "p90": 40, "count": 1}
        assert set(second_day["ads"]) == {history.S2}
        ad = second_day["ads"][history.S2]
        assert (ad["clicks"], ad["conversations"], ad["orders"], ad["revenue"]) == (2, 1, 1, 70.0)


def track(event: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "userId": "+254712345678",
        "timestamp": "2025-06-18T06:30:00.000Z",
        "context": {"channel": "whatsapp"},
        "properties": props,
    }


class TestCaptureApi:
    def test_bad_items_get_their_own_errors_and_good_ones_are_kept(self, harness: AnalyticsHarness) -> None:
        response = harness.capture(
            {
                "batch": [
                    track("message.received", messageId="wamid.x1"),
                    {**track("message.sent"), "userId": "not-a-phone"},
                    track("message.sent"),
                    track("agent.handoff", toMode="robot"),
                    track("coffee.brewed"),
                    {**track("contact.created"), "context": {"channel": "sms"}},
                    "not an object",
                ]
            }
        )
        assert response["statusCode"] == 207
        body = response["json"]
        assert body["accepted"] == 1
        assert [(e["index"], e["error"], e["field"]) for e in body["errors"]] == [
            (1, "validation_error", "userId"),
            (2, "validation_error", "properties.messageId"),
            (3, "validation_error", "properties.toMode"),
            (4, "unsupported_event", "event"),
            (5, "validation_error", "context.channel"),
            (6, "validation_error", None),
        ]
        harness.drain()
        assert metrics_of(harness)["received"] == 1

    def test_the_same_item_twice_is_counted_once(self, harness: AnalyticsHarness) -> None:
        item = track("message.received", messageId="wamid.same")
        with_id = {**track("contact.created"), "messageId": "crm-event-1"}
        assert harness.capture({"batch": [item, item, with_id]})["statusCode"] == 200
        assert (
            harness.capture({"batch": [item, {**with_id, "properties": {"source": "organic"}}]})["statusCode"]
            == 200
        )
        harness.drain()
        metrics = metrics_of(harness)
        assert metrics["received"] == 1
        assert metrics["new_contacts"][history.D1] == 1

    def test_a_batch_without_any_good_item_is_422(self, harness: AnalyticsHarness) -> None:
        response = harness.capture({"batch": [track("message.sent")]})
        assert response["statusCode"] == 422
        assert response["json"]["accepted"] == 0
        assert response["json"]["errors"][0]["field"] == "properties.messageId"

    @pytest.mark.parametrize(
        ("body", "status", "field"),
        [
            (b"{not json", 400, None),
            ({"events": []}, 422, "batch"),
            ({"batch": []}, 422, "batch"),
            ({"batch": [track("contact.created")] * 101}, 422, "batch"),
        ],
    )
    def test_malformed_batches(
        self, harness: AnalyticsHarness, body: Any, status: int, field: str | None
    ) -> None:
        response = harness.capture(body)
        assert response["statusCode"] == status
        assert response["json"].get("field") == field

    def test_future_timestamps_are_refused(self, harness: AnalyticsHarness) -> None:
        item = {**track("contact.created"), "timestamp": "2999-01-01T00:00:00Z"}
        response = harness.capture({"batch": [item]})
        assert response["json"]["errors"][0]["field"] == "timestamp"

    def test_without_the_api_key_nothing_is_accepted(self, harness: AnalyticsHarness) -> None:
        assert harness.capture({"batch": [track("contact.created")]}, api_key=None)["statusCode"] == 401
        assert harness.capture({"batch": [track("contact.created")]}, api_key="guess")["statusCode"] == 401
        harness.drain()
        assert metrics_of(harness)["new_contacts"][history.D1] == 0


class TestMetricsApi:
    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"from": "2025-13-01", "to": "2025-12-31"}, "from"),
            ({"from": "2025-06-18", "to": "yesterday"}, "to"),
            ({"from": "2025-06-19", "to": "2025-06-18"}, "from"),
            ({"from": "2024-01-01", "to": "2025-06-18"}, "to"),
            ({"from": "2025-06-18", "to": "2025-06-19", "granularity": "hour"}, "granularity"),
        ],
    )
    def test_bad_ranges_are_422_naming_the_parameter(
        self, harness: AnalyticsHarness, query: dict[str, str], field: str
    ) -> None:
        response = harness.metrics(query)
        assert response["statusCode"] == 422
        assert response["json"]["error"] == "validation_error"
        assert response["json"]["field"] == field

    def test_a_full_year_is_allowed(self, harness: AnalyticsHarness) -> None:
        response = harness.metrics({"from": "2024-06-19", "to": "2025-06-19"})
        assert response["statusCode"] == 200
        assert len(response["json"]["daily"]) == 366

    def test_no_data_gives_zeros_and_no_rates(self, harness: AnalyticsHarness) -> None:
        body = metrics_of(harness)
        assert body["funnel"] == {"sent": 0, "delivered": 0, "read": 0, "replied": 0}
        assert body["delivery_rate"] is None
        assert body["response_time_seconds"] == {"median": None, "p90": None, "count": 0}
        assert body["new_contacts"] == {history.D1: 0, history.D2: 0}

    def test_the_api_key_is_required(self, harness: AnalyticsHarness) -> None:
        assert harness.metrics(RANGE, api_key=None)["statusCode"] == 401


def test_an_event_that_is_not_a_bus_event_fails_its_record_only(harness: AnalyticsHarness) -> None:
    good = json.dumps({"detail": history.HISTORY[0].document})
    response = harness.invoke("analytics_aggregator", sqs_event([good, "{oops"]))
    assert len(response["batchItemFailures"]) == 1
    assert metrics_of(harness)["new_contacts"][history.D1] == 1


class TestReport:
    def test_the_page_renders_in_chromium_with_its_four_charts(
        self, harness: AnalyticsHarness, tmp_path: Any
    ) -> None:
        from html.parser import HTMLParser

        from tests.support import chromium
        from tools.report import write_report

        for step in history.HISTORY:
            harness.deliver(step)
        harness.drain()
        page = write_report(metrics_of(harness), tmp_path / "index.html")
        html = page.read_text()
        assert "<link" not in html and "src=" not in html and "http" not in html  # self-contained

        class Bars(HTMLParser):
            def __init__(self) -> None:
                super().__init__()
                self.figure: str | None = None
                self.bars: dict[str, list[dict[str, str | None]]] = {}

            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
                found = dict(attrs)
                if tag == "figure":
                    self.figure = found.get("id")
                    self.bars.setdefault(self.figure or "", [])
                elif tag == "rect" and found.get("class") == "bar" and self.figure:
                    self.bars[self.figure].append(found)

        parsed = Bars()
        parsed.feed(chromium.dump_dom(page))
        bars = parsed.bars
        funnel = {b["data-label"]: float(b["data-value"] or 0) for b in bars["chart-funnel"]}
        assert funnel == {"Sent": 6, "Delivered": 5, "Read": 3, "Replied": 4}
        assert [(b["data-label"], b["data-series"]) for b in bars["chart-daily-volume"]] == [
            ("06-18", "received"),
            ("06-18", "sent"),
            ("06-19", "received"),
            ("06-19", "sent"),
        ]
        assert [b["data-label"] for b in bars["chart-response-time"]] == ["40s", "1m", "2m", "10m", "25m"]
        assert [(b["data-label"], float(b["data-value"] or 0)) for b in bars["chart-revenue-by-ad"]] == [
            (history.S2, 70.0),
            (history.S1, 49.9),
        ]
        shot = chromium.screenshot(page, tmp_path / "report.png")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- the 24-hour window and time zones (docs/analytics.md) --------------------------------------

X, Y, Z = "5215512345601", "5215512345602", "5215512345603"
S3, S4 = "120210000000003", "120210000000004"


def ad_chat(contact: str, ad: str, clicked: str, replied: str) -> list[history.Step]:
    """An ad-started chat: the click's message, and the business's first reply."""
    key = f"{contact}-{ad}"
    return [
        history.bus(
            "referral.captured", contact, clicked, f"{key}-in", messageId=f"wamid.{key}-in", sourceId=ad
        ),
        history.bus("message.received", contact, clicked, f"{key}-in", messageId=f"wamid.{key}-in"),
        history.bus("message.sent", contact, replied, f"{key}-out", messageId=f"wamid.{key}-out"),
    ]


WINDOW = [
    # X answered in 5 minutes; Y 25 hours later, after the window; Z at 24 h exactly, still in it.
    *ad_chat(X, S3, history.at(history.D1, "10:00:00"), history.at(history.D1, "10:05:00")),
    *ad_chat(Y, S3, history.at(history.D1, "11:00:00"), history.at(history.D2, "12:00:00")),
    *ad_chat(Z, S4, history.at(history.D1, "12:00:00"), history.at(history.D2, "12:00:00")),
    # a later message of X's does not make Y's chat answered, nor a second chat of X's
    history.bus("message.sent", X, history.at(history.D2, "09:00:00"), "x-later", messageId="wamid.x-later"),
]


class TestEntryPointWindow:
    @pytest.mark.parametrize("order", ["in order", "backwards", "shuffled twice"])
    def test_the_share_of_ad_started_chats_answered_within_24_hours(
        self, harness: AnalyticsHarness, order: str
    ) -> None:
        steps = {
            "in order": WINDOW,
            "backwards": list(reversed(WINDOW)),
            "shuffled twice": random.Random(5).sample([*WINDOW, *WINDOW], 2 * len(WINDOW)),
        }[order]
        for step in steps:
            harness.deliver(step)
            if order == "backwards":
                harness.drain()
        harness.drain(redeliver=order == "shuffled twice")
        metrics = metrics_of(harness)
        assert metrics["ad_started_answered_within_24h"] == 0.6667  # X and Z of X, Y and Z
        assert metrics["ads"][S3]["conversations"] == 2
        assert metrics["ads"][S3]["ad_started_answered_within_24h"] == 0.5
        assert metrics["ads"][S4]["ad_started_answered_within_24h"] == 1.0

    def test_a_reply_stays_counted_once_the_chat_is_forgotten(self, harness: AnalyticsHarness) -> None:
        # The contact's state keeps 30 days of facts: the reply is dropped, its count is not.
        for step in ad_chat(X, S3, history.at(history.D1, "10:00:00"), history.at(history.D1, "10:05:00")):
            harness.deliver(step)
        harness.drain()
        later = history.at("2025-08-01", "10:00:00")
        harness.deliver(history.bus("message.received", X, later, "x-aug", messageId="wamid.x-aug"))
        harness.drain()
        assert metrics_of(harness)["ads"][S3]["ad_started_answered_within_24h"] == 1.0

    def test_no_ad_started_chat_gives_no_share(self, harness: AnalyticsHarness) -> None:
        assert metrics_of(harness)["ad_started_answered_within_24h"] is None


class TestTimeZones:
    def test_a_message_at_two_utc_is_the_previous_day_in_the_report_time_zone(
        self, harness: AnalyticsHarness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("REPORT_TIME_ZONE", "America/Mexico_City")
        at_two = history.at(history.D2, "02:00:00")  # 20:00 on D1 in Mexico City (UTC-6)
        harness.deliver(history.bus("message.received", X, at_two, "x-two", messageId="wamid.x-two"))
        reply = history.at(history.D2, "02:01:00")
        harness.deliver(history.bus("message.sent", X, reply, "x-two-out", messageId="wamid.x-two-out"))
        harness.drain()
        local = metrics_of(harness)
        assert local["tz"] == "America/Mexico_City"
        assert [(d["date"], d["received"], d["sent"]) for d in local["daily"]] == [
            (history.D1, 1, 1),
            (history.D2, 0, 0),
        ]
        assert {h: n for h, n in local["by_hour"].items() if n} == {"20": 1}
        assert local["response_time_seconds"] == {"median": 60, "p90": 60, "count": 1}
        utc = harness.metrics({**RANGE, "tz": "UTC"})["json"]
        assert [(d["date"], d["received"]) for d in utc["daily"]] == [(history.D1, 0), (history.D2, 1)]
        assert {h: n for h, n in utc["by_hour"].items() if n} == {"02": 1}

    def test_a_zone_that_does_not_exist_is_400_naming_tz(self, harness: AnalyticsHarness) -> None:
        response = harness.metrics({**RANGE, "tz": "America/Atlantis"})
        assert response["statusCode"] == 400
        assert response["json"]["field"] == "tz"
        assert "America/Atlantis" in response["json"]["message"]


class TestCountedByTheProcessor:
    """The WhatsApp processor counts its own events (docs/analytics.md#how-it-works): they reach the metrics
    without the bus's queue, and the queue's rule skips them however they come back."""

    def queued(self) -> int:
        sqs = boto3.client("sqs")
        attributes = sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def test_a_webhook_is_counted_once_with_nothing_left_for_the_aggregator(
        self, harness: AnalyticsHarness
    ) -> None:
        from tests.support import webhooks as wh
        from wa_conversions.analytics.aggregator import epoch_of

        self.url = harness.queue_url
        t = epoch_of(history.at(history.D1, "10:00"))
        body = wh.encode(
            wh.webhook(
                {
                    "contacts": [wh.contact("16505551234", name="Test User")],
                    "messages": [wh.text_message("wamid.counted", "16505551234", t)],
                }
            )
        ).decode()

        for _ in range(2):  # SQS may hand the webhook over twice
            assert harness.invoke("whatsapp_processor", sqs_event([body])) == {"batchItemFailures": []}

        assert self.queued() == 0
        metrics = metrics_of(harness)
        counted = (metrics["new_contacts"][history.D1], metrics["received"], metrics["by_hour"]["10"])
        assert counted == (1, 1, 1)

    def test_the_rule_skips_a_counted_event_and_takes_one_that_is_not(
        self, harness: AnalyticsHarness
    ) -> None:
        self.url = harness.queue_url
        step = history.bus("message.received", "16505551234", history.at(history.D1, "10:00"), "k")
        counted = LifecycleEvent.model_validate(step.document).as_counted()
        harness.publish(json.loads(counted.detail_json()))
        assert self.queued() == 0
        harness.publish(step.document)
        assert self.queued() == 1
