"""Stand-ins for capture's unit tests (tests/unit/test_capture_*.py): an ingest queue that keeps what
the acknowledging functions hand off, and a capture service that keeps the batches a pipeline applies."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from wa_conversions.capture.service import BatchResult
from wa_conversions.errors import HandoffError
from wa_conversions.models.domain import Update

if TYPE_CHECKING:
    from wa_conversions.capture.ingest import IngestQueue
    from wa_conversions.capture.service import CaptureService


@dataclass
class HandedOff:
    """An IngestQueue's send calls, and how many times the queue was asked for; `refuse` fails them."""

    calls: list[tuple[list[str], dict[str, str] | None]] = field(default_factory=list)
    built: int = 0
    refuse: bool = False

    def send(self, bodies: list[str], *, attributes: dict[str, str] | None = None) -> None:
        if self.refuse:
            raise HandoffError("1 of 1 entries not queued: ['ServiceUnavailable']")
        self.calls.append((list(bodies), attributes))

    def factory(self) -> Callable[[], IngestQueue]:
        def build() -> IngestQueue:
            self.built += 1
            return cast("IngestQueue", self)

        return build


@dataclass
class AppliedBatches:
    """A CaptureService that applies nothing and answers as if it applied every update it was given."""

    batches: list[list[Update]] = field(default_factory=list)

    def apply_batch(self, updates: Sequence[Update]) -> BatchResult:
        self.batches.append(list(updates))
        return BatchResult(received=len(updates), applied=len(updates), events=len(updates))

    def keys(self) -> list[list[str]]:
        return [[u.idempotency_key for u in batch] for batch in self.batches]

    def as_service(self) -> CaptureService:
        return cast("CaptureService", self)


def emptied(client: Any, table: str, key: tuple[str, ...] = ("pk", "sk")) -> Any:
    """`client` with `table` emptied: one moto for a test file, a clean table for each of its tests."""
    pages = client.get_paginator("scan").paginate(TableName=table, ProjectionExpression=", ".join(key))
    for page in pages:
        for item in page.get("Items", []):
            client.delete_item(TableName=table, Key={name: item[name] for name in key})
    return client
