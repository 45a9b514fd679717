"""Meta's ad insights: reading the account list, Meta's usage headers and a run's range, and the
answers the client turns into a retry next run or a refusal (the paging and throttling waits are in
test_insights_client.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date

import httpx
import pytest
import respx

from wa_conversions.analytics.insights import (
    DEADLINE_RESERVE_SECONDS,
    MAX_RANGE_DAYS,
    InsightsClient,
    InsightsError,
    ThrottledError,
    account_ids,
    near_limit,
    parse_range,
    refresh,
    wait_seconds,
)
from wa_conversions.models.ad_day import AdDay

GRAPH = "https://graph.example"
TODAY = date(2026, 6, 18)
INSIGHTS = f"{GRAPH}/v26.0/act_42/insights"


def graph(seconds_left: float | None = None, max_wait: float = 300) -> tuple[InsightsClient, list[float]]:
    pauses: list[float] = []
    found = InsightsClient(
        httpx.Client(),
        base_url=f"{GRAPH}/",
        version="v26.0",
        token="EAAB-token",
        max_wait_seconds=max_wait,
        sleep=pauses.append,
        seconds_left=None if seconds_left is None else (lambda: seconds_left),
    )
    return found, pauses


def business_usage(**minutes: float) -> httpx.Headers:
    usage = {
        account: [{"type": "ads_insights", "call_count": 100, "estimated_time_to_regain_access": m}]
        for account, m in minutes.items()
    }
    return httpx.Headers({"x-business-use-case-usage": json.dumps(usage)})


# -- MetaAdAccountIds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ids"),
    [
        ("act_1, 2", ["1", "2"]),
        ("act_123456789012345;act_9", ["123456789012345", "9"]),
        (" 7 ,, act_8 ,", ["7", "8"]),
        ("", []),
        (" , ; ", []),
    ],
)
def test_the_account_list_reads_ids_with_or_without_act(raw: str, ids: list[str]) -> None:
    assert account_ids(raw) == ids


# -- Meta's usage headers -------------------------------------------------------------------------


def test_the_wait_is_the_longest_time_meta_gives_to_regain_access() -> None:
    assert wait_seconds(business_usage(a=3, b=0.5), attempt=0) == 180.0


def test_the_wait_is_never_shorter_than_the_backoff() -> None:
    assert wait_seconds(business_usage(a=0), attempt=3) == 8.0
    assert wait_seconds(httpx.Headers(), attempt=0) == 1.0
    assert wait_seconds(httpx.Headers(), attempt=5) == 32.0


@pytest.mark.parametrize(
    "raw", ["not json", "[1, 2]", '{"a": 5}', '{"a": [{"estimated_time_to_regain_access": "x"}]}']
)
def test_a_usage_header_that_does_not_parse_falls_back_to_the_backoff(raw: str) -> None:
    assert wait_seconds(httpx.Headers({"x-business-use-case-usage": raw}), attempt=2) == 4.0


@pytest.mark.parametrize(
    ("usage", "near"),
    [
        ({"app_id_util_pct": 90, "acc_id_util_pct": 10}, True),
        ({"app_id_util_pct": 5, "acc_id_util_pct": 99.5}, True),
        ({"app_id_util_pct": 89.9, "acc_id_util_pct": 0}, False),
        ({"acc_id_util_pct": None}, False),
        ({}, False),
    ],
)
def test_near_the_limit_is_either_share_at_ninety_percent(usage: dict[str, float | None], near: bool) -> None:
    assert near_limit(httpx.Headers({"x-fb-ads-insights-throttle": json.dumps(usage)})) is near


@pytest.mark.parametrize("raw", ["", "garbage", "null", '{"app_id_util_pct": "high"}'])
def test_a_throttle_header_missing_or_unreadable_is_not_near_the_limit(raw: str) -> None:
    headers = httpx.Headers({"x-fb-ads-insights-throttle": raw} if raw else {})
    assert near_limit(headers) is False


# -- the run's range -------------------------------------------------------------------------------


def test_without_dates_the_run_reads_the_lookback_up_to_today() -> None:
    assert parse_range({}, TODAY, lookback_days=7) == (date(2026, 6, 12), TODAY)
    assert parse_range({"since": "", "until": None}, TODAY, lookback_days=1) == (TODAY, TODAY)


def test_dates_given_are_taken_and_a_since_alone_runs_to_today() -> None:
    assert parse_range({"since": "2026-01-01", "until": "2026-01-31"}, TODAY, 7) == (
        date(2026, 1, 1),
        date(2026, 1, 31),
    )
    assert parse_range({"since": "2026-06-01"}, TODAY, 7) == (date(2026, 6, 1), TODAY)
    assert parse_range({"until": "2026-03-10"}, TODAY, 3) == (date(2026, 3, 8), date(2026, 3, 10))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"since": "2026-02-30"}, "since must be a date like 2026-06-18, got '2026-02-30'"),
        ({"until": "20260618"}, "until must be a date like 2026-06-18, got '20260618'"),
        ({"since": 20260618}, "since must be a date like 2026-06-18, got '20260618'"),
        ({"since": "2026-06-19"}, "since is after until"),
        ({"since": "2025-06-17"}, f"the range is longer than {MAX_RANGE_DAYS} days"),
    ],
)
def test_a_bad_range_is_a_value_error_saying_what_is_wrong(event: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        parse_range(event, TODAY, lookback_days=3)
    assert str(raised.value) == message


def test_a_full_year_is_one_run() -> None:
    since, until = parse_range({"since": "2025-06-18"}, TODAY, lookback_days=3)
    assert (until - since).days + 1 == MAX_RANGE_DAYS


# -- answers that leave the account for the next run, or refuse it --------------------------------


@respx.mock
def test_rows_without_an_ad_or_a_day_are_skipped() -> None:
    respx.get(INSIGHTS).mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [
                    {"ad_id": "A", "date_start": "2026-06-18", "spend": "3.5"},
                    {"date_start": "2026-06-18", "spend": "1"},  # an account-level summary row
                    {"ad_id": "B", "spend": "1"},
                ]
            },
        )
    )
    client, _ = graph()
    assert [(r.ad_id, r.spend, r.account_id) for r in client.ad_days("42", TODAY, TODAY)] == [
        ("A", 3.5, "42")
    ]


@respx.mock
def test_a_base_url_with_a_trailing_slash_reads_the_account_s_insights_path() -> None:
    route = respx.get(INSIGHTS).mock(return_value=httpx.Response(200, json={"data": []}))
    client, _ = graph()
    assert client.ad_days("42", TODAY, TODAY) == []
    assert route.calls.last.request.url.params["limit"] == "500"


@respx.mock
@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_meta_server_error_leaves_the_account_for_the_next_run(status: int) -> None:
    respx.get(INSIGHTS).mock(return_value=httpx.Response(status, text="<html>oops</html>"))
    client, pauses = graph()
    with pytest.raises(ThrottledError, match=f"account 42: Meta answered {status}"):
        client.ad_days("42", TODAY, TODAY)
    assert pauses == []


@respx.mock
def test_a_429_without_a_meta_code_is_waited_out_as_a_rate_limit() -> None:
    respx.get(INSIGHTS).mock(
        side_effect=[httpx.Response(429, text="slow down"), httpx.Response(200, json={"data": []})]
    )
    client, pauses = graph()
    assert client.ad_days("42", TODAY, TODAY) == []
    assert pauses == [1.0]


@respx.mock
def test_a_refusal_without_a_json_error_still_names_the_status() -> None:
    respx.get(INSIGHTS).mock(return_value=httpx.Response(403, text="Forbidden"))
    client, _ = graph()
    with pytest.raises(InsightsError, match=r"^account 42: Meta answered 403 \(code None\): $"):
        client.ad_days("42", TODAY, TODAY)


@respx.mock
def test_a_refusal_message_is_cut_to_200_characters() -> None:
    error = {"error": {"code": 100, "message": "Invalid parameter " + "x" * 500}}
    respx.get(INSIGHTS).mock(return_value=httpx.Response(400, json=error))
    client, _ = graph()
    with pytest.raises(InsightsError) as raised:
        client.ad_days("42", TODAY, TODAY)
    assert str(raised.value).startswith("account 42: Meta answered 400 (code 100): Invalid parameter x")
    assert len(str(raised.value).split(": ", 2)[2]) == 200


@respx.mock
def test_too_little_time_left_stops_the_run_before_asking_meta() -> None:
    route = respx.get(INSIGHTS).mock(return_value=httpx.Response(200, json={"data": []}))
    client, _ = graph(seconds_left=DEADLINE_RESERVE_SECONDS - 1)
    with pytest.raises(ThrottledError, match="account 42: not read before the function's deadline"):
        client.ad_days("42", TODAY, TODAY)
    assert not route.called


@respx.mock
def test_a_wait_that_would_run_into_the_deadline_gives_up_without_sleeping() -> None:
    respx.get(INSIGHTS).mock(
        return_value=httpx.Response(
            400,
            json={"error": {"code": 17}},
            headers=business_usage(a=1),  # 60 s asked
        )
    )
    client, pauses = graph(seconds_left=DEADLINE_RESERVE_SECONDS + 30)
    with pytest.raises(ThrottledError, match=r"account 42: rate limited \(code 17\)"):
        client.ad_days("42", TODAY, TODAY)
    assert pauses == []


class Kept:
    """The ad spend store: what each account's rows were replaced with."""

    def __init__(self) -> None:
        self.accounts: dict[str, tuple[date, date, list[AdDay]]] = {}

    def replace(self, account_id: str, since: date, until: date, rows: Iterable[AdDay]) -> int:
        self.accounts[account_id] = (since, until, list(rows))
        return len(self.accounts[account_id][2])


