"""Ad insights through the real handlers against moto and the Meta stand-in: AdInsightsFunction reads
the paged, rate-limited insights edge and stores spend per ad per day; GET /metrics joins it with the
aggregator's counters into names, spend, ROAS and CPA, checked against a hand calculation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.sample_events import proxy_event, read_env
from devstack.standins import StandIns
from tests.support.cfn import create_table, load_template
from tests.support.lambdas import FakeContext, load_handler
from tests.support.retention import kinds_without_ttl
from wa_conversions import reset
from wa_conversions.analytics.aggregator import Aggregator
from wa_conversions.models.events import LifecycleEvent
from wa_conversions.store.analytics import AnalyticsRepository

TABLE = "wa-conversions-table"
IDEMPOTENCY_TABLE = "wa-conversions-idempotency"
PREFIX = "/wa-conversions"
ACCOUNT = "1234567890"
D1, D2 = "2026-06-18", "2026-06-19"
TOKEN = "insights-test-token"


def row(day: str, ad_id: str, spend: str, campaign: str = "Summer sale") -> dict[str, str]:
    return {
        "date_start": day,
        "date_stop": day,
        "ad_id": ad_id,
        "ad_name": f"Carousel {ad_id}",
        "adset_name": "Lookalike 1%",
        "campaign_name": campaign,
        "spend": spend,
        "impressions": "1200",
        "clicks": "30",
        "account_currency": "USD",
    }


class InsightsContext(FakeContext):
    """Lambda's context with the function's 300 s timeout, or these remaining times one call after
    another (the last one repeating)."""

    def __init__(self, seconds_left: list[float] | None = None) -> None:
        self._left = list(seconds_left or [300.0])

    def get_remaining_time_in_millis(self) -> int:
        left = self._left.pop(0) if len(self._left) > 1 else self._left[0]
        return int(left * 1000)


@dataclass
class Harness:
    standins: StandIns
    api_key: str

    def run_insights(
        self, event: dict[str, Any] | None = None, seconds_left: list[float] | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = load_handler("ad_insights").lambda_handler(
            event if event is not None else {"since": D1, "until": D2}, InsightsContext(seconds_left)
        )
        return result

    def metrics(self, query: dict[str, str] | None = None) -> dict[str, Any]:
        event = proxy_event(
            "GET", "/metrics", headers={"X-Api-Key": self.api_key}, query=query or {"from": D1, "to": D2}
        )
        response = load_handler("metrics_api").lambda_handler(event, FakeContext())
        assert response["statusCode"] == 200, response
        found: dict[str, Any] = json.loads(response["body"])
        return found

    def count(self, *documents: dict[str, Any]) -> None:
        repository = AnalyticsRepository(
            boto3.client("dynamodb"), TABLE, IDEMPOTENCY_TABLE, marker_ttl_seconds=86_400
        )
        for document in documents:
            Aggregator(repository).apply(LifecycleEvent.model_validate(document))

    def insights_requests(self) -> list[dict[str, Any]]:
        return self.standins.recorded("meta_insights")


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with StandIns(port=0) as standins:
        for name, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_METRICS_NAMESPACE": "WaConversionsTest",
            "PARAMETER_PREFIX": PREFIX,
            "TABLE_NAME": TABLE,
            "META_GRAPH_BASE_URL": f"{standins.url}/meta",
            "META_AD_ACCOUNT_IDS": f"act_{ACCOUNT}",
            "INSIGHTS_MAX_WAIT_SECONDS": "5",
        }.items():
            monkeypatch.setenv(name, value)
        with mock_aws():
            template = load_template()
            dynamodb = boto3.client("dynamodb")
            create_table(dynamodb, template, "Table", TABLE)
            create_table(dynamodb, template, "IdempotencyTable", IDEMPOTENCY_TABLE)
            ssm = boto3.client("ssm")
            api_key = read_env()["API_KEY"]
            for key, value in (("api-key", api_key), ("meta-access-token", TOKEN)):
                ssm.put_parameter(Name=f"{PREFIX}/{key}", Value=value, Type="SecureString", Overwrite=True)
            reset()
            yield Harness(standins, api_key)
            assert kinds_without_ttl(dynamodb, template, {"Table": TABLE}) == {}
            reset()


def click(ad_id: str, contact: str, at: str) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "referral.captured",
        "messageId": f"click-{ad_id}-{contact}",
        "timestamp": at,
        "userId": f"+{contact}",
        "properties": {"sourceId": ad_id, "messageId": f"wamid.{ad_id}.{contact}"},
    }


def order(ad_id: str, number: int, value: float, at: str, currency: str = "USD") -> dict[str, Any]:
    return {
        "type": "track",
        "event": "conversion.attributed",
        "messageId": f"order-{ad_id}-{number}",
        "timestamp": at,
        "userId": "+15550001111",
        "properties": {"sourceId": ad_id, "value": value, "currency": currency},
    }


def test_two_ads_give_the_roas_and_cpa_of_a_hand_calculation_through_pages_and_a_rate_limit(
    harness: Harness,
) -> None:
    harness.standins.set_insights(
        {
            "accounts": {
                ACCOUNT: [
                    row(D1, "AD1", "40.00"),
                    row(D2, "AD1", "20.00"),
                    row(D1, "AD2", "25.50", "Retargeting"),
                ]
            },
            "page_size": 1,
            "throttle": 1,
        }
    )
    harness.count(
        click("AD1", "15550000001", f"{D1}T09:00:00Z"),
        click("AD1", "15550000002", f"{D1}T10:00:00Z"),
        click("AD2", "15550000003", f"{D2}T11:00:00Z"),
        order("AD1", 1, 100.0, f"{D1}T12:00:00Z"),
        order("AD1", 2, 50.0, f"{D2}T12:00:00Z"),
        order("AD2", 1, 30.6, f"{D2}T13:00:00Z"),
    )

    result = harness.run_insights()

    assert result["accounts"] == {ACCOUNT: {"ad_days": 3}}
    requests = harness.insights_requests()
    # one rate-limit answer waited out, then three pages of one row each, all with the token
    assert [r["status"] for r in requests] == [400, 200, 200, 200]
    assert all(r["headers"]["authorization"] == f"Bearer {TOKEN}" for r in requests)
    ads = harness.metrics()["ads"]
    ad1, ad2 = ads["AD1"], ads["AD2"]
    assert (ad1["ad_name"], ad1["adset_name"], ad1["campaign_name"]) == (
        "Carousel AD1",
        "Lookalike 1%",
        "Summer sale",
    )
    assert (ad1["spend"], ad1["currency"], ad1["impressions"]) == (60.0, "USD", 2400)
    assert (ad1["roas"], ad1["cpa"], ad1["cost_per_conversation"]) == (2.5, 30.0, 30.0)  # 150/60, 60/2, 60/2
    assert (ad2["roas"], ad2["cpa"], ad2["cost_per_conversation"]) == (1.2, 25.5, 25.5)  # 30.6/25.5, 25.5/1
    campaigns = harness.metrics()["by_campaign"]
    assert campaigns["Summer sale"]["ads"] == ["AD1"] and campaigns["Retargeting"]["spend"] == 25.5


def test_re_reading_a_day_replaces_it_and_a_repeat_changes_nothing(harness: Harness) -> None:
    harness.standins.set_insights({"accounts": {ACCOUNT: [row(D1, "AD1", "40"), row(D1, "AD2", "10")]}})
    harness.run_insights()
    # Meta restated the day: AD1 spent less, AD2 is gone (its spend was refunded as invalid clicks)
    harness.standins.set_insights({"accounts": {ACCOUNT: [row(D1, "AD1", "35.25")]}})
    harness.run_insights()
    harness.run_insights()

    ads = harness.metrics()["ads"]
    assert ads["AD1"]["spend"] == 35.25
    assert "AD2" not in ads


def test_an_ad_with_spend_and_no_captured_click_is_listed(harness: Harness) -> None:
    harness.standins.set_insights({"accounts": {ACCOUNT: [row(D2, "LOST", "9.99")]}})
    harness.run_insights()
    lost = harness.metrics()["ads"]["LOST"]
    assert (lost["spend"], lost["clicks"], lost["meta_clicks"], lost["cpa"]) == (9.99, 0, 30, None)


def test_a_refused_token_fails_the_run_and_leaves_the_stored_spend(harness: Harness) -> None:
    harness.standins.set_insights({"accounts": {ACCOUNT: [row(D1, "AD1", "40")]}})
    harness.run_insights()
    harness.standins.set_meta({"bad_tokens": [TOKEN]})
    harness.standins.set_insights({"accounts": {ACCOUNT: []}})

    with pytest.raises(Exception, match=f"ad accounts not read: {ACCOUNT}"):
        harness.run_insights()
    assert harness.metrics()["ads"]["AD1"]["spend"] == 40.0


def test_a_rate_limit_longer_than_the_budget_fails_the_run_and_keeps_what_was_stored(
    harness: Harness,
) -> None:
    harness.standins.set_insights({"accounts": {ACCOUNT: [row(D1, "AD1", "40")]}})
    harness.run_insights()
    harness.standins.set_insights({"accounts": {ACCOUNT: []}, "throttle": 10})

    with pytest.raises(Exception, match="ad accounts not read"):
        harness.run_insights()
    assert harness.metrics()["ads"]["AD1"]["spend"] == 40.0


def test_a_run_near_its_deadline_stops_and_the_next_starts_with_the_accounts_it_did_not_reach(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("META_AD_ACCOUNT_IDS", "act_111,act_222")
    reset()
    harness.standins.set_insights(
        {"accounts": {"111": [row(D1, "AD1", "40")], "222": [row(D1, "AD2", "10")]}}
    )
    # time for one account's page, then 10 s left: Lambda would cut the run off mid-account
    with pytest.raises(Exception, match="ad accounts not read: 222"):
        harness.run_insights(seconds_left=[300, 10])
    assert [r["path"].split("/")[-2] for r in harness.insights_requests()] == ["act_111"]

    with pytest.raises(Exception, match="ad accounts not read: 111"):
        harness.run_insights(seconds_left=[300, 10])

    assert [r["path"].split("/")[-2] for r in harness.insights_requests()] == ["act_111", "act_222"]
    ads = harness.metrics()["ads"]
    assert (ads["AD1"]["spend"], ads["AD2"]["spend"]) == (40.0, 10.0)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"since": "2026-13-01"}, "since must be a date"),
        ({"since": D2, "until": D1}, "since is after until"),
        ({"since": "2020-01-01", "until": D1}, "longer than 366 days"),
    ],
)
def test_a_bad_range_is_refused_naming_it(harness: Harness, event: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        harness.run_insights(event)
    assert harness.insights_requests() == []
