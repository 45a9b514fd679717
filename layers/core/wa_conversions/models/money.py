"""Money every destination can take: an ISO 4217 currency, and an amount that is a JSON number,
finite, not negative, below MAX_AMOUNT and written to the currency's minor unit at most.

`Amount` and `Currency` are the one pair of types every request model that takes money uses. An
`Amount` checks its precision against a sibling field named `currency`, so a model declares
`currency` before the amount (pydantic validates fields in declaration order).

ISO 4217 list one (active codes, 2024) with its minor units, kept here rather than through Babel,
which would add megabytes to the layer and to every cold start for one table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, ValidationInfo
from pydantic_core import PydanticCustomError


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


ISO_4217 = _codes(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR
    FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN
    MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR
    SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD
    USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU
    XUA YER ZAR ZMW ZWG ZWL
    """
)
# ISO 4217 minor units other than 2; funds and metals have none ("N.A."): NO_MINOR_UNIT_DIGITS.
_MINOR_UNITS = {
    **dict.fromkeys(_codes("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"), 0),
    **dict.fromkeys(_codes("BHD IQD JOD KWD LYD OMR TND"), 3),
    **dict.fromkeys(_codes("CLF UYW"), 4),
}
_NO_MINOR_UNIT = _codes("XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XUA")
NO_MINOR_UNIT_DIGITS = 4

# Far above any order (10^12 VND is 40 million USD), and exact in the JSON doubles destinations read.
MAX_AMOUNT = Decimal(10) ** 12


def is_currency(code: str) -> bool:
    return code in ISO_4217


def minor_units(currency: str) -> int:
    """How many decimals an amount in `currency` may have."""
    if currency in _NO_MINOR_UNIT:
        return NO_MINOR_UNIT_DIGITS
    return _MINOR_UNITS.get(currency, 2)


def bounded(amount: Decimal | None) -> Decimal | None:
    """The amount if a destination can take it, else None: for payloads we read but cannot refuse
    (Shopify's amounts are strings, and "NaN", "Infinity" or "1e400" parse as Decimals)."""
    if amount is None or not amount.is_finite() or not 0 <= amount < MAX_AMOUNT:
        return None
    return amount


def precision_problem(amount: Decimal, currency: str) -> str | None:
    digits = minor_units(currency)
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > digits:
        return f"{currency} amounts have {f'at most {digits}' if digits else 'no'} decimals"
    return None


def _json_number(value: Any) -> Any:
    # bool is an int in Python, and a string is not a number in JSON: neither is an amount.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PydanticCustomError("number_type", "Input should be a number")
    return value


def _currency_code(value: str) -> str:
    code = value.strip().upper()
    if not is_currency(code):
        raise PydanticCustomError(
            "currency", "{value} is not an ISO 4217 currency code", {"value": repr(value)}
        )
    return code


def _destination_safe(amount: Decimal, info: ValidationInfo) -> Decimal:
    if amount >= MAX_AMOUNT:
        raise PydanticCustomError("amount_too_large", "Input should be less than 10^12")
    currency = info.data.get("currency")
    problem = precision_problem(amount, currency) if isinstance(currency, str) else None
    if problem:
        raise PydanticCustomError("currency_precision", problem)
    return amount


Currency = Annotated[str, StringConstraints(strict=True, max_length=10), AfterValidator(_currency_code)]
Amount = Annotated[
    Decimal,
    BeforeValidator(_json_number),
    Field(ge=0, allow_inf_nan=False),
    AfterValidator(_destination_safe),
]
