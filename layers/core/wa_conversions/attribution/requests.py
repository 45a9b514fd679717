"""POST /external-events' body (360dialog's off-thread event, docs/shopify.md): apart from the service
(attribution/external.py), so the Attribution API's cold start loads the model, not the engine."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..models.money import Amount, Currency

# An event cannot have happened later than this after it is reported (clocks drift, zones get mixed).
FUTURE_TOLERANCE_SECONDS = 86_400


class Revenue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: Currency  # before amount: the amount's precision depends on it
    amount: Amount


class ExternalEventRequest(BaseModel):
    """360dialog's off-thread event (docs/shopify.md): only lead_phone and action are required; a visit or
    a chained follow-up has no revenue."""

    model_config = ConfigDict(extra="ignore")

    lead_phone: str = Field(min_length=1, max_length=40)
    action: str = Field(min_length=1, max_length=200)
    revenue: Revenue | None = None
    app_id: str | None = Field(default=None, max_length=100)
    previous_external_event_id: str | None = Field(default=None, min_length=1, max_length=100)
    occurred_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _unwrapped(cls, body: Any) -> Any:
        """360dialog's form nests the event under "external_event"; the flat form is accepted too."""
        if isinstance(body, dict) and isinstance(body.get("external_event"), dict):
            return body["external_event"]
        return body

    @field_validator("lead_phone", "action")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("occurred_at")
    @classmethod
    def _plausible(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        if not 0 <= moment.timestamp() <= time.time() + FUTURE_TOLERANCE_SECONDS:
            raise ValueError("must be a time between 1970 and now")
        return moment

    @classmethod
    def from_body(cls, body: Any) -> ExternalEventRequest:
        return cls.model_validate(body)
