"""POST /conversions' body (SendWhatsAppConversionRequest, docs/forwarding.md) and its checks: apart from
the service (forwarding/api.py), so the Delivery API's cold start loads the model, not the log."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import UnprocessableError
from ..models.meta_rules import VALUE_REQUIRED
from ..models.money import Amount, Currency
from ..phones import wa_digits
from .names import check_meta_event_name

MAX_EPOCH_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second a datetime can hold
E164_MAX_DIGITS = 15  # ITU-T E.164


class SendConversionRequest(BaseModel):
    """SendWhatsAppConversionRequest (docs/forwarding.md)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    account_id: str = Field(alias="accountId", min_length=1, max_length=100)
    event_name: str = Field(alias="eventName", min_length=1)
    # Strict: a JSON true is not a time (bool is an int in Python); the bound keeps it a datetime.
    event_time: int | None = Field(default=None, alias="eventTime", gt=0, le=MAX_EPOCH_SECONDS, strict=True)
    event_id: str = Field(alias="eventId", min_length=1, max_length=500)
    # A wamid, looked up as a table key (DynamoDB keys stop at 2048 bytes).
    conversation_id: str | None = Field(default=None, alias="conversationId", max_length=500)
    phone_e164: str | None = Field(default=None, alias="phoneE164", max_length=40)
    currency: Currency | None = None  # before value: the amount's precision depends on it
    value: Amount | None = None
    content_ids: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, alias="contentIds", max_length=100
    )
    email: str | None = Field(default=None, max_length=320)
    external_id: str | None = Field(default=None, alias="externalId", max_length=500)
    test_code: str | None = Field(default=None, alias="testCode", max_length=100)

    @field_validator("event_name")
    @classmethod
    def _known_name(cls, value: str) -> str:
        return check_meta_event_name(value)

    @field_validator("phone_e164")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        digits = wa_digits(value)
        if not digits or len(digits) > E164_MAX_DIGITS:
            raise ValueError("must be the phone number's digits with country code")
        return digits

    @model_validator(mode="after")
    def _complete(self) -> SendConversionRequest:
        if not self.conversation_id and not self.phone_e164:
            raise ValueError("conversationId or phoneE164 is required")
        if self.event_name in VALUE_REQUIRED and (self.value is None or not self.currency):
            raise ValueError(f"{self.event_name} needs value and currency")
        return self


def _field_of(message: str) -> str | None:
    if "conversationId or phoneE164" in message:
        return "conversationId"
    if "needs value and currency" in message:
        return "value"
    return None


def parse_send_request(body: Any) -> SendConversionRequest:
    from pydantic import ValidationError

    from ..errors import validation_error

    try:
        return SendConversionRequest.model_validate(body if isinstance(body, dict) else {})
    except ValidationError as error:
        first = error.errors()[0]
        if not first["loc"]:  # a model-level rule: name the field it is about
            message = str(first["msg"]).removeprefix("Value error, ")
            raise UnprocessableError(message, field=_field_of(message)) from None
        raise validation_error(error) from None
