"""From hour counters to GET /metrics: totals, rates, the response-time percentiles, and the splits by
agent, service mode, country, hour, ad and day (the range and time-zone parsing are in
test_metrics_query.py)."""

from __future__ import annotations

from datetime import UTC, date

import pytest

from wa_conversions.analytics.metrics import MetricsQuery, Percentiles, compute, parse_zone
from wa_conversions.errors import BadRequestError

JUNE_18 = MetricsQuery(start=date(2026, 6, 18), end=date(2026, 6, 18))
TWO_DAYS = MetricsQuery(start=date(2026, 6, 18), end=date(2026, 6, 19))


def test_the_funnel_and_its_rates_come_from_the_stage_counters() -> None:
    hours = {
        "2026-06-18T09": {"sent": 4, "delivered": 3, "read": 2, "replied": 1, "failed": 1, "received": 6},
        "2026-06-18T17": {"sent": 2, "delivered": 2, "read": 1, "replied": 2, "received": 1},
    }
    metrics = compute(JUNE_18, hours)
    assert metrics.funnel.model_dump() == {"sent": 6, "delivered": 5, "read": 3, "replied": 3}
    assert (metrics.delivery_rate, metrics.read_rate, metrics.reply_rate) == (0.8333, 0.5, 0.5)
    assert (metrics.received, metrics.failed) == (7, 1)


def test_nothing_sent_gives_no_rates_rather_than_zero() -> None:
    metrics = compute(JUNE_18, {"2026-06-18T09": {"received": 3}})
    assert (metrics.delivery_rate, metrics.read_rate, metrics.reply_rate) == (None, None, None)
    assert metrics.ad_started_answered_within_24h is None


def test_a_rate_never_shows_more_than_all() -> None:
    # a stage counted without its send (odd data): the rate stops at 1
    metrics = compute(JUNE_18, {"2026-06-18T09": {"sent": 1, "delivered": 2}})
    assert metrics.delivery_rate == 1.0


def test_response_times_give_percentiles_and_the_histogram_in_bucket_order() -> None:
    hours = {
        "2026-06-18T09": {"responses": 3, "rt#600": 1, "rt#40": 1, "rt#0": 0},
        "2026-06-18T10": {"responses": 2, "rt#40": 1, "rt#1500": 1},
    }
    metrics = compute(JUNE_18, hours)
    assert metrics.response_time_seconds == Percentiles(median=40, p90=1500, count=4)
    assert [(b.seconds, b.count) for b in metrics.response_time_histogram] == [(40, 2), (600, 1), (1500, 1)]


def test_agents_get_their_counts_and_their_own_response_times() -> None:
    hours = {
        "2026-06-18T09": {
            "agent#agent_1#sent": 3,
            "agent#agent_1#responses": 2,
            "agentrt#agent_1#60": 1,
            "agentrt#agent_1#120": 1,
            "agent#agent_2#resolved": 1,
            "agent#agent_2#handoffs": 1,
            "agent#agent_2#assigned": 2,
            # moved away by a late event: an agent holding only zeros is not listed
            "agent#agent_3#sent": 0,
        }
    }
    by_agent = compute(JUNE_18, hours).by_agent
    assert list(by_agent) == ["agent_1", "agent_2"]
    one, two = by_agent["agent_1"], by_agent["agent_2"]
    assert (one.sent, one.responses, one.assigned) == (3, 2, 0)
    assert one.response_time_seconds == Percentiles(median=60, p90=120, count=2)
    assert (two.resolved, two.handoffs, two.assigned, two.sent) == (1, 1, 2, 0)
    assert two.response_time_seconds == Percentiles(median=None, p90=None, count=0)


def test_an_agent_id_with_a_hash_stays_whole() -> None:
    metrics = compute(JUNE_18, {"2026-06-18T09": {"agent#team#7#sent": 2}})
    assert list(metrics.by_agent) == ["team#7"]
    assert metrics.by_agent["team#7"].sent == 2


def test_service_modes_count_sends_and_resolutions() -> None:
    hours = {
        "2026-06-18T09": {"mode#bot#sent": 2, "mode#agent#sent": 1, "mode#unknown#sent": 0},
        "2026-06-18T12": {"mode#agent#resolved": 1, "mode#app#sent": 1},
    }
    modes = compute(JUNE_18, hours).by_service_mode
    assert {m: (v.sent, v.resolved) for m, v in modes.items()} == {
        "agent": (1, 1),
        "app": (1, 0),
        "bot": (2, 0),
    }


def test_countries_and_unattributed_reasons_leave_out_what_nets_to_zero() -> None:
    hours = {
        "2026-06-18T09": {"country#KE": 2, "country#US": 1, "unattributed#phone:no_contact": 1},
        "2026-06-18T10": {"country#US": -1, "country#GB": 1, "unattributed#token:expired": 2},
    }
    metrics = compute(JUNE_18, hours)
    assert metrics.by_country == {"GB": 1, "KE": 2}
    assert metrics.unattributed_reasons == {"phone:no_contact": 1, "token:expired": 2}


