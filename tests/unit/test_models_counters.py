"""One hour item holds the deployment's counters and each listed tenant's copy ("tenant#<id>#<counter>"):
reading one back gives exactly that owner's counters under their plain names."""

from __future__ import annotations

from wa_conversions.models.counters import counters_of

HOUR_ITEM = {
    "received": 5,
    "sent": 4,
    "ad#120210000000001#clicks": 2,
    "agent#agent_1#responses": 1,
    "tenant#brand-a#received": 3,
    "tenant#brand-a#ad#120210000000001#clicks": 2,
    "tenant#brand-ab#received": 1,
    "tenant#brand-b#sent": 4,
}


def test_the_deployment_reads_every_counter_but_the_tenants_copies() -> None:
    assert counters_of(HOUR_ITEM, None) == {
        "received": 5,
        "sent": 4,
        "ad#120210000000001#clicks": 2,
        "agent#agent_1#responses": 1,
    }


def test_a_tenant_reads_its_own_copies_under_their_plain_names() -> None:
    assert counters_of(HOUR_ITEM, "brand-a") == {"received": 3, "ad#120210000000001#clicks": 2}
    assert counters_of(HOUR_ITEM, "brand-b") == {"sent": 4}


def test_a_tenant_whose_id_begins_another_s_reads_only_its_own() -> None:
    assert counters_of(HOUR_ITEM, "brand-ab") == {"received": 1}


def test_a_tenant_without_counters_in_the_hour_reads_nothing() -> None:
    assert counters_of(HOUR_ITEM, "brand-c") == {}
    assert counters_of({}, None) == {}


def test_the_item_read_is_left_as_it_was() -> None:
    item = dict(HOUR_ITEM)
    counters_of(item, "brand-a")["received"] = 99
    assert item == HOUR_ITEM
