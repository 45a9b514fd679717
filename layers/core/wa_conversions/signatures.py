"""Webhook signatures, always over the raw body bytes and compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac

META_SIGNATURE_PREFIX = "sha256="


def meta_signature(body: bytes, app_secret: str) -> str:
    """X-Hub-Signature-256 as Meta computes it."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"{META_SIGNATURE_PREFIX}{digest}"


def verify_meta_signature(body: bytes, header: str, app_secret: str) -> bool:
    expected = meta_signature(body, app_secret)
    return hmac.compare_digest(expected.encode("ascii"), header.strip().lower().encode("ascii", "replace"))


def verify_hmac_sha256(body: bytes, header: str, secret: str) -> bool:
    """A bare HMAC-SHA256 of the body, as hex (optionally "sha256="-prefixed) or base64: 360dialog
    documents the algorithm for x-360dialog-signature but not the encoding, so both are accepted."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    given = header.strip().removeprefix(META_SIGNATURE_PREFIX).encode("ascii", "replace")
    hex_ok = hmac.compare_digest(digest.hex().encode("ascii"), given.lower())
    base64_ok = hmac.compare_digest(base64.b64encode(digest), given)
    return hex_ok or base64_ok


def shopify_signature(body: bytes, secret: str) -> str:
    """X-Shopify-Hmac-Sha256: base64 of the HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def verify_shopify_signature(body: bytes, header: str, secret: str) -> bool:
    expected = shopify_signature(body, secret)
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("ascii", "replace"))


def constant_time_equals(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
