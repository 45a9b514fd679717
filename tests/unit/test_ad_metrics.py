"""GET /metrics' ads[] and by_campaign: spend from Meta's insights joined with what was captured and
attributed, checked against figures worked out by hand."""

from __future__ import annotations

from datetime import date

from wa_conversions.analytics.aggregator import conversion_deltas
from wa_conversions.analytics.metrics import MetricsQuery, compute
from wa_conversions.models.ad_day import AdDay
from wa_conversions.models.events import LifecycleEvent

QUERY = MetricsQuery(start=date(2026, 6, 1), end=date(2026, 6, 2))


def ad_day(day: str, ad_id: str, spend: str, **extra: object) -> AdDay:
    row = {
        "account_id": "111",
        "date_start": day,
        "ad_id": ad_id,
        "ad_name": f"Ad {ad_id}",
        "adset_name": "Set A",
        "campaign_name": "Summer",
        "spend": spend,
        "impressions": "1000",
        "clicks": "40",
        "account_currency": "USD",
        **extra,
    }
    return AdDay.model_validate(row)


def order_event(source_id: str, value: float, currency: str, *, refund: bool = False) -> LifecycleEvent:
    return LifecycleEvent.model_validate(
        {
            "type": "track",
            "event": "refund.created" if refund else "conversion.attributed",
            "messageId": f"m-{source_id}-{value}-{currency}-{refund}",
            "timestamp": "2026-06-01T12:00:00Z",
            "userId": "+15550000000",
            "properties": {"sourceId": source_id, "value": value, "currency": currency},
        }
    )


def counters(*events: LifecycleEvent, **extra: float) -> dict[str, dict[str, float]]:
    days: dict[str, dict[str, float]] = {}
    for event in events:
        for key, amount in conversion_deltas(event).items():
            day, _, counter = key.partition("|")
            days.setdefault(day, {})
            days[day][counter] = days[day].get(counter, 0) + amount
    for counter, amount in extra.items():
        days.setdefault("2026-06-01", {})[counter.replace("__", "#")] = amount
    return days


def test_two_ads_give_the_roas_cpa_and_cost_per_conversation_of_a_hand_calculation() -> None:
    days = counters(
        order_event("A", 100.0, "USD"),
        order_event("A", 50.0, "USD"),
        order_event("B", 30.0, "USD"),
        ad__A__clicks=5,
        ad__A__conversations=4,
        ad__B__clicks=2,
        ad__B__conversations=2,
    )
    spend = [
        ad_day("2026-06-01", "A", "20.00"),
        ad_day("2026-06-02", "A", "10.00"),
        ad_day("2026-06-01", "B", "40"),
    ]

    metrics = compute(QUERY, days, spend)

    a, b = metrics.ads["A"], metrics.ads["B"]
    assert (a.spend, a.revenue, a.orders) == (30.0, 150.0, 2)
    assert (a.roas, a.cpa, a.cost_per_conversation) == (5.0, 15.0, 7.5)  # 150/30, 30/2, 30/4
    assert (b.roas, b.cpa, b.cost_per_conversation) == (0.75, 40.0, 20.0)  # 30/40, 40/1, 40/2
    assert (a.ad_name, a.adset_name, a.campaign_name, a.currency) == ("Ad A", "Set A", "Summer", "USD")
    assert (a.impressions, a.meta_clicks) == (2000, 80)
    summer = metrics.by_campaign["Summer"]
    assert summer.ads == ["A", "B"]
    assert (summer.spend, summer.orders, summer.conversations) == (70.0, 3, 6)
    assert (summer.roas, summer.cpa, summer.cost_per_conversation) == (
        round(180 / 70, 4),
        round(70 / 3, 2),
        round(70 / 6, 2),
    )


def test_a_refund_comes_off_the_roas() -> None:
    days = counters(order_event("A", 100.0, "USD"), order_event("A", 40.0, "USD", refund=True))
    metrics = compute(QUERY, days, [ad_day("2026-06-01", "A", "30")])
    assert metrics.ads["A"].roas == 2.0  # (100 - 40) / 30


def test_revenue_in_another_currency_is_shown_apart_and_kept_out_of_roas() -> None:
    days = counters(order_event("A", 100.0, "USD"), order_event("A", 80.0, "EUR"))
    metrics = compute(QUERY, days, [ad_day("2026-06-01", "A", "50")])
    a = metrics.ads["A"]
    assert a.revenue_by_currency == {"EUR": 80.0, "USD": 100.0}
    assert a.roas == 2.0  # only the USD revenue: no exchange rate is assumed
    assert a.cpa == 25.0  # both orders count: an order is an order in any currency


def test_an_ad_with_spend_and_no_captured_click_is_listed() -> None:
    metrics = compute(QUERY, {}, [ad_day("2026-06-02", "Z", "12.5")])
    z = metrics.ads["Z"]
    assert (z.clicks, z.conversations, z.orders, z.spend, z.meta_clicks) == (0, 0, 0, 12.5, 40)
    assert z.roas == 0.0 and z.cpa is None and z.cost_per_conversation is None
    assert metrics.by_campaign["Summer"].spend == 12.5


def test_an_ad_without_insights_has_no_spend_and_no_ratios() -> None:
    metrics = compute(QUERY, counters(order_event("A", 10.0, "USD")))
    a = metrics.ads["A"]
    assert a.spend is None and a.roas is None and a.cpa is None and a.ad_name is None
    assert metrics.by_campaign == {}


def test_a_renamed_ad_shows_its_latest_name() -> None:
    spend = [
        ad_day("2026-06-01", "A", "5", ad_name="Old name"),
        ad_day("2026-06-02", "A", "5", ad_name="New name"),
    ]
    assert compute(QUERY, {}, spend).ads["A"].ad_name == "New name"


def test_revenue_counted_before_currencies_were_gives_no_roas_rather_than_zero() -> None:
    # an order counted before "ad#<id>#revenue:<CUR>" existed: 120 of revenue, currency unknown
    days = {"2026-06-01": {"ad#A#orders": 1, "ad#A#revenue": 120.0}}
    metrics = compute(QUERY, days, [ad_day("2026-06-01", "A", "40")])
    a = metrics.ads["A"]
    assert a.revenue == 120.0
    assert a.roas is None  # not 0.0: the revenue is there, its currency is not known
    assert a.cpa == 40.0
    assert metrics.by_campaign["Summer"].roas is None


def test_same_named_campaigns_of_two_ad_accounts_are_not_summed() -> None:
    days = counters(order_event("A", 100.0, "USD"), order_event("E", 50.0, "EUR"))
    spend = [
        ad_day("2026-06-01", "A", "20"),
        ad_day("2026-06-01", "E", "10", account_id="222", account_currency="EUR"),
    ]
    campaigns = compute(QUERY, days, spend).by_campaign
    assert set(campaigns) == {"Summer (act_111)", "Summer (act_222)"}
    usd, eur = campaigns["Summer (act_111)"], campaigns["Summer (act_222)"]
    assert (usd.currency, usd.spend, usd.roas, usd.ads) == ("USD", 20.0, 5.0, ["A"])
    assert (eur.currency, eur.spend, eur.roas, eur.ads) == ("EUR", 10.0, 5.0, ["E"])
