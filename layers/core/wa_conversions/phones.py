"""Phone numbers: WhatsApp's wa_id form, and free-text numbers (Shopify) parsed with phonenumbers."""

from __future__ import annotations


def wa_digits(raw: str | None) -> str | None:
    """A WhatsApp id or "from" as E.164 digits. Meta's docs show both "+16505551234" and "16505551234"."""
    if not raw:
        return None
    if raw.isdigit():  # what Meta sends: skip the per-character scan, 10x the cost of this check
        return raw
    digits = "".join(ch for ch in raw if ch.isdigit())
    return digits or None


def country_of(phone_digits: str | None) -> str | None:
    """ISO 3166 alpha-2 region of an E.164 number, for traffic-by-country, or None."""
    if not phone_digits:
        return None
    import phonenumbers

    try:
        number = phonenumbers.parse(f"+{phone_digits}", None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    return region if region and region != "ZZ" else None
