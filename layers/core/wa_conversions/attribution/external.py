"""Off-thread conversions (a booking, a sign-up, a purchase elsewhere), the way 360dialog takes them:
attributed to the lead's last conversation, or, chained with previous_external_event_id, to the
conversation of that earlier event even when newer ones exist.

Unlike Shopify orders no window applies: the last conversation gets the credit however old it is.
The click time travels with the event (clickedAt), for destinations that have limits of their own.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from ..errors import NotFoundError
from ..models.commerce import Money, PhoneCandidate
from ..publishing.eventbridge import EventPublisher
from ..store.attribution import AttributionRepository
from . import conversions as cv
from .domain import Attribution
from .engine import UNLIMITED, attribute
from .idempotency import Answer, IdempotentRequests
from .orders import publish_pending
from .phones import resolve
from .requests import ExternalEventRequest
from .views import external_event_view

PROVIDER = "external"
IDEMPOTENCY_SCOPE = "external-events"


def meta_event_name(action: str, revenue: Decimal | None) -> str:
    """The Conversions API name for an action: Purchase for anything sold, else LeadSubmitted (Meta
    refuses Lead, CompleteRegistration, Schedule and custom names for business messaging)."""
    text = action.lower()
    sold = any(word in text for word in ("purchas", "bought", "order", "paid", "sale"))
    if sold or (revenue is not None and revenue > 0):
        return "Purchase"
    return "LeadSubmitted"


def created_body(item: dict[str, Any]) -> dict[str, Any]:
    view = external_event_view(item)
    return {"external_event_id": view.external_event_id, "attribution": view.attribution.model_dump()}


class ExternalEventsService:
    def __init__(
        self, repository: AttributionRepository, publisher: EventPublisher, *, default_country: str | None
    ) -> None:
        self._repository = repository
        self._publisher = publisher
        self._default_country = default_country or None

    def create_once(self, request: ExternalEventRequest, idempotency_key: str | None) -> Answer:
        """POST /external-events: 201 with the new event, or the first answer again for a key seen
        before (attribution.idempotency)."""
        requests = IdempotentRequests(self._repository, IDEMPOTENCY_SCOPE)
        return requests.run(
            idempotency_key,
            request.model_dump(mode="json"),
            lambda external_event_id: Answer(201, created_body(self.create(request, external_event_id))),
        )

    def create(self, request: ExternalEventRequest, external_event_id: str) -> dict[str, Any]:
        """Record and publish the event under `external_event_id`; an id recorded already returns
        what was stored (and publishes it if that never happened)."""
        occurred = request.occurred_at
        at = int(occurred.timestamp()) if occurred else int(time.time())
        phones = resolve([PhoneCandidate(request.lead_phone)], self._default_country)
        previous_id = request.previous_external_event_id
        if previous_id:
            previous = self._repository.get_external_event(previous_id)
            if previous is None:
                raise NotFoundError(f"No off-thread event {previous_id}", field="previous_external_event_id")
            # Same conversation as the earlier event, whatever happened since.
            attribution = Attribution.from_record(previous["attribution"])
        else:
            attribution = attribute(phones, at, self._repository, UNLIMITED)
        phone = cv.conversion_phone(attribution, phones.e164, buyer_is_the_lead=True)
        conversion_id = cv.external_conversion_id(external_event_id)
        event_id = f"{conversion_id}:{cv.KIND_EXTERNAL}"
        revenue = request.revenue
        value = Money(amount=revenue.amount, currency=revenue.currency) if revenue else None
        event_name = meta_event_name(request.action, value.amount if value else None)
        event = cv.build_event(
            event_name=cv.conversion_event_name(attribution),
            conversion_id=conversion_id,
            kind=cv.KIND_EXTERNAL,
            event_id=event_id,
            provider=PROVIDER,
            at=at,
            phone=phone,
            properties={
                "shop": None,
                "order_id": None,
                "order_name": None,
                **cv.value_properties(value, None),
                "line_items": [],
                "email": None,
                "phone": phone,
                **cv.attribution_properties(attribution),
                "test": False,
                "action": request.action,
                "event_name": event_name,
                "previous_external_event_id": previous_id,
                "app_id": request.app_id,
            },
        )
        item = self._repository.create_external_event(
            external_event_id,
            {
                "external_event_id": external_event_id,
                "conversion_id": conversion_id,
                "event_id": event_id,
                "lead_phone": phones.e164 or request.lead_phone,
                "action": request.action,
                "meta_event_name": event_name,
                "value": str(value.amount) if value else None,
                "currency": value.currency if value else None,
                "app_id": request.app_id,
                "previous_external_event_id": previous_id,
                "occurred_at": at,
                "recorded_at": int(time.time()),
                "attribution": {k: v for k, v in attribution.as_record().items() if v is not None},
                "event_name": event.event,
                "event_detail": event.detail_json(),
            },
        )
        publish_pending(self._repository, self._publisher, item)
        return item

    def get(self, external_event_id: str) -> dict[str, Any]:
        item = self._repository.get_external_event(external_event_id)
        if item is None:
            raise NotFoundError(f"No off-thread event {external_event_id}")
        return item
