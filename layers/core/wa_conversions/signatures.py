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


def twilio_signature(url: str, params: list[tuple[str, str]], auth_token: str) -> str:
    """X-Twilio-Signature as Twilio computes it: base64 HMAC-SHA1 of the URL followed by every POST
    parameter's name and value, sorted by name (https://www.twilio.com/docs/usage/security)."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    text = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(auth_token.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_twilio_signature(url: str, params: list[tuple[str, str]], header: str, auth_token: str) -> bool:
    """Twilio signs the URL as configured, with or without the scheme's default port: like its own
    RequestValidator, both spellings are accepted."""
    given = header.strip().encode("ascii", "replace")
    return any(
        hmac.compare_digest(twilio_signature(candidate, params, auth_token).encode("ascii"), given)
        for candidate in _port_variants(url)
    )


def _port_variants(url: str) -> list[str]:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    if parts.port is None and default is not None:
        other = f"{prefix}{host}:{default}"
    elif parts.port == default:
        other = f"{prefix}{host}"
    else:
        return [url]
    return [url, urlunsplit(parts._replace(netloc=other))]
