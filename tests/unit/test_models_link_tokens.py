"""Link tokens read off an order: where each travels (a `wac` note attribute, wac=<token> in a URL, a
note or an attribute value), in which order they are answered, and what is not a token."""

from __future__ import annotations

import pytest

from wa_conversions.models.link_tokens import tokens_in

FIRST = "Kx3k9QzLw0aB"
SECOND = "p_Q-7rT2vW9yZ1aC"
THIRD = "Zz0123456789abcdefghijklmnopqrst"  # 32 characters, the longest a token may be


def test_the_wac_attribute_comes_first_then_the_texts_in_order_then_other_attribute_values() -> None:
    found = tokens_in(
        [f"/products/mug?wac={SECOND}", None, f"https://l.wl.co/l?u=x&wac={THIRD}"],
        {"gift": f"yes; wac={FIRST}x", "wac": FIRST, "source": f"ad wac:{THIRD}"},
    )
    assert found == (FIRST, SECOND, THIRD, f"{FIRST}x")


def test_a_token_found_several_times_is_answered_once_where_first_seen() -> None:
    found = tokens_in(
        [f"?wac={SECOND}", f"Note: wac: {FIRST}", f"#wac={SECOND}"],
        {"wac": f"  {FIRST}\n", "landing": f"?a=1&wac={SECOND}"},
    )
    assert found == (FIRST, SECOND)


@pytest.mark.parametrize(
    "text",
    [
        f"wac={FIRST}",
        f"https://shop.test/p?wac={FIRST}&utm_source=wa",
        f"https://shop.test/p#wac={FIRST}",
        f"utm=a;wac={FIRST}",
        f"tags: a,wac={FIRST}",
        f"Please gift wrap.\nwac:\t{FIRST}",
    ],
)
def test_a_token_is_read_after_any_separator_a_url_or_note_uses(text: str) -> None:
    assert tokens_in([text], {}) == (FIRST,)


@pytest.mark.parametrize(
    "text",
    [
        f"https://shop.test/p?nowac={FIRST}",
        f"https://shop.test/p?WAC={FIRST}",
        f"https://shop.test/p?wac={FIRST[:11]}",
        f"https://shop.test/p?wac=={FIRST}",
        "",
    ],
)
def test_what_is_not_a_wac_parameter_with_a_token_is_no_token(text: str) -> None:
    assert tokens_in([text], {}) == ()


@pytest.mark.parametrize("value", [FIRST[:11], THIRD + "u", f"{FIRST} {SECOND}", 42, None])
def test_a_wac_attribute_counts_only_when_it_is_one_bare_token(value: object) -> None:
    assert tokens_in([], {"wac": value}) == ()


def test_a_wac_attribute_naming_its_parameter_is_read_as_text() -> None:
    assert tokens_in([], {"wac": f"wac={FIRST}!"}) == (FIRST,)
