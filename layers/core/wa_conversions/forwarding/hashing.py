"""Meta's normalisation and hashing of customer data (providers.md §3.4, after Meta's Business SDK
normalize.py): normalise, then SHA-256 as lowercase hex; a value that already is a hash passes."""

from __future__ import annotations

import hashlib
import re

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
    return value.strip().lower() or None


def _hash(value: str | None, normalize: object) -> str | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    if _HASHED.fullmatch(lowered):
        return lowered
    assert callable(normalize)
    normalized = normalize(value)
    return sha256_hex(normalized) if normalized else None


def hash_email(value: str | None) -> str | None:
    return _hash(value, normalize_email)


def hash_phone(value: str | None) -> str | None:
    return _hash(value, normalize_phone)


def hash_external_id(value: str | None) -> str | None:
    return _hash(value, normalize_external_id)
