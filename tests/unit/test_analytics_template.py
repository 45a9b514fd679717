"""The analytics functions' template settings that tests of the code cannot see."""

from __future__ import annotations

from tests.support.cfn import load_template, resource


def test_a_failed_ad_insights_run_is_kept_in_its_dlq_not_dropped() -> None:
    # Scheduler invokes asynchronously: without a destination Lambda drops a run after its retries.
    config = resource(load_template(), "AdInsightsFunction")["Properties"]["EventInvokeConfig"]
    on_failure = config["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    assert on_failure["Destination"] == {"Fn::GetAtt": ["AdInsightsDLQ", "Arn"]}
    alarmed = resource(load_template(), "AdInsightsDLQAlarm")["Properties"]["Dimensions"][0]["Value"]
    assert alarmed == {"Fn::GetAtt": ["AdInsightsDLQ", "QueueName"]}


def test_the_aggregator_is_handed_exactly_the_events_it_counts() -> None:
    # An event it would ignore would still cost a queue delivery and an invocation.
    from wa_conversions.analytics.aggregator import COUNTED_EVENTS
    from wa_conversions.models.events import EventName

    pattern = resource(load_template(), "AnalyticsEventsRule")["Properties"]["EventPattern"]
    assert pattern["source"] == ["wa-conversions"]
    assert set(pattern["detail-type"]) == COUNTED_EVENTS
    assert set(EventName) >= COUNTED_EVENTS  # each a name producers use (models/events.py)
