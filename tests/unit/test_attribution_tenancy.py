"""attribution.tenancy: one tenant's view of the contact history. The keys an order gives are turned
into the tenant's own, another tenant's keys, links and email contacts are dropped, and the default
tenant (scope "") keeps today's unscoped keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wa_conversions.attribution.tenancy import TenantHistory

PHONE = "31612345678"


class Everyone:
    """The whole table: contacts of the default tenant (unscoped) and of brand-b and brand-c."""

    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {
            PHONE: {"tenant": None},
            f"brand-b~{PHONE}": {"tenant": "brand-b"},
        }
        self.links = {
            "TokB00000000": {"contact_key": f"brand-b~{PHONE}"},
            "TokC00000000": {"contact_key": f"brand-c~{PHONE}"},
            "TokA00000000": {"contact_key": PHONE},
        }
        self.asked: list[list[str]] = []
        self.windows: list[tuple[str, int, int]] = []

    def find_contact(self, contact_keys: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
        self.asked.append(list(contact_keys))
        key = next((k for k in contact_keys if k in self.contacts), None)
        return (key, self.contacts[key]) if key else None

    def link_token(self, token: str) -> dict[str, Any] | None:
        return self.links.get(token)

    def contacts_with_email(self, email: str) -> list[str]:
        return [f"brand-b~{PHONE}", "brand-c~uid:NL.5", "uid:NL.9"]

    def referrals(self, contact_key: str) -> list[dict[str, Any]]:
        return [{"contact_key": contact_key, "ctwa_clid": "CLID", "received_at": 1}]

    def inbound_between(self, contact_key: str, start: int, end: int) -> bool:
        self.windows.append((contact_key, start, end))
        return True


def test_bare_keys_are_asked_for_under_the_tenants_scope() -> None:
    table = Everyone()

    found = TenantHistory(table, "brand-b").find_contact([PHONE, "uid:NL.9"])

    assert found == (f"brand-b~{PHONE}", {"tenant": "brand-b"})
    assert table.asked == [[f"brand-b~{PHONE}", "brand-b~uid:NL.9"]]


def test_another_tenants_keys_are_dropped_and_the_tenants_own_kept() -> None:
    table = Everyone()

    found = TenantHistory(table, "brand-b").find_contact([f"brand-c~{PHONE}", f"brand-b~{PHONE}"])

    assert found is not None and found[0] == f"brand-b~{PHONE}"
    assert table.asked == [[f"brand-b~{PHONE}"]]


def test_only_other_tenants_keys_ask_nothing_and_find_nobody() -> None:
    table = Everyone()

    assert TenantHistory(table, "brand-b").find_contact([f"brand-c~{PHONE}"]) is None
    assert table.asked == []


def test_the_default_tenant_reads_todays_unscoped_keys_and_not_a_listed_tenants() -> None:
    table = Everyone()
    history = TenantHistory(table, "")

    assert history.find_contact([PHONE]) == (PHONE, {"tenant": None})
    assert history.find_contact([f"brand-b~{PHONE}"]) is None
    assert table.asked == [[PHONE]]


def test_a_link_token_is_known_only_to_the_tenant_whose_contact_it_names() -> None:
    brand_b, default = TenantHistory(Everyone(), "brand-b"), TenantHistory(Everyone(), "")

    assert brand_b.link_token("TokB00000000") == {"contact_key": f"brand-b~{PHONE}"}
    assert brand_b.link_token("TokC00000000") is None
    assert brand_b.link_token("TokA00000000") is None  # the default tenant's contact
    assert default.link_token("TokA00000000") == {"contact_key": PHONE}
    assert default.link_token("TokB00000000") is None
    assert brand_b.link_token("never-issued") is None


def test_an_email_names_only_the_tenants_own_contacts() -> None:
    assert TenantHistory(Everyone(), "brand-b").contacts_with_email("ana@example.com") == [f"brand-b~{PHONE}"]
    assert TenantHistory(Everyone(), "").contacts_with_email("ana@example.com") == ["uid:NL.9"]


def test_clicks_and_messages_are_read_for_the_contact_found() -> None:
    table = Everyone()
    history = TenantHistory(table, "brand-b")

    assert history.referrals(f"brand-b~{PHONE}")[0]["contact_key"] == f"brand-b~{PHONE}"
    assert history.inbound_between(f"brand-b~{PHONE}", 10, 20) is True
    assert table.windows == [(f"brand-b~{PHONE}", 10, 20)]
