"""One httpx.Client per destination, built on first use and kept for the execution environment, so
warm invocations reuse connections; and `send`, which turns any answer or failure into an Outcome.

httpx is imported here only, lazily by the runner's destinations, never at handler import time.
"""

from __future__ import annotations

import json as jsonlib
import threading
from typing import Any

import httpx

from .. import on_reset
from .outcome import Outcome, classify_exception, classify_response

DEFAULT_TIMEOUT_SECONDS = 5.0
# Connecting (TCP and TLS) fails fast; the read budget is the destination's to use.
CONNECT_TIMEOUT_SECONDS = 2.0
USER_AGENT = "wa-conversions/0.1"

_clients: dict[tuple[str, str, float], httpx.Client] = {}
_lock = threading.Lock()


def longest_request_seconds(timeout: float = DEFAULT_TIMEOUT_SECONDS) -> float:
    """How long one request can take: httpx limits each phase on its own (connect, then the body
    out, then the answer back), not the whole. The runner keeps this much time in hand."""
    return min(timeout, CONNECT_TIMEOUT_SECONDS) + 2 * timeout


def client_for(destination: str, base_url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> httpx.Client:
    key = (destination, base_url, timeout)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = httpx.Client(
                base_url=base_url,
                timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_SECONDS)),
                headers={"User-Agent": USER_AGENT},
                limits=httpx.Limits(max_keepalive_connections=5, max_connections=10),
            )
            _clients[key] = client
        return client


@on_reset
def close_all() -> None:
    """Closed by wa_conversions.reset(): tests that switch destinations' addresses call it."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


class UnsendableError(ValueError):
    """The body cannot be written as JSON (a NaN or infinite number, an object JSON has no form for)."""


def encode_json(body: Any) -> bytes:
    """Strict JSON, as the destinations parse it: NaN and Infinity are not JSON (RFC 8259 §6)."""
    try:
        return jsonlib.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise UnsendableError(f"the request cannot be written as JSON: {error}") from None


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
    conflict_is_delivered: bool = False,
) -> Outcome:
    """One request; a body that cannot be encoded is a permanent failure, found before sending."""
    try:
        content = encode_json(json) if json is not None else None
    except UnsendableError as error:
        return Outcome.permanent(str(error))
    request_headers = dict(headers or {})
    if content is not None:
        request_headers.setdefault("Content-Type", "application/json")
    try:
        response = client.request(method, url, content=content, headers=request_headers)
    except httpx.HTTPError as error:
        return classify_exception(error)
    return classify_response(response, conflict_is_delivered=conflict_is_delivered)
