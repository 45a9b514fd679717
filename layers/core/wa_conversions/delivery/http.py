"""One httpx.Client per destination, built on first use and kept for the execution environment, so
warm invocations reuse connections; and `send`, which turns any answer or failure into an Outcome.

httpx is imported here only, lazily by the runner's destinations, never at handler import time.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from .outcome import Outcome, classify_exception, classify_response

DEFAULT_TIMEOUT_SECONDS = 5.0
USER_AGENT = "wa-conversions/0.1"

_clients: dict[tuple[str, str, float], httpx.Client] = {}
_lock = threading.Lock()


def client_for(destination: str, base_url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> httpx.Client:
    key = (destination, base_url, timeout)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = httpx.Client(
                base_url=base_url,
                # connect fails fast; the read budget is the destination's to use
                timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
                headers={"User-Agent": USER_AGENT},
                limits=httpx.Limits(max_keepalive_connections=5, max_connections=10),
            )
            _clients[key] = client
        return client


def close_all() -> None:
    """Tests that switch destinations' addresses call this."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
    conflict_is_delivered: bool = False,
) -> Outcome:
    try:
        response = client.request(method, url, json=json, headers=headers)
    except httpx.HTTPError as error:
        return classify_exception(error)
    return classify_response(response, conflict_is_delivered=conflict_is_delivered)
