"""The insights client against Meta's answers (httpx.MockTransport, no network): every page followed,
rate-limit answers waited out for as long as Meta's usage headers say, within the time budget."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date

import httpx
import pytest

from wa_conversions.analytics.insights import InsightsClient, InsightsError, ThrottledError

SINCE, UNTIL = date(2026, 6, 1), date(2026, 6, 2)
BASE = "https://graph.test"


def row(ad_id: str, spend: str = "1.50") -> dict[str, str]:
    return {"date_start": "2026-06-01", "ad_id": ad_id, "spend": spend, "account_currency": "EUR"}


def throttled(minutes: float | None = None, code: int = 80000) -> httpx.Response:
    headers = {}
    if minutes is not None:
        usage = {"1": [{"type": "ads_insights", "estimated_time_to_regain_access": minutes}]}
        headers["x-business-use-case-usage"] = json.dumps(usage)
    return httpx.Response(400, json={"error": {"code": code, "message": "too many calls"}}, headers=headers)


def client(
    answers: list[httpx.Response], slept: list[float], max_wait: float = 600
) -> tuple[InsightsClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    found = InsightsClient(
        http, base_url=BASE, version="v26.0", token="t", max_wait_seconds=max_wait, sleep=slept.append
    )
    return found, seen


def test_the_request_asks_daily_ad_rows_with_the_fields_and_follows_paging_next() -> None:
    slept: list[float] = []
    insights, seen = client(
        [
            httpx.Response(
                200, json={"data": [row("A")], "paging": {"next": f"{BASE}/v26.0/act_1/insights?after=x"}}
            ),
            httpx.Response(200, json={"data": [row("B", "")], "paging": {"cursors": {"after": "y"}}}),
        ],
        slept,
    )

    rows = insights.ad_days("1", SINCE, UNTIL)

    assert [(r.ad_id, r.spend, r.currency, r.account_id) for r in rows] == [
        ("A", 1.5, "EUR", "1"),
        ("B", 0.0, "EUR", "1"),
    ]
    first = seen[0].url.params
    assert seen[0].url.path == "/v26.0/act_1/insights"
    assert (first["level"], first["time_increment"]) == ("ad", "1")
    assert json.loads(first["time_range"]) == {"since": "2026-06-01", "until": "2026-06-02"}
    assert set(first["fields"].split(",")) >= {
        "spend",
        "impressions",
        "clicks",
        "ad_id",
        "ad_name",
        "adset_name",
        "campaign_name",
        "account_currency",
    }
    assert str(seen[1].url) == f"{BASE}/v26.0/act_1/insights?after=x"
    assert all(r.headers["authorization"] == "Bearer t" for r in seen)
    assert slept == []


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80000, 80004])
def test_each_throttling_code_is_waited_out_for_the_time_meta_gives(code: int) -> None:
    slept: list[float] = []
    insights, _ = client([throttled(2, code), httpx.Response(200, json={"data": [row("A")]})], slept)

    assert [r.ad_id for r in insights.ad_days("1", SINCE, UNTIL)] == ["A"]
    assert slept == [120.0]  # estimated_time_to_regain_access is in minutes


def test_without_a_usage_header_the_waits_back_off() -> None:
    slept: list[float] = []
    insights, _ = client(
        [throttled(), throttled(), throttled(), httpx.Response(200, json={"data": []})], slept
    )

    assert insights.ad_days("1", SINCE, UNTIL) == []
    assert slept == [1.0, 2.0, 4.0]


def test_a_limit_longer_than_the_budget_gives_up_without_sleeping_past_it() -> None:
    slept: list[float] = []
    insights, _ = client([throttled(30)], slept, max_wait=60)

    with pytest.raises(ThrottledError, match="account 1: rate limited"):
        insights.ad_days("1", SINCE, UNTIL)
    assert slept == []


def test_near_the_limit_the_next_page_waits_a_little() -> None:
    slept: list[float] = []
    near = {"x-fb-ads-insights-throttle": json.dumps({"app_id_util_pct": 12, "acc_id_util_pct": 95})}
    insights, _ = client(
        [
            httpx.Response(200, json={"data": [row("A")], "paging": {"next": f"{BASE}/next"}}, headers=near),
            httpx.Response(200, json={"data": [row("B")]}, headers=near),
        ],
        slept,
    )

    assert len(insights.ad_days("1", SINCE, UNTIL)) == 2
    assert slept == [5.0]  # before the second page only: there is no third


def test_a_refused_request_is_an_error_naming_the_account_and_code() -> None:
    insights, _ = client(
        [httpx.Response(400, json={"error": {"code": 190, "message": "Invalid OAuth access token"}})], []
    )

    with pytest.raises(InsightsError, match=r"account 1: Meta answered 400 \(code 190\): Invalid OAuth"):
        insights.ad_days("1", SINCE, UNTIL)


def test_a_timeout_leaves_the_account_for_the_next_run() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    insights = InsightsClient(http, base_url=BASE, version="v26.0", token="t")

    with pytest.raises(ThrottledError, match="account 1: ReadTimeout"):
        insights.ad_days("1", SINCE, UNTIL)


def test_a_row_that_does_not_parse_is_an_error_naming_its_field_not_a_crash() -> None:
    insights, _ = client([httpx.Response(200, json={"data": [row("A", "lots")]})], [])

    with pytest.raises(InsightsError, match=r"account 1: a row Meta sent does not parse \(spend\)"):
        insights.ad_days("1", SINCE, UNTIL)


def test_one_account_failing_leaves_it_as_stored_and_the_others_are_stored() -> None:
    from wa_conversions.analytics.insights import refresh
    from wa_conversions.models.ad_day import AdDay

    class Store:
        def __init__(self) -> None:
            self.replaced: dict[str, list[str]] = {}

        def replace(self, account_id: str, since: date, until: date, rows: Iterable[AdDay]) -> int:
            self.replaced[account_id] = [r.ad_id for r in rows]
            return len(self.replaced[account_id])

    def handler(request: httpx.Request) -> httpx.Response:
        if "act_2" in request.url.path:
            return throttled(30)
        return httpx.Response(200, json={"data": [row("A")]})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    insights = InsightsClient(http, base_url=BASE, version="v26.0", token="t", max_wait_seconds=1)
    store = Store()

    outcome = refresh(insights, store, ["1", "2", "3"], SINCE, UNTIL)

    assert store.replaced == {"1": ["A"], "3": ["A"]}
    assert outcome["1"] == {"ad_days": 1} and outcome["2"]["retry"] is True
