"""Webhook signatures against published vectors and the providers' own validators: Shopify's base64
HMAC, the header forms each check accepts or refuses, and the URL spellings Twilio may have signed."""

from __future__ import annotations

import base64

import pytest
from twilio.request_validator import RequestValidator

from tests.support import twilio as tw
from tests.support import webhooks as wh
from wa_conversions.signatures import (
    constant_time_equals,
    meta_signature,
    shopify_signature,
    twilio_signature,
    verify_hmac_sha256,
    verify_meta_signature,
    verify_shopify_signature,
    verify_twilio_signature,
)

# RFC 4231, test case 2: HMAC-SHA256 with key "Jefe".
RFC4231_KEY = "Jefe"
RFC4231_DATA = b"what do ya want for nothing?"
RFC4231_HEX = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
RFC4231_BASE64 = base64.b64encode(bytes.fromhex(RFC4231_HEX)).decode("ascii")

ORDER = wh.sample("shopify_order_rest_fixture_shopify_python_api.json")
SHOP_SECRET = "shpss_0123456789abcdef"
AUTH_TOKEN = "twilio-auth-token"


class MultiValueForm:
    """A form with repeated names, as Flask's MultiDict hands it to Twilio's validator."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(name for name, _ in self._pairs)

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]


def test_meta_s_signature_is_the_published_hmac_sha256_in_hex() -> None:
    assert meta_signature(RFC4231_DATA, RFC4231_KEY) == f"sha256={RFC4231_HEX}"


def test_shopify_s_signature_is_the_published_hmac_sha256_in_base64() -> None:
    assert shopify_signature(RFC4231_DATA, RFC4231_KEY) == RFC4231_BASE64
    assert verify_shopify_signature(RFC4231_DATA, RFC4231_BASE64, RFC4231_KEY)


def test_a_shopify_order_verifies_only_with_its_body_and_secret() -> None:
    header = shopify_signature(ORDER, SHOP_SECRET)

    assert verify_shopify_signature(ORDER, f"  {header}\n", SHOP_SECRET)
    assert not verify_shopify_signature(ORDER.replace(b"}", b" }", 1), header, SHOP_SECRET)
    assert not verify_shopify_signature(ORDER, header, "shpss_another")


def test_a_shopify_header_in_hex_or_another_case_is_refused() -> None:
    header = shopify_signature(ORDER, SHOP_SECRET)
    hex_header = base64.b64decode(header).hex()

    assert not verify_shopify_signature(ORDER, hex_header, SHOP_SECRET)
    assert not verify_shopify_signature(ORDER, header.swapcase(), SHOP_SECRET)


@pytest.mark.parametrize("header", ["sha256=é" + "0" * 63, "ßignature", "\u00a0"])
def test_a_header_that_is_not_ascii_is_refused_not_an_error(header: str) -> None:
    assert not verify_meta_signature(RFC4231_DATA, header, RFC4231_KEY)
    assert not verify_hmac_sha256(RFC4231_DATA, header, RFC4231_KEY)
    assert not verify_shopify_signature(RFC4231_DATA, header, RFC4231_KEY)
    assert not verify_twilio_signature("https://example.com/x", [], header, AUTH_TOKEN)


def test_a_meta_header_needs_its_prefix_and_may_carry_surrounding_space() -> None:
    assert verify_meta_signature(RFC4231_DATA, f" sha256={RFC4231_HEX} \r\n", RFC4231_KEY)
    assert not verify_meta_signature(RFC4231_DATA, RFC4231_HEX, RFC4231_KEY)
    assert not verify_meta_signature(RFC4231_DATA, f"sha1={RFC4231_HEX}", RFC4231_KEY)


def test_a_bare_hmac_is_accepted_in_either_hex_case_but_base64_only_as_it_is() -> None:
    assert verify_hmac_sha256(RFC4231_DATA, RFC4231_HEX.upper(), RFC4231_KEY)
    assert verify_hmac_sha256(RFC4231_DATA, f"{RFC4231_BASE64}\n", RFC4231_KEY)
    assert not verify_hmac_sha256(RFC4231_DATA, RFC4231_BASE64.swapcase(), RFC4231_KEY)
    assert not verify_hmac_sha256(RFC4231_DATA, RFC4231_HEX[:-2], RFC4231_KEY)


def test_constant_time_equals_compares_whole_texts_of_any_script() -> None:
    assert constant_time_equals("verify-tøken-💬", "verify-tøken-💬")
    assert not constant_time_equals("verify-token", "verify-token ")
    assert not constant_time_equals("", "verify-token")


@pytest.mark.parametrize(
    ("signed_url", "checked_url"),
    [
        ("http://example.com:80/webhooks/twilio", "http://example.com/webhooks/twilio"),
        ("http://example.com/webhooks/twilio", "http://example.com:80/webhooks/twilio"),
        ("https://user:pass@example.com:443/hook?tenant=a", "https://user:pass@example.com/hook?tenant=a"),
    ],
)
def test_twilio_s_default_port_spellings_verify_as_its_validator_allows(
    signed_url: str, checked_url: str
) -> None:
    form = tw.inbound("14155238886", "SM" + "c" * 32)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(signed_url, form)

    assert RequestValidator(AUTH_TOKEN).validate(checked_url, form, signature)
    assert verify_twilio_signature(checked_url, list(form.items()), signature, AUTH_TOKEN)


def test_a_port_other_than_the_default_is_part_of_what_twilio_signed() -> None:
    form = tw.status("14155238886", "SM" + "d" * 32, "delivered")
    signature = twilio_signature("https://example.com/hook", list(form.items()), AUTH_TOKEN)

    assert not verify_twilio_signature(
        "https://example.com:8443/hook", list(form.items()), signature, AUTH_TOKEN
    )
    assert not verify_twilio_signature("http://example.com/hook", list(form.items()), signature, AUTH_TOKEN)


def test_repeated_parameters_are_signed_as_twilio_signs_them() -> None:
    url = "https://example.com/hook"
    pairs = [("MediaUrl0", "https://b.test"), ("Body", "hi"), ("MediaUrl0", "https://a.test")]
    expected = RequestValidator(AUTH_TOKEN).compute_signature(url, MultiValueForm(pairs))

    assert twilio_signature(url, pairs, AUTH_TOKEN) == expected
    assert twilio_signature(url, list(reversed(pairs)), AUTH_TOKEN) == expected
    assert verify_twilio_signature(url, pairs, f" {expected} ", AUTH_TOKEN)