def test_by_hour_has_every_hour_and_reads_received_from_hour_buckets_and_legacy_hour_counters() -> None:
    days = {
        "2026-06-18T07": {"received": 2, "sent": 5},
        "2026-06-18": {"hour#07": 1, "hour#23": 4},  # a day item kept before hours were
    }
    by_hour = compute(JUNE_18, days).by_hour
    assert list(by_hour) == [f"{h:02d}" for h in range(24)]
    assert {h: n for h, n in by_hour.items() if n} == {"07": 3, "23": 4}


def test_the_daily_series_has_every_day_of_the_range_and_only_it() -> None:
    hours: dict[str, dict[str, float]] = {
        "2026-06-17T23": {"received": 9},  # before the range
        "2026-06-18T08": {"received": 1, "sent": 1, "new_contacts": 1, "orders": 1, "revenue": 19.999},
        "2026-06-18T20": {"ad#A#clicks": 2, "ad#B#clicks": 1, "ad#A#conversations": 1},
        "2026-06-20T00": {"received": 9},  # after it
    }
    metrics = compute(TWO_DAYS, hours)
    assert [d.model_dump() for d in metrics.daily] == [
        {
            "date": "2026-06-18",
            "received": 1,
            "sent": 1,
            "delivered": 0,
            "read": 0,
            "replied": 0,
            "new_contacts": 1,
            "clicks": 3,
            "orders": 1,
            "revenue": 20.0,
        },
        {
            "date": "2026-06-19",
            "received": 0,
            "sent": 0,
            "delivered": 0,
            "read": 0,
            "replied": 0,
            "new_contacts": 0,
            "clicks": 0,
            "orders": 0,
            "revenue": 0.0,
        },
    ]
    assert metrics.new_contacts == {"2026-06-18": 1, "2026-06-19": 0}
    assert metrics.received == 1
    assert (metrics.from_, metrics.to, metrics.granularity, metrics.tz) == (
        "2026-06-18",
        "2026-06-19",
        "day",
        "UTC",
    )


def test_money_is_net_of_refunds_and_rounded_to_cents() -> None:
    hours = {
        "2026-06-18T09": {"orders": 2, "revenue": 100.005},
        "2026-06-18T11": {"refunds": 30.0, "revenue": -30.0},
    }
    metrics = compute(JUNE_18, hours)
    assert (metrics.orders, metrics.revenue, metrics.refunds) == (2, 70.0, 30.0)


def test_the_ad_share_answered_within_24h_is_over_every_ad_s_conversations() -> None:
    hours = {
        "2026-06-18T09": {"ad#A#conversations": 2, "ad#A#answered24h": 2, "ad#B#conversations": 2},
        "2026-06-18T10": {"ad#B#answered24h": 1, "ad#C#clicks": 0},
    }
    metrics = compute(JUNE_18, hours)
    assert metrics.ad_started_answered_within_24h == 0.75
    assert list(metrics.ads) == ["A", "B"]  # C's counters net to nothing
    assert metrics.ads["B"].ad_started_answered_within_24h == 0.5


def test_the_tenants_copies_in_an_hour_item_are_not_counted_for_the_deployment_again() -> None:
    hour_item = {
        "received": 2,
        "sent": 1,
        "ad#A#clicks": 1,
        "tenant#brand-a#received": 2,
        "tenant#brand-a#sent": 1,
        "tenant#brand-a#ad#A#clicks": 1,
    }
    metrics = compute(JUNE_18, {"2026-06-18T09": hour_item})
    assert (metrics.received, metrics.funnel.sent, metrics.ads["A"].clicks) == (2, 1, 1)
    assert metrics.daily[0].clicks == 1


def test_the_answer_serialises_its_range_start_as_from() -> None:
    body = compute(JUNE_18, {}).model_dump(by_alias=True)
    assert (body["from"], body["to"]) == ("2026-06-18", "2026-06-18")
    assert "from_" not in body


def test_a_utc_range_reads_its_own_days() -> None:
    assert TWO_DAYS.days == ["2026-06-18", "2026-06-19"]
    assert TWO_DAYS.zone is UTC
    assert TWO_DAYS.utc_days == (date(2026, 6, 18), date(2026, 6, 19))


def test_a_zone_east_of_utc_reads_from_the_utc_day_before() -> None:
    tokyo = MetricsQuery(start=date(2026, 6, 18), end=date(2026, 6, 18), tz="Asia/Tokyo")
    assert tokyo.utc_days == (date(2026, 6, 17), date(2026, 6, 18))


@pytest.mark.parametrize("name", ["UTC", "Asia/Kolkata", "America/Argentina/Salta"])
def test_an_iana_zone_is_taken_as_named(name: str) -> None:
    assert parse_zone(name) == name


def test_no_zone_is_the_default() -> None:
    assert parse_zone(None) == "UTC"
    assert parse_zone("", "Europe/Madrid") == "Europe/Madrid"


def test_a_long_bad_zone_is_shown_cut_in_the_message() -> None:
    with pytest.raises(BadRequestError) as raised:
        parse_zone("Nowhere/" + "x" * 60)
    assert raised.value.message == (
        "tz must be an IANA time zone like America/Mexico_City, got 'Nowhere/" + "x" * 32 + "...'"
    )
