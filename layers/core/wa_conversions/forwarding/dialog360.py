"""360dialog off-thread events (seeds/002): POST {base}/clients/{client_id}/external-events.

The first event of a conversion (the order, or the off-thread event itself) returns an
external_event_id; it is kept per conversion and sent as previous_external_event_id with the
conversion's follow-ups (paid, cancelled, refund), so 360dialog credits them to the same conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Dialog360Settings
from ..delivery import http
from ..delivery.log import DeliveryLog
from ..delivery.outcome import Outcome
from ..delivery.runner import Job
from .base import ConversionDestination
from .conversion import ConversionEvent

# What the lead did, by conversion kind; off-thread events carry their own `action`.
ACTIONS = {
    "order": "Purchased an item",
    "order_paid": "Paid an order",
    "order_cancelled": "Cancelled an order",
    "refund": "Refunded an order",
    "order_shipped": "Order shipped",
    "order_delivered": "Order delivered",
}
CHAIN_HEADS = frozenset({"order", "external"})
# A follow-up that comes before its order's external_event_id waits this many attempts (with the
# delivery backoff) for the order to be delivered, rather than going out unchained.
CHAIN_WAIT_ATTEMPTS = 4
WITH_REVENUE = frozenset({"order", "external", "refund"})


@dataclass(frozen=True, slots=True)
class Dialog360Request:
    conversion_id: str
    kind: str
    event: dict[str, Any]
    order_known: bool = True


class Dialog360Destination(ConversionDestination):
    name = "dialog360"

    def __init__(
        self, settings: Dialog360Settings, client_factory: Any, secret: Any, log: DeliveryLog
    ) -> None:
        super().__init__(client_factory, secret)
        self.settings = settings
        self.log = log

    def request_for(self, event: ConversionEvent) -> Dialog360Request | str:
        p = event.properties
        action = p.action or ACTIONS.get(p.kind)
        if not action:
            return f"no 360dialog action for a {p.kind!r} conversion"
        if not p.phone:
            return "no_phone: 360dialog attributes by the lead's phone, and the contact has none"
        external: dict[str, Any] = {"action": action, "lead_phone": p.phone}
        if p.kind in WITH_REVENUE and p.value is not None:
            external["revenue"] = {"amount": p.value, "currency": (p.currency or "USD").upper()}
        if self.settings.app_id:
            external["app_id"] = self.settings.app_id
        if p.previous_external_event_id:
            external["previous_external_event_id"] = p.previous_external_event_id
        return Dialog360Request(
            conversion_id=p.conversion_id, kind=p.kind, event=external, order_known=p.order_known
        )

    def send_one(self, job: Job) -> Outcome:
        request: Dialog360Request = job.planned.request
        external = dict(request.event)
        if request.kind not in CHAIN_HEADS and "previous_external_event_id" not in external:
            # Looked up at send time, not at plan time: the order may have been delivered since.
            previous = self.log.reference(self.name, request.conversion_id)
            if previous:
                external["previous_external_event_id"] = previous
            elif job.attempt <= CHAIN_WAIT_ATTEMPTS and self._order_still_coming(request):
                return Outcome.retry(
                    "waiting for the order's external_event_id to chain this follow-up to it"
                )
        body = {"external_event": external, "api_key": self._secret()}
        path = f"/clients/{self.settings.client_id}/external-events"
        return http.send(self.client, "POST", path, json=body)

    def _order_still_coming(self, request: Dialog360Request) -> bool:
        """The order's own delivery is not settled yet: not seen here, or pending. One that was
        skipped or failed will never return an id, and an order never seen will not come."""
        if not request.order_known:
            return False
        head = self.log.get_for(self.name, f"{request.conversion_id}:order")
        return head is None or head.get("status") == "pending"

    def on_delivered(self, job: Job, outcome: Outcome) -> None:
        request: Dialog360Request = job.planned.request
        returned = outcome.body.get("external_event_id") if isinstance(outcome.body, dict) else None
        if request.kind in CHAIN_HEADS and returned:
            self.log.remember_reference(self.name, request.conversion_id, str(returned))
