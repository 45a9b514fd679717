"""Meta's Conversions API for Business Messaging (providers.md §3):
POST {graph}/{version}/{dataset_id}/events with {"data": [events], "test_event_code"}.

Only conversions credited to a Click-to-WhatsApp ad clicked within 7 days are sent. Several queued
conversions go in one request; since one bad event fails the whole request at Meta, a rejected batch
is split in halves until the bad event stands alone, and only that one fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ..config import MetaCapiSettings
from ..delivery.outcome import Outcome, OutcomeKind, classify_exception, classify_response, response_json
from ..delivery.runner import Job
from .base import ConversionDestination
from .conversion import ConversionEvent
from .hashing import hash_email, hash_external_id, hash_phone
from .names import CLICK_WINDOW_SECONDS, VALUE_REQUIRED, click_window_problem, meta_event_name

# Graph API throttling codes (providers.md §3.5, unconfirmed for CAPI): a 400 that means "slow down".
THROTTLING_CODES = frozenset({4, 17, 32, 613, 80004})


@dataclass(frozen=True, slots=True)
class MetaEvent:
    event: dict[str, Any]
    test_event_code: str


def server_event(event: ConversionEvent, event_name: str, waba_id: str) -> dict[str, Any]:
    p = event.properties
    user_data: dict[str, Any] = {"ctwa_clid": p.ctwa_clid}
    if p.waba_id or waba_id:
        user_data["whatsapp_business_account_id"] = p.waba_id or waba_id
    for field, hashed in (
        ("em", hash_email(p.email)),
        ("ph", hash_phone(p.phone)),
        ("external_id", hash_external_id(p.external_id)),
    ):
        if hashed:
            user_data[field] = [hashed]
    custom_data: dict[str, Any] = {}
    if p.value is not None:
        custom_data["value"] = p.value
    if p.currency:
        custom_data["currency"] = p.currency.upper()
    content_ids = p.content_ids or [
        str(item.product_id or item.sku or item.id) for item in p.line_items if item.product_id or item.sku
    ]
    if content_ids:
        custom_data["content_ids"] = content_ids
        custom_data["content_type"] = "product"
    if p.line_items:
        custom_data["num_items"] = event.item_count()
    if p.order_id:
        custom_data["order_id"] = p.order_id
    body: dict[str, Any] = {
        "event_name": event_name,
        "event_time": event.event_time,
        "event_id": p.event_id,
        "action_source": "business_messaging",
        "messaging_channel": "whatsapp",
        "user_data": user_data,
    }
    if custom_data:
        body["custom_data"] = custom_data
    return body


def classify_meta(response: httpx.Response) -> Outcome:
    outcome = classify_response(response)
    if outcome.kind is OutcomeKind.PERMANENT and response.status_code == 400:
        error = (response_json(response) or {}).get("error") or {}
        if isinstance(error, dict) and (error.get("code") in THROTTLING_CODES or error.get("is_transient")):
            return Outcome.retry(outcome.error or "throttled", outcome.status_code)
    return outcome


class MetaCapiDestination(ConversionDestination):
    name = "meta"

    def __init__(
        self,
        settings: MetaCapiSettings,
        client_factory: Any,
        secret: Any,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client_factory, secret)
        self.settings = settings
        self._clock = clock

    def request_for(self, event: ConversionEvent) -> MetaEvent | str:
        p = event.properties
        name = meta_event_name(p.kind, p.event_name)
        if name is None:
            return f"no Meta event name for a {p.kind!r} conversion (event name {p.event_name!r})"
        problem = click_window_problem(p.ctwa_clid, event.clicked_at_epoch, event.event_time)
        if problem:
            return problem
        if self._clock() - event.event_time > CLICK_WINDOW_SECONDS:
            return "the conversion is more than 7 days old: Meta rejects such events"
        if name in VALUE_REQUIRED and (p.value is None or not p.currency):
            return f"{name} needs value and currency"
        test_code = p.test_event_code or self.settings.test_event_code
        return MetaEvent(server_event(event, name, self.settings.waba_id), test_code)

    @property
    def path(self) -> str:
        s = self.settings
        return f"/{s.api_version}/{s.dataset_id}/events"

    def deliver(self, jobs: Sequence[Job]) -> Sequence[Outcome]:
        outcomes: dict[int, Outcome] = {}
        # One request carries one test_event_code, so events are grouped by it.
        groups: dict[str, list[int]] = {}
        for index, job in enumerate(jobs):
            groups.setdefault(job.planned.request.test_event_code, []).append(index)
        size = self.settings.max_batch
        for test_code, indexes in groups.items():
            for start in range(0, len(indexes), size):
                chunk = indexes[start : start + size]
                self._send_isolating(jobs, chunk, test_code, outcomes)
        return [outcomes[index] for index in range(len(jobs))]

    def _send_isolating(
        self, jobs: Sequence[Job], indexes: list[int], test_code: str, outcomes: dict[int, Outcome]
    ) -> None:
        outcome = self._post([jobs[i].planned.request.event for i in indexes], test_code)
        if outcome.kind is OutcomeKind.PERMANENT and len(indexes) > 1:
            middle = len(indexes) // 2
            self._send_isolating(jobs, indexes[:middle], test_code, outcomes)
            self._send_isolating(jobs, indexes[middle:], test_code, outcomes)
            return
        for index in indexes:
            outcomes[index] = outcome

    def _post(self, events: list[dict[str, Any]], test_code: str) -> Outcome:
        body: dict[str, Any] = {"data": events}
        if test_code:
            body["test_event_code"] = test_code
        if self.settings.partner_agent:
            body["partner_agent"] = self.settings.partner_agent
        try:
            response = self.client.post(
                self.path, json=body, headers={"Authorization": f"Bearer {self._secret()}"}
            )
        except httpx.HTTPError as error:
            return classify_exception(error)
        return classify_meta(response)
