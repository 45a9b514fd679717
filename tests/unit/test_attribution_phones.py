"""attribution.phones: free-text phones to the contact keys WhatsApp may have used, for the inputs the
scenario tests leave out: lower-case regions, wa_id-style digits without "+", impossible numbers, the
country of a candidate against the default, and keys repeated across candidates."""

from __future__ import annotations

import pytest

from wa_conversions.attribution.phones import ResolvedPhones, parse_e164, resolve, whatsapp_forms
from wa_conversions.models.commerce import PhoneCandidate


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        (
            "(650) 555-1234",
            "us",
            "16505551234",
        ),  # Shopify's country codes are upper-case; a setting may not be
        ("16505551234", None, "16505551234"),  # a wa_id: international digits without "+"
        ("  +49 1512 3456789  ", None, "4915123456789"),
        ("+44 20 7946 0958", "US", "442079460958"),  # the number's own country code beats the region
        ("6505551234", None, None),  # ten bare digits are national: without a region they mean nothing
        ("99912345678901", None, None),  # no country has code 999
        ("+1 650 555", None, None),  # too short to be a number
        ("   ", "US", None),
    ],
)
def test_free_text_to_e164_digits(raw: str, region: str | None, expected: str | None) -> None:
    assert parse_e164(raw, region) == expected


@pytest.mark.parametrize(
    ("e164", "forms"),
    [
        ("5211234567890", ["5211234567890"]),  # not a ten-digit Mexican national number: no other form
        ("551122223333", ["551122223333"]),  # a landline (2-5 first): no ninth digit to add
        ("551162223333", ["551162223333", "5511962223333"]),  # an 8-digit mobile: its wa_id may carry the 9
        ("4915123456789", ["4915123456789"]),
    ],
)
def test_whatsapp_forms_are_added_only_where_whatsapp_writes_them(e164: str, forms: list[str]) -> None:
    assert whatsapp_forms(e164) == forms


def test_blank_candidates_are_no_phone_at_all() -> None:
    assert resolve([PhoneCandidate(""), PhoneCandidate("   ", "US")], "US") == ResolvedPhones(
        e164=None, keys=(), found_any=False
    )


def test_the_same_number_written_twice_gives_each_key_once_in_first_seen_order() -> None:
    found = resolve(
        [
            PhoneCandidate("+52 55 1234 5678"),
            PhoneCandidate("5215512345678"),
            PhoneCandidate("(650) 555-1234", "US"),
        ],
        "MX",
    )

    assert found == ResolvedPhones(
        e164="525512345678", keys=("525512345678", "5215512345678", "16505551234"), found_any=True
    )


def test_the_address_country_beats_the_deployments_default() -> None:
    found = resolve([PhoneCandidate("55 1234 5678", "MX")], "US")

    assert (found.e164, found.keys) == ("525512345678", ("525512345678", "5215512345678"))


def test_the_first_parsed_candidate_is_the_phone_even_after_unparseable_ones() -> None:
    found = resolve([PhoneCandidate("ask at the door"), PhoneCandidate("(11) 98765-4321", "BR")], None)

    assert found == ResolvedPhones(
        e164="5511987654321", keys=("5511987654321", "551187654321"), found_any=True
    )
