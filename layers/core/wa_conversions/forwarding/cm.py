"""CM.com Meta Conversions (seeds/001): POST https://gw.messaging.cm.com/v1.0/event with the product
token in the body, the event type from CM.com's list and the ad click as custom.ctwa_id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import CmConversionsSettings
from ..delivery import http
from ..delivery.outcome import Outcome
from ..delivery.runner import Job, PermanentMessageError
from .base import ConversionDestination
from .conversion import ConversionEvent, money_text
from .names import VALUE_REQUIRED, click_window_problem, meta_event_name


def cm_number(digits: str) -> str:
    """CM.com writes numbers with a 00 international prefix: 00316012345678."""
    digits = "".join(ch for ch in digits if ch.isdigit())
    return digits if digits.startswith("00") else f"00{digits}"


@dataclass(frozen=True, slots=True)
class CmRequest:
    to: str
    event: dict[str, Any]


class CmConversionsDestination(ConversionDestination):
    name = "cm"

    def __init__(self, settings: CmConversionsSettings, client_factory: Any, secret: Any) -> None:
        super().__init__(client_factory, secret)
        self.settings = settings

    def request_for(self, event: ConversionEvent) -> CmRequest | str:
        p = event.properties
        if not self.settings.business_number:
            # A deployment mistake, not the conversion's: keep it in the DLQ until it is fixed.
            raise PermanentMessageError("CmBusinessNumber is not set: CM.com needs the sender's number")
        event_type = meta_event_name(p.kind, p.event_name)
        if event_type is None:
            return f"no CM.com Meta Conversions type for a {p.kind!r} conversion"
        problem = click_window_problem(p.ctwa_clid, event.clicked_at_epoch, event.event_time)
        if problem:
            return problem
        if not p.phone:
            return "no_phone: CM.com addresses the event to the customer's number, and the contact has none"
        custom: dict[str, Any] = {"ctwa_id": p.ctwa_clid}
        if p.value is not None and p.currency:
            custom["currency"] = p.currency.upper()
            custom["value"] = money_text(p.value)
        elif event_type in VALUE_REQUIRED:
            return f"CM.com requires currency and value for {event_type}"
        return CmRequest(to=cm_number(p.phone), event={"type": event_type, "custom": custom})

    def send_one(self, job: Job) -> Outcome:
        request: CmRequest = job.planned.request
        body = {
            "authentication": {"productToken": self._secret()},
            "from": {"number": cm_number(self.settings.business_number)},
            "to": {"number": request.to},
            "event": request.event,
            "channel": "WhatsApp",
        }
        return http.send(self.client, "POST", self.settings.event_url, json=body)