@respx.mock
def test_an_account_meta_refuses_is_reported_not_to_be_retried_and_not_stored() -> None:
    respx.get(f"{GRAPH}/v26.0/act_7/insights").mock(
        return_value=httpx.Response(
            400, json={"error": {"code": 190, "message": "Error validating access token"}}
        )
    )
    respx.get(f"{GRAPH}/v26.0/act_8/insights").mock(
        return_value=httpx.Response(200, json={"data": [{"ad_id": "Z", "date_start": "2026-06-17"}]})
    )
    client, _ = graph()
    kept = Kept()

    outcome = refresh(client, kept, ["7", "8"], date(2026, 6, 17), TODAY)

    assert outcome["7"] == {
        "error": "account 7: Meta answered 400 (code 190): Error validating access token",
        "retry": False,
    }
    assert outcome["8"] == {"ad_days": 1}
    assert list(kept.accounts) == ["8"]
    since, until, rows = kept.accounts["8"]
    assert (since, until, [(r.ad_id, r.day) for r in rows]) == (
        date(2026, 6, 17),
        TODAY,
        [("Z", "2026-06-17")],
    )


def test_an_account_with_no_ads_is_stored_empty_so_old_rows_go() -> None:
    with respx.mock:
        respx.get(INSIGHTS).mock(return_value=httpx.Response(200, json={"data": [], "paging": {}}))
        client, _ = graph()
        kept = Kept()
        assert refresh(client, kept, ["42"], TODAY, TODAY) == {"42": {"ad_days": 0}}
    assert kept.accounts == {"42": (TODAY, TODAY, [])}


