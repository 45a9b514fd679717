"""The TTL each kind of record is written with: its own days counted from the time it names (or now),
and whether a contact's stored expiry is fresh enough not to be written again."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from wa_conversions.models import retention as module
from wa_conversions.models.retention import DAY_SECONDS, DEFAULT_RETENTION, Retention

NOW = 1_772_445_600  # 2026-03-02T10:00:00Z
CLICKED_AT = 1_750_275_992  # the sample webhook's click


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "time", SimpleNamespace(time=lambda: NOW + 0.75))


RETENTION = Retention(
    contact_days=31,
    referral_days=92,
    order_days=33,
    delivery_days=17,
    analytics_state_days=35,
    analytics_counter_days=370,
)


def test_each_kind_expires_its_own_days_after_the_time_it_names() -> None:
    expiries = {
        "contact": RETENTION.contact_expiry(CLICKED_AT),
        "referral": RETENTION.referral_expiry(CLICKED_AT),
        "order": RETENTION.order_expiry(CLICKED_AT),
        "delivery": RETENTION.delivery_expiry(CLICKED_AT),
        "analytics_state": RETENTION.analytics_state_expiry(CLICKED_AT),
        "analytics_counter": RETENTION.analytics_counter_expiry(CLICKED_AT),
    }
    assert {kind: (at - CLICKED_AT) // DAY_SECONDS for kind, at in expiries.items()} == {
        "contact": 31,
        "referral": 92,
        "order": 33,
        "delivery": 17,
        "analytics_state": 35,
        "analytics_counter": 370,
    }
    assert all((at - CLICKED_AT) % DAY_SECONDS == 0 for at in expiries.values())


@pytest.mark.usefixtures("frozen_clock")
def test_without_a_time_a_record_expires_counted_from_now_in_whole_seconds() -> None:
    assert RETENTION.contact_expiry() == NOW + 31 * DAY_SECONDS
    assert RETENTION.referral_expiry() == NOW + 92 * DAY_SECONDS
    assert RETENTION.order_expiry() == NOW + 33 * DAY_SECONDS
    assert RETENTION.delivery_expiry() == NOW + 17 * DAY_SECONDS
    assert RETENTION.analytics_state_expiry() == NOW + 35 * DAY_SECONDS


def test_a_fractional_time_counts_from_its_whole_second() -> None:
    assert RETENTION.order_expiry(CLICKED_AT + 0.999) == RETENTION.order_expiry(CLICKED_AT)  # type: ignore[arg-type]


def test_the_defaults_keep_an_ad_click_past_the_widest_click_window() -> None:
    assert Retention() == DEFAULT_RETENTION
    assert DEFAULT_RETENTION.referral_expiry(CLICKED_AT) - CLICKED_AT >= 90 * DAY_SECONDS
    # a day's counters outlive a year-on-year comparison
    assert DEFAULT_RETENTION.analytics_counter_expiry(CLICKED_AT) - CLICKED_AT > 366 * DAY_SECONDS


@pytest.mark.usefixtures("frozen_clock")
def test_a_contact_expiry_read_back_as_a_float_is_judged_like_an_int() -> None:
    fresh = NOW + 31 * DAY_SECONDS
    assert RETENTION.contact_kept(float(fresh - 60))
    assert not RETENTION.contact_kept(float(fresh - DAY_SECONDS - 60))


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("stored", [str(NOW + 31 * DAY_SECONDS), [NOW + 31 * DAY_SECONDS], {}])
def test_a_contact_expiry_that_is_not_a_number_is_written_again(stored: object) -> None:
    assert not RETENTION.contact_kept(stored)
