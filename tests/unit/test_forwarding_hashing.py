"""Meta's normalisation and hashing of customer data (wa_conversions.forwarding.hashing), beyond Meta's
documented examples (tests/unit/test_meta_capi.py): what cannot be normalised is sent as nothing, and a
value that is a hash already passes as it is."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from wa_conversions.forwarding import hashing as h

MD5_OF_EMAIL = "5d41402abc4b2a76b9719d911017c592"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_sha256_is_lowercase_hex_of_the_utf8_text() -> None:
    assert h.sha256_hex("josé") == sha("josé")
    assert h.sha256_hex("josé") != h.sha256_hex("jose")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("00 44 20 7946 0958", "442079460958"),  # 00 international prefix dropped
        ("+49 (0)30 1234567", "490301234567"),
        ("1650CALLNOW", None),  # letters
        ("000123456789", None),  # a third zero: not a country code
        ("12345", None),  # too short for any number
        ("   ", None),
        ("+", None),
    ],
)
def test_a_phone_becomes_country_code_and_digits_or_nothing(given: str, expected: str | None) -> None:
    assert h.normalize_phone(given) == expected


@pytest.mark.parametrize("given", ["john@localhost", "@example.com", "john.example.com", ""])
def test_an_address_without_a_domain_is_no_email(given: str) -> None:
    assert h.normalize_email(given) is None
    assert h.hash_email(given) is None


@pytest.mark.parametrize(
    ("normalize", "given", "expected"),
    [
        (h.normalize_name, "  ...  ", None),
        (h.normalize_name, "Mary Ann", "mary ann"),
        (h.normalize_city, "Paris 75", "paris"),
        (h.normalize_city, "123", None),
        (h.normalize_state, "N.Y.", "ny"),
        (h.normalize_country, "u.s.", "us"),
        (h.normalize_country, "USA", None),
        (h.normalize_external_id, "   ", None),
    ],
)
def test_each_field_normalises_to_its_form_or_nothing(
    normalize: Callable[[str], str | None], given: str, expected: str | None
) -> None:
    assert normalize(given) == expected


@pytest.mark.parametrize(
    ("given", "country", "expected"),
    [
        ("94035 1234", "us", "94035"),
        (" 94035-1234 ", " US ", "94035"),
        ("94035-1234", None, "940351234"),  # outside the U.S. the dash only is dropped
        ("  ", "US", None),
    ],
)
def test_zip_codes_keep_five_digits_only_in_the_us(
    given: str, country: str | None, expected: str | None
) -> None:
    assert h.normalize_zip(given, country) == expected
    assert h.hash_zip(given, country) == (sha(expected) if expected else None)


@pytest.mark.parametrize(
    "hasher",
    [h.hash_email, h.hash_phone, h.hash_external_id, h.hash_name, h.hash_city, h.hash_state, h.hash_country],
)
def test_nothing_hashes_to_nothing_and_a_hash_passes_lowercased(
    hasher: Callable[[str | None], str | None],
) -> None:
    already = sha("someone")
    assert hasher(None) is None
    assert hasher(f"  {already.upper()} ") == already
    assert hasher(MD5_OF_EMAIL.upper()) == MD5_OF_EMAIL


@pytest.mark.parametrize(
    ("hasher", "given", "normalised"),
    [
        (h.hash_name, " O'Neil ", "oneil"),
        (h.hash_city, "Menlo Park", "menlopark"),
        (h.hash_state, "CA", "ca"),
        (h.hash_country, "NL", "nl"),
        (h.hash_phone, "+31 6 12345678", "31612345678"),
    ],
)
def test_each_field_is_hashed_after_normalising(
    hasher: Callable[[str | None], str | None], given: str, normalised: str
) -> None:
    assert hasher(given) == sha(normalised)


def test_a_value_that_normalises_to_nothing_is_not_hashed() -> None:
    assert [h.hash_phone("call me"), h.hash_country("Nederland"), h.hash_city("75008")] == [None] * 3
