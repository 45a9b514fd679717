"""forwarding.names: which Meta event each conversion kind becomes (MetaEventNames, CM.com's own
mapping, the events that name themselves) and the one check of an event name."""

from __future__ import annotations

import pytest

from wa_conversions.config import META_EVENT_NAMES_DEFAULT
from wa_conversions.forwarding.names import check_meta_event_name, meta_event_name, parse_event_names
from wa_conversions.models.meta_rules import META_EVENT_NAMES


def test_the_deployments_default_mapping_parses_to_every_kind_it_lists() -> None:
    names = parse_event_names(META_EVENT_NAMES_DEFAULT)

    assert names["order"] == "OrderCreated"
    assert names["order_paid"] == "Purchase"
    assert names["refund"] == "OrderReturned"
    assert len(names) == META_EVENT_NAMES_DEFAULT.count("=")


def test_blank_pairs_and_spaces_around_names_are_tolerated() -> None:
    assert parse_event_names(" order = Purchase ,, refund=OrderReturned, ") == {
        "order": "Purchase",
        "refund": "OrderReturned",
    }
    assert parse_event_names("") == {}


def test_a_kind_named_twice_takes_the_last_name() -> None:
    assert parse_event_names("order=OrderCreated,order=Purchase") == {"order": "Purchase"}


@pytest.mark.parametrize("pair", ["order=", "=Purchase", "order", "order=purchase", "order=Lead"])
def test_a_pair_that_is_not_kind_and_a_meta_name_is_refused_quoting_it(pair: str) -> None:
    with pytest.raises(ValueError, match="is not kind=<one of Meta's event names>") as raised:
        parse_event_names(f"refund=OrderReturned,{pair}")

    assert repr(pair) in str(raised.value)


def test_cm_coms_mapping_sends_the_order_as_the_purchase_and_leaves_payment_out() -> None:
    assert meta_event_name("order", None) == "Purchase"
    assert meta_event_name("order_cancelled", None) == "OrderCanceled"
    assert meta_event_name("order_paid", None) is None
    assert meta_event_name("refund", None) is None


def test_a_deployments_mapping_replaces_cm_coms_even_when_empty() -> None:
    mapping = {"order_paid": "Purchase"}

    assert meta_event_name("order_paid", None, mapping) == "Purchase"
    assert meta_event_name("order", None, mapping) is None
    assert meta_event_name("order", None, {}) is None


@pytest.mark.parametrize("kind", ["external", "rule"])
def test_events_that_name_themselves_keep_their_name_only_when_meta_lists_it(kind: str) -> None:
    assert meta_event_name(kind, "LeadSubmitted") == "LeadSubmitted"
    assert meta_event_name(kind, "Booked") is None
    assert meta_event_name(kind, None) is None
    # their own name wins over any mapping of the kind
    assert meta_event_name(kind, "QualifiedLead", {kind: "Purchase"}) == "QualifiedLead"


def test_the_event_name_check_answers_the_name_or_lists_the_allowed_ones() -> None:
    assert check_meta_event_name("OrderShipped") == "OrderShipped"

    with pytest.raises(ValueError, match="must be one of") as raised:
        check_meta_event_name("orderShipped")

    listed = str(raised.value).removeprefix("must be one of ").split(", ")
    assert set(listed) == set(META_EVENT_NAMES)
    assert listed == sorted(listed)