@pytest.mark.parametrize(
    ("answer", "retry", "error"),
    [
        (httpx.Response(502, text="Bad Gateway"), True, "account 7: Meta answered 502"),
        (httpx.Response(400, json=[]), False, "account 7: Meta answered 400 (code None): "),
        (httpx.Response(400, json={"error": {"code": 100, "message": None}}), False, "(code 100): "),
        (httpx.Response(200, text="<html>maintenance</html>"), True, "not a JSON object"),
        (httpx.Response(200, json=["not", "a", "page"]), True, "not a JSON object"),
    ],
)
def test_an_answer_that_is_not_graphs_is_reported_and_the_other_accounts_still_read(
    answer: httpx.Response, retry: bool, error: str
) -> None:
    with respx.mock:
        respx.get(f"{GRAPH}/v26.0/act_7/insights").mock(return_value=answer)
        respx.get(f"{GRAPH}/v26.0/act_8/insights").mock(
            return_value=httpx.Response(200, json={"data": [["a row that is no object"]], "paging": []})
        )
        client, _ = graph()
        kept = Kept()
        outcome = refresh(client, kept, ["7", "8"], TODAY, TODAY)

    assert outcome["7"]["retry"] is retry
    assert error in outcome["7"]["error"]
    assert outcome["8"] == {"ad_days": 0}
