"""From a free-text phone (a Shopify order, an off-thread event) to the keys WhatsApp contacts are
stored under.

A contact is keyed by its wa_id digits, and WhatsApp does not always write a number as E.164: a
Mexican mobile's wa_id carries a "1" after the country code (521 + ten digits), and a Brazilian mobile
registered before the ninth digit was added may lack it. So one parsed number yields every form
WhatsApp may have used, canonical E.164 first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..models.commerce import PhoneCandidate

MEXICO = 52
BRAZIL = 55
INTERNATIONAL_MIN_DIGITS = 11


@dataclass(frozen=True, slots=True)
class ResolvedPhones:
    """`e164` is the first candidate that parsed (digits, no "+"); `keys` every contact key to try,
    in the order the candidates were given. `found_any` tells "no phone" from "none parsed"."""

    e164: str | None
    keys: tuple[str, ...]
    found_any: bool


def parse_e164(raw: str, region: str | None) -> str | None:
    """E.164 digits of a free-text number, or None when it is not a possible number."""
    import phonenumbers

    text = raw.strip()
    if not text:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        # wa_id style, international without "+" ("5215512345678"); a shorter bare number is
        # national and needs a region to mean anything.
        if not (text.isdigit() and len(text) >= INTERNATIONAL_MIN_DIGITS):
            return None
        try:
            number = phonenumbers.parse("+" + text, None)
        except phonenumbers.NumberParseException:
            return None
    national = str(number.national_number)
    if number.country_code == MEXICO and len(national) == 11 and national.startswith("1"):
        # The old mobile form "+52 1 ...": today's E.164 drops the 1.
        national = national[1:]
        number = phonenumbers.PhoneNumber(country_code=MEXICO, national_number=int(national))
    if not phonenumbers.is_possible_number(number):
        return None
    return f"{number.country_code}{national}"


def whatsapp_forms(e164: str) -> list[str]:
    """Every wa_id WhatsApp may have given this number, the canonical form first."""
    forms = [e164]
    if e164.startswith(str(MEXICO)):
        national = e164[2:]
        if len(national) == 10:
            forms.append(f"{MEXICO}1{national}")
    elif e164.startswith(str(BRAZIL)):
        national = e164[2:]
        area, subscriber = national[:2], national[2:]
        if len(subscriber) == 9 and subscriber.startswith("9"):
            forms.append(f"{BRAZIL}{area}{subscriber[1:]}")
        elif len(subscriber) == 8 and subscriber[0] in "6789":
            # a mobile written without the ninth digit: its wa_id may carry it
            forms.append(f"{BRAZIL}{area}9{subscriber}")
    return forms


def resolve(candidates: Iterable[PhoneCandidate], default_country: str | None) -> ResolvedPhones:
    e164: str | None = None
    keys: list[str] = []
    found_any = False
    for candidate in candidates:
        if not candidate.raw or not candidate.raw.strip():
            continue
        found_any = True
        parsed = parse_e164(candidate.raw, candidate.country or default_country)
        if parsed is None:
            continue
        e164 = e164 or parsed
        for form in whatsapp_forms(parsed):
            if form not in keys:
                keys.append(form)
    return ResolvedPhones(e164=e164, keys=tuple(keys), found_any=found_any)
