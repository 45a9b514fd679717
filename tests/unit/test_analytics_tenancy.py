"""Per-tenant analytics (docs/tenants.md): which tenant an event names, its copy of the counters an
event adds, and the ad spend that is the tenant's."""

from __future__ import annotations

from typing import Any

import pytest

from wa_conversions.analytics.tenancy import ad_ids_of, spend_of_tenant, tenant_of, with_tenant
from wa_conversions.models.ad_day import AdDay

HOUR = "2026-06-18T09"


def spend_row(account_id: str, ad_id: str, spend: str = "10") -> AdDay:
    return AdDay.model_validate(
        {"account_id": account_id, "ad_id": ad_id, "date_start": "2026-06-18", "spend": spend}
    )


@pytest.mark.parametrize(
    ("properties", "tenant"),
    [
        ({"tenant": "brand-a", "contactKey": "254712345678"}, "brand-a"),
        ({"contactKey": "254712345678"}, None),
        ({"tenant": ""}, None),
        ({"tenant": None}, None),
        ({"tenant": 7}, None),
        ({"tenant": ["brand-a"]}, None),
    ],
)
def test_the_tenant_is_a_non_empty_name_the_event_carries(properties: dict[str, Any], tenant: str) -> None:
    assert tenant_of(properties) == tenant


def test_without_a_tenant_the_deltas_are_the_deployment_s_alone() -> None:
    deltas = {f"{HOUR}|received": 1, f"{HOUR}|country#KE": 1}
    scoped = with_tenant(deltas, None, {f"{HOUR}|new_contacts": 1})
    assert scoped == deltas
    scoped[f"{HOUR}|received"] = 5
    assert deltas[f"{HOUR}|received"] == 1  # a copy: the caller's deltas are left as they were


def test_a_tenant_s_event_adds_each_counter_again_under_the_tenant() -> None:
    deltas = {f"{HOUR}|received": 1, f"{HOUR}|ad#120210000000001#clicks": 1}
    assert with_tenant(deltas, "brand-a") == {
        f"{HOUR}|received": 1,
        f"{HOUR}|ad#120210000000001#clicks": 1,
        f"{HOUR}|tenant#brand-a#received": 1,
        f"{HOUR}|tenant#brand-a#ad#120210000000001#clicks": 1,
    }


def test_what_was_counted_before_the_tenant_was_known_is_added_for_the_tenant_only() -> None:
    # the contact's first message came before any event named its tenant: counted for the deployment then
    before = {"2026-06-17T22|received": 1, "2026-06-17T22|new_contacts": 1}
    now = {f"{HOUR}|received": 1}
    assert with_tenant(now, "brand-a", before) == {
        f"{HOUR}|received": 1,
        f"{HOUR}|tenant#brand-a#received": 1,
        "2026-06-17T22|tenant#brand-a#received": 1,
        "2026-06-17T22|tenant#brand-a#new_contacts": 1,
    }


def test_a_counter_moved_and_counted_before_adds_up_and_what_cancels_is_left_out() -> None:
    # a late event takes a "sent" back from one hour that was counted before the tenant was known
    deltas = {f"{HOUR}|sent": -1, "2026-06-18T08|sent": 1}
    before = {f"{HOUR}|sent": 1, f"{HOUR}|delivered": 1}
    assert with_tenant(deltas, "brand-a", before) == {
        f"{HOUR}|sent": -1,
        "2026-06-18T08|sent": 1,
        "2026-06-18T08|tenant#brand-a#sent": 1,
        f"{HOUR}|tenant#brand-a#delivered": 1,
    }


def test_a_tenant_listing_its_ad_accounts_has_their_spend_with_or_without_act() -> None:
    rows = [spend_row("111", "A"), spend_row("act_222", "B"), spend_row("333", "C")]
    found = spend_of_tenant(rows, [" act_111", "222 "], ad_ids=["C"])
    assert [row.ad_id for row in found] == ["A", "B"]  # its accounts decide: not the ads it was clicked on


def test_a_tenant_without_ad_accounts_has_the_spend_of_the_ads_its_clicks_came_from() -> None:
    rows = [spend_row("111", "A"), spend_row("111", "B"), spend_row("222", "C", "3")]
    assert [row.ad_id for row in spend_of_tenant(rows, [], ad_ids={"C", "A"})] == ["A", "C"]
    assert spend_of_tenant(rows, (), ad_ids=set()) == []


def test_the_ads_named_by_counters_are_every_ad_of_every_day() -> None:
    days: dict[str, dict[str, float]] = {
        "2026-06-18T09": {"received": 2, "ad#A1#clicks": 1, "ad#A2#revenue:USD": 49.9, "agent#x#sent": 1},
        "2026-06-19T10": {"ad#A1#conversations": 1, "ad#A3#orders": 1},
        "2026-06-20T11": {"sent": 1},
    }
    assert ad_ids_of(days) == {"A1", "A2", "A3"}
    assert ad_ids_of({}) == set()
