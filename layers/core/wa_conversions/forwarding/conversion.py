"""The conversion events the forwarders read: the EventBridge envelope around the bus's track event
(docs/events.md), read tolerantly: unknown fields are ignored, missing optional ones are None."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..models import events as ev

# Events posted to POST /conversions travel to Meta under this name; never published on the bus.
API_CONVERSION_EVENT = "conversion.requested"


class LineItem(ev.LineItem):
    # Destinations get every price as a JSON float, as they always have.
    price: float | None = Field(default=None, allow_inf_nan=False)


class Attribution(ev.AttributionFacts):
    pass


Customer = ev.Customer


class ConversionProperties(ev.ConversionProperties):
    """The bus's ConversionProperties (models/events.py) as the forwarders read them: amounts as
    floats, a missing attribution as an empty one, the click time as a datetime."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    value: float | None = Field(default=None, allow_inf_nan=False)
    line_items: list[LineItem] = Field(default_factory=list, alias="lineItems")  # type: ignore[assignment]
    attribution: Attribution = Field(default_factory=Attribution)
    clicked_at: datetime | None = Field(default=None, alias="clickedAt")  # type: ignore[assignment]

    @field_validator("attribution", mode="before")
    @classmethod
    def _no_attribution(cls, value: Any) -> Any:
        # A follow-up of an order never seen (orderKnown false) carries "attribution": null.
        return {} if value is None else value

    @field_validator("clicked_at", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> Any:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, tz=UTC)
        return value


class ConversionEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str
    message_id: str | None = None
    timestamp: datetime
    provider: str | None = None
    properties: ConversionProperties

    @property
    def event_time(self) -> int:
        when = self.timestamp if self.timestamp.tzinfo else self.timestamp.replace(tzinfo=UTC)
        return int(when.timestamp())

    @property
    def clicked_at_epoch(self) -> int | None:
        clicked = self.properties.clicked_at
        if clicked is None:
            return None
        return int((clicked if clicked.tzinfo else clicked.replace(tzinfo=UTC)).timestamp())

    def product_names(self) -> list[str]:
        return [item.title for item in self.properties.line_items if item.title]

    def item_count(self) -> int:
        return sum(max(item.quantity, 0) for item in self.properties.line_items)


class ConversionParseError(ValueError):
    pass


def parse_conversion(message: Any) -> ConversionEvent:
    """From the queued body: an EventBridge event whose detail is the track event, or that detail."""
    if not isinstance(message, dict):
        raise ConversionParseError("the message is not a JSON object")
    detail = message.get("detail") if isinstance(message.get("detail"), dict) else message
    assert isinstance(detail, dict)
    name = detail.get("event") or message.get("detail-type")
    context: dict[str, Any] = detail["context"] if isinstance(detail.get("context"), dict) else {}
    try:
        return ConversionEvent.model_validate(
            {
                "name": name,
                "message_id": detail.get("messageId"),
                "timestamp": detail.get("timestamp"),
                "provider": context.get("provider"),
                "properties": detail.get("properties"),
            }
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConversionParseError(f"not a conversion event: {where}: {first['msg']}") from None


def money_text(value: float) -> str:
    """Two decimals, as CM.com's example writes amounts ("12.60")."""
    return f"{value:.2f}"
