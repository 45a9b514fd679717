"""What the four conversion forwarders share: reading the queued conversion and the common skips."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..delivery.outcome import Outcome
from ..delivery.runner import Job, Planned, QueuedMessage, Skip
from ..errors import PermanentFailure
from .conversion import ConversionEvent, ConversionParseError, parse_conversion

if TYPE_CHECKING:
    import httpx


class ConversionDestination:
    """Subclasses implement `request_for` (what to send, or a skip reason) and `send_one`; Meta
    batches by overriding `max_batch`, `batch_key` and `send`."""

    name = "conversion"
    # Meta does not dedupe business-messaging events (docs/forwarding.md), CM.com and 360dialog neither.
    dedupes = False
    max_batch = 1

    def __init__(self, client_factory: Callable[[], httpx.Client], secret: Callable[[], str]) -> None:
        # Both lazy: a batch where everything is skipped never builds a client or reads SSM.
        self._client_factory = client_factory
        self._secret = secret

    @property
    def client(self) -> httpx.Client:
        return self._client_factory()

    def plan(self, message: QueuedMessage) -> Planned | Skip:
        try:
            event = parse_conversion(message.json)
        except ConversionParseError as error:
            raise PermanentFailure(str(error)) from None
        facts = {
            "event_name": event.name,
            "kind": event.properties.kind,
            "conversion_id": event.properties.conversion_id,
            "order_id": event.properties.order_id,
        }
        if event.properties.test:
            return Skip("test order: never forwarded", event_id=event.properties.event_id, **facts)
        request = self.request_for(event)
        if isinstance(request, str):
            return Skip(request, event_id=event.properties.event_id, **facts)
        return Planned(
            event_id=event.properties.event_id, request=request, note=self.note_for(request), **facts
        )

    def request_for(self, event: ConversionEvent) -> object | str:
        raise NotImplementedError

    def note_for(self, request: object) -> str | None:
        return None

    def batch_key(self, planned: Planned) -> str:
        return ""

    def send(self, jobs: Sequence[Job]) -> Outcome:
        [job] = jobs
        return self.send_one(job)

    def send_one(self, job: Job) -> Outcome:
        raise NotImplementedError

    def on_delivered(self, job: Job, outcome: Outcome) -> None:
        return None
