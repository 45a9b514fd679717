"""Money every destination can take: an ISO 4217 code, and an amount that is a finite JSON number,
not negative, under 10^12 and no finer than the currency's minor unit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from wa_conversions.models.money import (
    MAX_AMOUNT,
    Amount,
    Currency,
    bounded,
    is_currency,
    minor_units,
    precision_problem,
)


class Price(BaseModel):
    """A request model as the package declares money: the currency before the amount."""

    currency: Currency
    amount: Amount


def refusal(body: str) -> tuple[str, tuple[int | str, ...], str]:
    with pytest.raises(ValidationError) as raised:
        Price.model_validate_json(body)
    [error] = raised.value.errors()
    return error["type"], error["loc"], error["msg"]


def test_a_json_price_reads_as_an_exact_decimal_in_the_upper_case_code() -> None:
    price = Price.model_validate_json('{"currency": " usd ", "amount": 19.99}')
    assert (price.currency, price.amount) == ("USD", Decimal("19.99"))


@pytest.mark.parametrize(
    ("body", "amount"),
    [
        ('{"currency": "JPY", "amount": 1500}', Decimal(1500)),
        ('{"currency": "KWD", "amount": 1.234}', Decimal("1.234")),
        ('{"currency": "CLF", "amount": 0.0001}', Decimal("0.0001")),
        ('{"currency": "XAU", "amount": 2.5}', Decimal("2.5")),
        ('{"currency": "EUR", "amount": 0}', Decimal(0)),
        ('{"currency": "VND", "amount": 999999999999}', Decimal(999_999_999_999)),
    ],
)
def test_amounts_within_the_currency_s_minor_unit_are_taken(body: str, amount: Decimal) -> None:
    assert Price.model_validate_json(body).amount == amount


def test_trailing_zeros_are_not_decimals_the_currency_lacks() -> None:
    assert Price.model_validate({"currency": "JPY", "amount": Decimal("1500.00")}).amount == 1500


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"currency": "JPY", "amount": 1.5}', "JPY amounts have no decimals"),
        ('{"currency": "USD", "amount": 19.999}', "USD amounts have at most 2 decimals"),
        ('{"currency": "BHD", "amount": 1.2345}', "BHD amounts have at most 3 decimals"),
        ('{"currency": "XAU", "amount": 0.12345}', "XAU amounts have at most 4 decimals"),
    ],
)
def test_an_amount_finer_than_the_currency_s_minor_unit_is_refused(body: str, message: str) -> None:
    assert refusal(body) == ("currency_precision", ("amount",), message)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ('{"currency": "USD", "amount": "19.99"}', "number_type"),
        ('{"currency": "USD", "amount": true}', "number_type"),
        ('{"currency": "USD", "amount": null}', "number_type"),
        ('{"currency": "USD", "amount": -0.01}', "greater_than_equal"),
        ('{"currency": "USD", "amount": 1000000000000}', "amount_too_large"),
        ('{"currency": "USD", "amount": NaN}', "finite_number"),
        ('{"currency": "USD", "amount": Infinity}', "finite_number"),
    ],
)
def test_an_amount_no_destination_takes_is_refused(body: str, kind: str) -> None:
    error_type, loc, _ = refusal(body)
    assert (error_type, loc) == (kind, ("amount",))


@pytest.mark.parametrize(
    ("currency", "kind", "message"),
    [
        ('"XYZ"', "currency", "'XYZ' is not an ISO 4217 currency code"),
        ('"dollars"', "currency", "'dollars' is not an ISO 4217 currency code"),
        ("840", "string_type", "Input should be a valid string"),
        ('"EUR EUR EUR"', "string_too_long", "String should have at most 10 characters"),
    ],
)
def test_a_currency_that_is_not_an_iso_4217_code_is_refused(currency: str, kind: str, message: str) -> None:
    assert refusal(f'{{"currency": {currency}, "amount": 1}}') == (kind, ("currency",), message)


def test_codes_and_minor_units_follow_iso_4217() -> None:
    assert all(is_currency(code) for code in ("EUR", "MXN", "BRL", "XCG", "ZWG"))
    assert not any(is_currency(code) for code in ("eur", "BTC", "", "EURO"))
    assert [minor_units(c) for c in ("EUR", "JPY", "KRW", "OMR", "UYW", "XDR")] == [2, 0, 0, 3, 4, 4]


def test_precision_problem_names_the_currency_s_limit_or_none() -> None:
    assert precision_problem(Decimal("10.50"), "USD") is None
    assert precision_problem(Decimal("5E+2"), "JPY") is None
    assert precision_problem(Decimal("0.5"), "KRW") == "KRW amounts have no decimals"
    assert precision_problem(Decimal("0.005"), "EUR") == "EUR amounts have at most 2 decimals"


@pytest.mark.parametrize("text", ["12.50", "0", "999999999999.99"])
def test_a_shopify_amount_a_destination_takes_is_kept(text: str) -> None:
    assert bounded(Decimal(text)) == Decimal(text)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e400", "-0.01", str(MAX_AMOUNT)])
def test_a_shopify_amount_no_destination_takes_is_dropped(text: str) -> None:
    assert bounded(Decimal(text)) is None


def test_no_amount_stays_none() -> None:
    assert bounded(None) is None
