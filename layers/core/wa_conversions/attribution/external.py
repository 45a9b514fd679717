"""Off-thread conversions (a booking, a sign-up, a purchase elsewhere), the way 360dialog takes them:
attributed to the lead's last conversation, or, chained with previous_external_event_id, to the
conversation of that earlier event even when newer ones exist.

Unlike Shopify orders no window applies: the last conversation gets the credit however old it is.
The click time travels with the event (clickedAt), for destinations that have limits of their own.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import NotFoundError
from ..publishing.eventbridge import EventPublisher
from ..store.attribution import AttributionRepository
from . import conversions as cv
from .currencies import is_currency
from .domain import Attribution, Money
from .engine import UNLIMITED, attribute
from .orders import publish_pending
from .phones import PhoneCandidate, resolve

PROVIDER = "external"


class Revenue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(ge=0, allow_inf_nan=False)
    currency: str

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        code = value.strip().upper()
        if not is_currency(code):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return code


class ExternalEventRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lead_phone: str = Field(min_length=1, max_length=40)
    action: str = Field(min_length=1, max_length=200)
    revenue: Revenue
    app_id: str | None = Field(default=None, max_length=100)
    previous_external_event_id: str | None = Field(default=None, min_length=1, max_length=100)
    occurred_at: datetime | None = None

    @field_validator("lead_phone", "action")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @classmethod
    def from_body(cls, body: Any) -> ExternalEventRequest:
        """360dialog's form nests the event under "external_event"; the flat form is accepted too."""
        if isinstance(body, dict) and isinstance(body.get("external_event"), dict):
            body = body["external_event"]
        return cls.model_validate(body)


def meta_event_name(action: str, revenue: Decimal) -> str:
    """The Conversions API name for an action: Purchase for anything sold, else LeadSubmitted (Meta
    refuses Lead, CompleteRegistration, Schedule and custom names for business messaging)."""
    text = action.lower()
    if any(word in text for word in ("purchas", "bought", "order", "paid", "sale")) or revenue > 0:
        return "Purchase"
    return "LeadSubmitted"


class ExternalEventsService:
    def __init__(
        self, repository: AttributionRepository, publisher: EventPublisher, *, default_country: str | None
    ) -> None:
        self._repository = repository
        self._publisher = publisher
        self._default_country = default_country or None

    def create(self, request: ExternalEventRequest) -> dict[str, Any]:
        occurred = request.occurred_at
        if occurred is not None and occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=UTC)
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
        external_event_id = str(uuid.uuid4())
        conversion_id = cv.external_conversion_id(external_event_id)
        event_id = f"{conversion_id}:{cv.KIND_EXTERNAL}"
        value = Money(amount=request.revenue.amount, currency=request.revenue.currency)
        event_name = meta_event_name(request.action, request.revenue.amount)
        event = cv.build_event(
            event_name=cv.conversion_event_name(attribution),
            conversion_id=conversion_id,
            kind=cv.KIND_EXTERNAL,
            event_id=event_id,
            provider=PROVIDER,
            at=at,
            phone=phones.e164,
            properties={
                "shop": None,
                "orderId": None,
                "orderName": None,
                **cv.value_properties(value, None),
                "lineItems": [],
                "email": None,
                "phone": phones.e164,
                **cv.attribution_properties(attribution),
                "test": False,
                "action": request.action,
                "eventName": event_name,
                "previousExternalEventId": previous_id,
                "appId": request.app_id,
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
                "value": str(value.amount),
                "currency": value.currency,
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
