"""ads[] and by_campaign built straight from ad counters and insights rows: which ads are listed, how
the 24 h share, currencies and ratios come out, and how ads roll up by campaign."""

from __future__ import annotations

from typing import Any

from wa_conversions.analytics.ads import AdMetrics, ad_metrics, by_campaign
from wa_conversions.models.ad_day import AdDay


def insights(ad_id: str, day: str = "2026-06-18", **row: Any) -> AdDay:
    found = {
        "account_id": "act_111",
        "date_start": day,
        "ad_id": ad_id,
        "campaign_name": "Winter",
        "spend": "10",
        "impressions": "500",
        "clicks": "20",
        "account_currency": "USD",
        **row,
    }
    return AdDay.model_validate(found)


def test_counters_alone_give_the_captured_figures_and_no_spend() -> None:
    ads = ad_metrics(
        {"A": {"clicks": 3, "conversations": 2, "orders": 1, "revenue": 49.999, "revenue:USD": 49.999}}, []
    )
    a = ads["A"]
    assert (a.clicks, a.conversations, a.orders, a.revenue) == (3, 2, 1, 50.0)
    assert a.revenue_by_currency == {"USD": 50.0}
    assert (a.spend, a.impressions, a.meta_clicks, a.account_id, a.currency) == (None,) * 5


def test_keep_lists_only_the_ads_asked_for_and_every_ad_with_spend() -> None:
    counters = {"A": {"clicks": 1}, "B": {"clicks": 1}, "C": {"clicks": 0}}
    ads = ad_metrics(counters, [insights("C"), insights("D")], keep={"A", "X"})
    assert list(ads) == ["A", "C", "D"]  # B is not kept; C and D have spend; X has no counter


def test_the_24h_share_is_of_the_ad_s_conversations_and_never_above_one() -> None:
    ads = ad_metrics(
        {
            "A": {"conversations": 3, "answered24h": 2},
            "B": {"conversations": 1, "answered24h": 2},  # a merge counted it twice for a while
            "C": {"clicks": 4},
        },
        [],
    )
    assert ads["A"].ad_started_answered_within_24h == 0.6667
    assert ads["B"].ad_started_answered_within_24h == 1.0
    assert ads["C"].ad_started_answered_within_24h is None  # no conversation: no share, not 0


def test_spend_rows_sum_over_days_and_the_account_loses_its_act_prefix() -> None:
    rows = [
        insights("A", "2026-06-19", spend="2.105", impressions="10", clicks="1"),
        insights("A", "2026-06-18", spend="1.1", impressions="90", clicks=""),
    ]
    a = ad_metrics({"A": {"conversations": 2, "orders": 1}}, rows)["A"]
    assert (a.spend, a.impressions, a.meta_clicks) == (3.21, 100, 1)
    assert (a.account_id, a.currency, a.campaign_name) == ("111", "USD", "Winter")
    assert (a.cpa, a.cost_per_conversation) == (3.21, 1.6)


def test_free_delivery_costs_nothing_per_order_and_has_no_roas() -> None:
    a = ad_metrics(
        {"A": {"orders": 2, "conversations": 2, "revenue": 10, "revenue:USD": 10}}, [insights("A", spend="0")]
    )["A"]
    assert a.spend == 0.0
    assert (a.roas, a.cpa, a.cost_per_conversation) == (None, 0.0, 0.0)  # no return on nothing spent


def test_revenue_refunded_to_zero_in_one_currency_drops_out_of_the_split() -> None:
    counters = {"A": {"revenue": 25.0, "revenue:USD": 0.0, "revenue:EUR": 25.0, "orders": 2}}
    a = ad_metrics(counters, [insights("A")])["A"]
    assert a.revenue_by_currency == {"EUR": 25.0}
    assert a.roas == 0.0  # the account is in USD and none of its revenue is


def test_an_ad_in_an_account_of_another_currency_takes_that_currency_s_revenue() -> None:
    counters = {"E": {"revenue": 130.0, "revenue:EUR": 100.0, "revenue:USD": 30.0}}
    e = ad_metrics(counters, [insights("E", spend="40", account_currency="EUR")])["E"]
    assert e.roas == 2.5


def test_campaigns_roll_up_their_ads_with_spend_only() -> None:
    ads = ad_metrics(
        {
            "A": {"clicks": 2, "conversations": 2, "orders": 1, "revenue": 60.0, "revenue:USD": 60.0},
            "B": {"clicks": 1, "conversations": 1, "orders": 1, "revenue": 20.0, "revenue:USD": 20.0},
            "N": {"clicks": 9, "orders": 5, "revenue": 500.0, "revenue:USD": 500.0},  # no insights row
        },
        [insights("A", spend="15", impressions="100"), insights("B", spend="25", impressions="300")],
    )
    [(name, winter)] = by_campaign(ads).items()
    assert name == "Winter"
    assert (winter.ads, winter.account_id, winter.currency) == (["A", "B"], "111", "USD")
    assert (winter.spend, winter.impressions, winter.clicks, winter.conversations, winter.orders) == (
        40.0,
        400,
        3,
        3,
        2,
    )
    assert winter.revenue_by_currency == {"USD": 80.0}
    assert (winter.roas, winter.cpa, winter.cost_per_conversation) == (2.0, 20.0, 13.33)


def test_ads_without_a_campaign_name_share_one_named_group() -> None:
    rows = [insights("A", campaign_name=None), insights("B", campaign_name=None, spend="5")]
    campaigns = by_campaign(ad_metrics({}, rows))
    assert list(campaigns) == ["(no campaign name)"]
    assert campaigns["(no campaign name)"].spend == 15.0
    assert campaigns["(no campaign name)"].orders == 0 and campaigns["(no campaign name)"].cpa is None


def test_campaigns_come_sorted_by_name() -> None:
    rows = [insights("A", campaign_name="Zeta"), insights("B", campaign_name="Alpha")]
    assert list(by_campaign(ad_metrics({}, rows))) == ["Alpha", "Zeta"]


def test_a_campaign_with_revenue_of_unknown_currency_has_no_roas() -> None:
    ads = {
        "A": AdMetrics(spend=10.0, revenue=30.0, revenue_by_currency={"USD": 30.0}, currency="USD"),
        "B": AdMetrics(spend=10.0, revenue=12.0, currency="USD"),  # counted before currencies were
    }
    campaign = by_campaign(ads)["(no campaign name)"]
    assert campaign.roas is None
    assert campaign.spend == 20.0
    assert by_campaign({"A": ads["A"]})["(no campaign name)"].roas == 3.0
