"""Meta's normalisation and hashing of customer data (providers.md §3.4, after Meta's Business SDK
normalize.py): normalise, then SHA-256 as lowercase hex; a value that already is a hash passes."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable

_HASHED = re.compile(r"^([a-f0-9]{32}|[a-f0-9]{64})$")
_EMAIL = re.compile(r".+@.+\..+")
_PHONE = re.compile(r"^\d{1,4}\(?\d{2,3}\)?\d{4,}$")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_email(value: str) -> str | None:
    email = value.strip().lower()
    return email if _EMAIL.fullmatch(email) else None


def normalize_phone(value: str) -> str | None:
    phone = value.strip().lower()
    for character in " -()":
        phone = phone.replace(character, "")
    phone = phone.removeprefix("+")
    for _ in range(2):
        phone = phone.removeprefix("0")
    if not phone or phone.startswith("0") or not _PHONE.fullmatch(phone):
        return None
    return phone


def normalize_external_id(value: str) -> str | None:
    # Trimmed only: lower-casing would stop it matching the id the business's pixel sends.
    return value.strip() or None


def normalize_name(value: str) -> str | None:
    """fn, ln: lowercase, no punctuation; letters outside a-z stay, as UTF-8 ("mary", "josé")."""
    name = "".join(ch for ch in value.strip().lower() if not unicodedata.category(ch).startswith("P"))
    return name.strip() or None


def normalize_city(value: str) -> str | None:
    """ct: lowercase, no spaces, no punctuation ("Menlo Park" -> "menlopark")."""
    return "".join(ch for ch in value.lower() if ch.isalpha()) or None


def normalize_state(value: str) -> str | None:
    """st: the two-letter state or province code, lowercase ("CA" -> "ca")."""
    return "".join(ch for ch in value.lower() if ch.isalpha()) or None


def normalize_zip(value: str, country: str | None = None) -> str | None:
    """zp: lowercase, no spaces, no dash; a US code keeps its first 5 digits ("94035-1234" ->
    "94035"; UK "M1 1AE" -> "m11ae")."""
    text = "".join(value.lower().split())
    if (country or "").strip().lower() == "us":
        text = text.split("-")[0][:5]
    return text.replace("-", "") or None


def normalize_country(value: str) -> str | None:
    """country: ISO 3166-1 alpha-2, lowercase ("US" -> "us")."""
    code = "".join(ch for ch in value.lower() if "a" <= ch <= "z")
    return code if len(code) == 2 else None


def _hash(value: str | None, normalize: Callable[[str], str | None]) -> str | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    if _HASHED.fullmatch(lowered):
        return lowered
    normalized = normalize(value)
    return sha256_hex(normalized) if normalized else None


def hash_email(value: str | None) -> str | None:
    return _hash(value, normalize_email)


def hash_phone(value: str | None) -> str | None:
    return _hash(value, normalize_phone)


def hash_external_id(value: str | None) -> str | None:
    return _hash(value, normalize_external_id)


def hash_name(value: str | None) -> str | None:
    return _hash(value, normalize_name)


def hash_city(value: str | None) -> str | None:
    return _hash(value, normalize_city)


def hash_state(value: str | None) -> str | None:
    return _hash(value, normalize_state)


def hash_zip(value: str | None, country: str | None = None) -> str | None:
    return _hash(value, lambda text: normalize_zip(text, country))


def hash_country(value: str | None) -> str | None:
    return _hash(value, normalize_country)
