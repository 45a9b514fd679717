"""models.meta_rules: Meta's rules written once, and the local stand-in judging events by the same ones
the forwarders and the API check apply."""

from __future__ import annotations

import hashlib

import pytest

from devstack.standins import ShapeError, check_cm, check_meta_event
from wa_conversions.models.meta_rules import (
    CLICK_WINDOW_SECONDS,
    MAX_EVENT_AGE_SECONDS,
    META_EVENT_NAMES,
    VALUE_REQUIRED,
    click_window_problem,
    too_old,
)

NOW = 1_800_000_000


def _meta_event(event_time: int, name: str = "Purchase", **custom: object) -> dict[str, object]:
    return {
        "event_name": name,
        "event_time": event_time,
        "action_source": "business_messaging",
        "messaging_channel": "whatsapp",
        "user_data": {"ctwa_clid": "clid-1", "ph": [hashlib.sha256(b"15551234567").hexdigest()]},
        "custom_data": custom,
    }


def test_a_click_is_credited_up_to_seven_days_before_the_conversion_and_no_later() -> None:
    clicked = NOW - CLICK_WINDOW_SECONDS
    assert CLICK_WINDOW_SECONDS == 7 * 86_400
    assert click_window_problem("clid-1", clicked, NOW) is None
    assert click_window_problem("clid-1", clicked - 1, NOW) == (
        "the ad click is more than 7 days before the conversion"
    )
    assert click_window_problem(None, clicked, NOW) is not None
    assert click_window_problem("clid-1", None, NOW) == "the ad click's time is unknown"


@pytest.mark.parametrize(
    ("age", "refused"), [(MAX_EVENT_AGE_SECONDS, False), (MAX_EVENT_AGE_SECONDS + 1, True)]
)
def test_the_stand_in_refuses_an_event_exactly_when_the_rule_calls_it_too_old(
    age: int, refused: bool
) -> None:
    event = _meta_event(NOW - age, value=10.5, currency="MXN")
    assert too_old(NOW - age, NOW) is refused
    if refused:
        with pytest.raises(ShapeError, match="more than 7 days old"):
            check_meta_event(event, NOW)
    else:
        check_meta_event(event, NOW)


def test_the_stand_in_takes_only_the_event_names_and_iso_currencies_the_rules_allow() -> None:
    with pytest.raises(ShapeError, match="invalid for business_messaging"):
        check_meta_event(_meta_event(NOW, name="Subscribe"), NOW)
    with pytest.raises(ShapeError, match="ISO 4217"):
        check_meta_event(_meta_event(NOW, value=1, currency="ABC"), NOW)
    assert "Subscribe" not in META_EVENT_NAMES


@pytest.mark.parametrize("kind", sorted(VALUE_REQUIRED))
def test_the_cm_stand_in_wants_value_and_currency_for_the_kinds_cm_requires_it_for(kind: str) -> None:
    body = {
        "channel": "WhatsApp",
        "from": {"number": "0031612345678"},
        "to": {"number": "0015551234567"},
        "authentication": {"productToken": "token"},
        "event": {"type": kind, "custom": {"ctwa_id": "clid-1"}},
    }
    with pytest.raises(ShapeError, match=f"mandatory for {kind}"):
        check_cm(body, {})
    body["event"] = {"type": kind, "custom": {"ctwa_id": "clid-1", "currency": "MXN", "value": "10.50"}}
    check_cm(body, {})
