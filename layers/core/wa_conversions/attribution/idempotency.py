"""The Idempotency-Key header on operator POSTs: a client that retries a call (it timed out, the
connection dropped) with the same key gets the first answer again, not a second conversion.

Follows draft-ietf-httpapi-idempotency-key-header
(https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/) and Stripe's practice
(https://docs.stripe.com/api/idempotent_requests): the first answer, success or 4xx, is kept for
KEY_TTL_SECONDS and replayed with the same status and body; the same key with a different request is
422; a key whose first request is still running is 409. A request refused by validation claims
nothing, so it can be corrected and sent again with the same key.

A claim records the id the new resource will have. If the first request died half-way (a timeout
after the write), a retry after LEASE_SECONDS takes the claim over with that same id, and the
conditional write of the resource finds what the first one stored instead of making a second.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import ApiError, BadRequestError, ConflictError, UnprocessableError

HEADER = "Idempotency-Key"
KEY_TTL_SECONDS = 24 * 3600  # as Stripe: long enough for any client's retries, short enough to reuse
# Longer than API Gateway's 29 s integration timeout: a claim this old belongs to a request that died.
LEASE_SECONDS = 60
MAX_KEY_LENGTH = 255  # Stripe's limit; a UUID or a hash fits with room to spare
IN_PROGRESS = "in_progress"
COMPLETED = "completed"


class KeyStore(Protocol):
    def claim_idempotency_key(
        self, scope: str, key: str, attributes: dict[str, Any], now: int
    ) -> dict[str, Any] | None:
        """None when claimed; else the live claim that holds the key ({} if it vanished meanwhile)."""
        ...

    def take_over_idempotency_key(self, scope: str, key: str, claimed_at: int, now: int) -> bool: ...

    def complete_idempotency_key(
        self, scope: str, key: str, status_code: int, response: str, expires_at: int
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def parse_key(header: str | None) -> str | None:
    """The header's key, or None when it was not sent; a 400 naming the header when it is unusable."""
    if header is None:
        return None
    key = header.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise BadRequestError(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID", field=HEADER
        )
    return key


def fingerprint(request: Any) -> str:
    """What makes two requests the same request: their validated content, not their spelling."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class IdempotentRequests:
    def __init__(self, store: KeyStore, scope: str, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._scope = scope
        self._clock = clock

    def run(self, key: str | None, request: Any, handler: Callable[[str], Answer]) -> Answer:
        """Answer `request` once per key: `handler` gets the id the resource must have."""
        if key is None:
            return handler(str(uuid.uuid4()))
        resource_id = self._claim(key, fingerprint(request))
        if isinstance(resource_id, Answer):
            return resource_id
        try:
            answer = handler(resource_id)
        except ApiError as error:
            # A refusal is the first answer too, as Stripe keeps 4xx; other errors leave the lease.
            answer = Answer(error.status_code, error.body())
        self._store.complete_idempotency_key(
            self._scope,
            key,
            answer.status_code,
            json.dumps(answer.body),
            int(self._clock()) + KEY_TTL_SECONDS,
        )
        return answer

    def _claim(self, key: str, request_fingerprint: str) -> str | Answer:
        for _ in range(2):
            now = int(self._clock())
            resource_id = str(uuid.uuid4())
            stored = self._store.claim_idempotency_key(
                self._scope,
                key,
                {
                    "fingerprint": request_fingerprint,
                    "resource_id": resource_id,
                    "state": IN_PROGRESS,
                    "claimed_at": now,
                    "expires_at": now + KEY_TTL_SECONDS,
                },
                now,
            )
            if stored is None:
                return resource_id
            if not stored:
                continue  # expired and removed between the write and the read: claim again
            if stored.get("fingerprint") != request_fingerprint:
                raise UnprocessableError(
                    f"This {HEADER} was already used with a different request; use a new key", field=HEADER
                )
            if stored.get("state") == COMPLETED:
                body = json.loads(str(stored["response"]))
                return Answer(int(stored["status_code"]), body, replayed=True)
            claimed_at = int(stored.get("claimed_at") or 0)
            if now - claimed_at < LEASE_SECONDS:
                raise ConflictError(
                    f"A request with this {HEADER} is still being processed; retry in a minute",
                    field=HEADER,
                )
            if self._store.take_over_idempotency_key(self._scope, key, claimed_at, now):
                return str(stored["resource_id"])
        raise ConflictError(
            f"A request with this {HEADER} is still being processed; retry in a minute", field=HEADER
        )
