"""GET /metrics' ads[] and by_campaign: captured clicks, conversations and attributed orders per ad,
joined with the ad's spend from Meta's insights (names, spend, ROAS, CPA, cost per conversation).

Money is in the ad account's currency. Attributed revenue is counted per currency
("ad#<id>#revenue:<CUR>"); ROAS takes only the revenue in the account's currency: revenue in another
currency is shown in revenue_by_currency and never converted (no exchange rate is assumed). Revenue
counted before currencies were (in "revenue" and no "revenue:<CUR>") has no known currency: while the
range holds some, ROAS is null rather than a wrong 0 (docs/analytics.md#ad-spend).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from pydantic import BaseModel

from ..models.ad_day import AdDay


class AdMetrics(BaseModel):
    clicks: int = 0
    conversations: int = 0
    # the share of its conversations whose first business reply came within 24 h (docs/analytics.md)
    ad_started_answered_within_24h: float | None = None
    orders: int = 0
    # attributed revenue net of refunds, every currency together (as before currencies were counted)
    revenue: float = 0.0
    revenue_by_currency: dict[str, float] = {}
    ad_name: str | None = None
    adset_name: str | None = None
    campaign_name: str | None = None
    # the ad account the spend is in (insights' account_id, without act_)
    account_id: str | None = None
    # the ad account's currency: spend, roas's revenue, cpa and cost_per_conversation are in it
    currency: str | None = None
    spend: float | None = None
    impressions: int | None = None
    # clicks Meta counted, next to the clicks captured from WhatsApp (the gap is tracking loss)
    meta_clicks: int | None = None
    roas: float | None = None
    cpa: float | None = None
    cost_per_conversation: float | None = None


class CampaignMetrics(BaseModel):
    # keyed by name, or "<name> (act_<account>)" when two ad accounts have a campaign of that name
    campaign_name: str | None = None
    account_id: str | None = None
    currency: str | None = None
    ads: list[str] = []
    spend: float = 0.0
    impressions: int = 0
    clicks: int = 0
    conversations: int = 0
    orders: int = 0
    revenue_by_currency: dict[str, float] = {}
    roas: float | None = None
    cpa: float | None = None
    cost_per_conversation: float | None = None


def _money(value: float) -> float:
    return round(value, 2)


def _ratio(part: float, whole: float | None, digits: int) -> float | None:
    return None if not whole else round(part / whole, digits)


def _uncurrencied(revenue: float, by_currency: Mapping[str, float]) -> bool:
    """Revenue counted before it was counted per currency: its currency is unknown."""
    return round(revenue - sum(by_currency.values()), 2) != 0


def _per_currency(values: Mapping[str, float]) -> dict[str, float]:
    found: dict[str, float] = {}
    for metric, amount in values.items():
        name, _, currency = metric.partition(":")
        if name == "revenue" and currency and round(amount, 2):
            found[currency] = found.get(currency, 0.0) + amount
    return {k: _money(v) for k, v in sorted(found.items())}


def ad_metrics(
    counters: Mapping[str, Mapping[str, float]], spend: Iterable[AdDay], keep: set[str] | None = None
) -> dict[str, AdMetrics]:
    """One entry per ad with a counter (in `keep`, when given) or with spend in the range: an ad with
    spend and no captured click is listed too, since that is where tracking is lost."""
    delivery: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    names: dict[str, AdDay] = {}
    for row in sorted(spend, key=lambda r: r.day):
        totals = delivery[row.ad_id]
        totals["spend"] += row.spend
        totals["impressions"] += row.impressions
        totals["clicks"] += row.clicks
        names[row.ad_id] = row  # the latest day's names: an ad renamed shows its current name
    ads: dict[str, AdMetrics] = {}
    for ad_id in sorted((set(counters) if keep is None else keep & set(counters)) | set(delivery)):
        values = counters.get(ad_id, {})
        orders = round(values.get("orders", 0))
        conversations = round(values.get("conversations", 0))
        by_currency = _per_currency(values)
        entry = AdMetrics(
            clicks=round(values.get("clicks", 0)),
            conversations=conversations,
            ad_started_answered_within_24h=(
                round(min(values.get("answered24h", 0) / conversations, 1.0), 4)
                if conversations > 0
                else None
            ),
            orders=orders,
            revenue=_money(values.get("revenue", 0)),
            revenue_by_currency=by_currency,
        )
        if ad_id in delivery:
            row, totals = names[ad_id], delivery[ad_id]
            spent = _money(totals["spend"])
            entry.ad_name, entry.adset_name, entry.campaign_name = (
                row.ad_name,
                row.adset_name,
                row.campaign_name,
            )
            entry.account_id = row.account_id.removeprefix("act_")
            entry.currency = row.currency
            entry.spend = spent
            entry.impressions = round(totals["impressions"])
            entry.meta_clicks = round(totals["clicks"])
            if not _uncurrencied(entry.revenue, by_currency):
                entry.roas = _ratio(by_currency.get(row.currency or "", 0.0), spent, 4)
            entry.cpa = _ratio(spent, orders, 2)
            entry.cost_per_conversation = _ratio(spent, conversations, 2)
        ads[ad_id] = entry
    return ads


def by_campaign(ads: Mapping[str, AdMetrics]) -> dict[str, CampaignMetrics]:
    """The ads with spend, rolled up by ad account and campaign name (an account has one currency, so
    a roll-up never sums two): keyed by the name, or "<name> (act_<account>)" when two accounts have
    a campaign of that name."""
    grouped: dict[tuple[str, str], CampaignMetrics] = {}
    revenue_total: dict[tuple[str, str], float] = defaultdict(float)
    for ad_id, ad in ads.items():
        if ad.spend is None:
            continue
        name = ad.campaign_name or "(no campaign name)"
        group = (ad.account_id or "", name)
        campaign = grouped.setdefault(
            group, CampaignMetrics(campaign_name=name, account_id=ad.account_id, currency=ad.currency)
        )
        revenue_total[group] += ad.revenue
        campaign.ads.append(ad_id)
        campaign.spend = _money(campaign.spend + ad.spend)
        campaign.impressions += ad.impressions or 0
        campaign.clicks += ad.clicks
        campaign.conversations += ad.conversations
        campaign.orders += ad.orders
        for currency, amount in ad.revenue_by_currency.items():
            total = campaign.revenue_by_currency.get(currency, 0.0) + amount
            campaign.revenue_by_currency[currency] = _money(total)
    names: dict[str, int] = defaultdict(int)
    for _, name in grouped:
        names[name] += 1
    campaigns: dict[str, CampaignMetrics] = {}
    for (account, name), campaign in grouped.items():
        revenue = campaign.revenue_by_currency.get(campaign.currency or "", 0.0)
        if not _uncurrencied(revenue_total[(account, name)], campaign.revenue_by_currency):
            campaign.roas = _ratio(revenue, campaign.spend, 4)
        campaign.cpa = _ratio(campaign.spend, campaign.orders, 2)
        campaign.cost_per_conversation = _ratio(campaign.spend, campaign.conversations, 2)
        campaigns[name if names[name] == 1 else f"{name} (act_{account})"] = campaign
    return dict(sorted(campaigns.items()))
