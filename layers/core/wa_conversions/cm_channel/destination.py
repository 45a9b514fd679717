"""CM.com's events endpoint as a delivery destination (wa_conversions.delivery): one POST per event,
the product token as the X-CM-PRODUCTTOKEN header, and the read-marking recorded on the message once
CM.com accepted it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..delivery import http
from ..delivery.outcome import Outcome
from ..delivery.runner import Job, Planned, QueuedMessage, Skip
from ..errors import PermanentFailure
from .commands import CommandError, EventCommand, EventType, NotMarkable, command_from

if TYPE_CHECKING:
    import httpx

    from ..store.cm_channel import CmChannelRepository

PRODUCT_TOKEN_HEADER = "X-CM-PRODUCTTOKEN"  # noqa: S105 - a header name, not a secret


class CmEventsDestination:
    name = "cm_events"
    # MarkAsRead, Block and UnBlock set a state, so sending one twice is harmless: retry the unknown.
    dedupes = True
    max_batch = 1

    def __init__(
        self,
        business_number: str,
        event_url: str,
        client_factory: Callable[[], httpx.Client],
        product_token: Callable[[], str],
        channel: CmChannelRepository,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Client and token are lazy: a batch where everything is skipped builds neither.
        self._business_number = business_number
        self._event_url = event_url
        self._client_factory = client_factory
        self._product_token = product_token
        self._channel = channel
        self._clock = clock

    def plan(self, message: QueuedMessage) -> Planned | Skip:
        try:
            command = command_from(message.json)
        except NotMarkable as reason:
            return Skip(str(reason), event_name=EventType.MARK_AS_READ.value)
        except CommandError as error:
            raise PermanentFailure(str(error)) from None
        if not self._business_number:
            raise PermanentFailure("CmBusinessNumber is not configured: CM.com needs the sender")
        return Planned(
            event_id=command.event_id, request=command, event_name=command.type.value, kind="cm_event"
        )

    def batch_key(self, planned: Planned) -> str:
        return ""

    def send(self, jobs: Sequence[Job]) -> Outcome:
        [job] = jobs
        command: EventCommand = job.planned.request
        body = command.request_body(self._business_number)
        headers = {PRODUCT_TOKEN_HEADER: self._product_token()}
        return http.send(self._client_factory(), "POST", self._event_url, json=body, headers=headers)

    def on_delivered(self, job: Job, outcome: Outcome) -> None:
        command: EventCommand = job.planned.request
        if command.type is EventType.MARK_AS_READ and command.message_id:
            self._channel.mark_read(command.message_id, int(self._clock()))
