"""WhatsApp ids as E.164 digits, and the country a number belongs to for traffic by country."""

from __future__ import annotations

import pytest

from tests.support import webhooks as wh
from wa_conversions.phones import country_of, wa_digits


def test_meta_s_wa_id_from_its_sample_webhook_is_taken_as_it_is() -> None:
    value = wh.sample_json("meta_docs_text_message_ctwa_referral.json")["entry"][0]["changes"][0]["value"]
    assert wa_digits(value["contacts"][0]["wa_id"]) == "16505551234"
    assert wa_digits(value["messages"][0]["from"]) == "16505551234"


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("+16505551234", "16505551234"),
        ("+1 (650) 555-1234", "16505551234"),
        ("whatsapp:+14155238886", "14155238886"),
        ("00 31 6 12345678", "0031612345678"),
    ],
)
def test_punctuation_and_prefixes_are_dropped_and_the_digits_kept_in_order(raw: str, digits: str) -> None:
    assert wa_digits(raw) == digits


@pytest.mark.parametrize("raw", [None, "", "+", "whatsapp:", "unknown"])
def test_a_value_without_digits_is_no_phone(raw: str | None) -> None:
    assert wa_digits(raw) is None


@pytest.mark.parametrize(
    ("digits", "country"),
    [
        ("16505551234", "US"),
        ("14155238886", "US"),
        ("4915112345678", "DE"),
        ("316012345678", "NL"),
        # +44 is shared: the number's own range says which territory it belongs to
        ("447911123456", "GG"),
        ("447400123456", "GB"),
    ],
)
def test_a_number_s_country_is_its_iso_region(digits: str, country: str) -> None:
    assert country_of(digits) == country


@pytest.mark.parametrize("digits", [None, "", "0", "999123456"])
def test_a_number_no_country_is_known_for_has_none(digits: str | None) -> None:
    assert country_of(digits) is None
