"""The delivery API's domain: POST /conversions (seeds/004, sent through the Meta path), the delivery
log's views, and replays through a destination's queue."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..delivery.log import DeliveryLog, DeliveryStatus, delivery_id_for
from ..errors import ConflictError, NotFoundError, UnprocessableError
from ..models.events import EVENT_SOURCE, iso_timestamp
from ..phones import wa_digits
from ..store.capture import CaptureRepository
from .conversion import API_CONVERSION_EVENT
from .names import META_EVENT_NAMES, VALUE_REQUIRED

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DESTINATIONS = ("wax", "meta", "cm", "dialog360")
_API_NAMESPACE = uuid.UUID("5f0b7a2e-1d4c-4e8b-9c3a-7a6f2d9e8b10")


class SendConversionRequest(BaseModel):
    """SendWhatsAppConversionRequest (seeds/004)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=True)

    account_id: str = Field(alias="accountId", min_length=1)
    event_name: str = Field(alias="eventName", min_length=1)
    event_time: int | None = Field(default=None, alias="eventTime", gt=0)
    event_id: str = Field(alias="eventId", min_length=1, max_length=500)
    conversation_id: str | None = Field(default=None, alias="conversationId")
    phone_e164: str | None = Field(default=None, alias="phoneE164")
    value: float | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    content_ids: list[str] = Field(default_factory=list, alias="contentIds")
    email: str | None = None
    external_id: str | None = Field(default=None, alias="externalId")
    test_code: str | None = Field(default=None, alias="testCode")

    @field_validator("event_name")
    @classmethod
    def _known_name(cls, value: str) -> str:
        if value not in META_EVENT_NAMES:
            raise ValueError(f"must be one of {', '.join(sorted(META_EVENT_NAMES))}")
        return value

    @field_validator("phone_e164")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        digits = wa_digits(value)
        if not digits:
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

    from ..http_api import validation_error

    try:
        return SendConversionRequest.model_validate(body if isinstance(body, dict) else {})
    except ValidationError as error:
        first = error.errors()[0]
        if not first["loc"]:  # a model-level rule: name the field it is about
            message = str(first["msg"]).removeprefix("Value error, ")
            raise UnprocessableError(message, field=_field_of(message)) from None
        raise validation_error(error) from None


class ConversionService:
    def __init__(
        self,
        capture: CaptureRepository,
        log: DeliveryLog,
        sqs: SQSClient,
        queue_urls: dict[str, str],
        click_window_days: int = 7,
        clock: Any = time.time,
    ) -> None:
        self.capture = capture
        self.log = log
        self.sqs = sqs
        self.queue_urls = queue_urls
        self.window = click_window_days * 86400
        self.clock = clock

    # -- POST /conversions -------------------------------------------------------------------------

    def _referral(self, request: SendConversionRequest) -> dict[str, Any]:
        if request.conversation_id:
            message = self.capture.get_message(request.conversation_id)
            contact_key = (message or {}).get("contact_key")
            if not contact_key:
                raise NotFoundError(f"No conversation {request.conversation_id!r}")
            for referral in self.capture.list_referrals(str(contact_key)):
                if referral.get("message_id") == request.conversation_id and referral.get("ctwa_clid"):
                    return referral
            raise NotFoundError(f"Conversation {request.conversation_id!r} was not started by an ad click")
        assert request.phone_e164 is not None
        for referral in self.capture.list_referrals(request.phone_e164):
            if referral.get("ctwa_clid"):
                return referral  # newest first
        raise NotFoundError("No ad-started conversation for this phone number")

    def send(self, request: SendConversionRequest) -> dict[str, Any]:
        queue_url = self.queue_urls.get("meta")
        if not queue_url:
            raise ConflictError(
                "The Meta destination is not enabled in this deployment (EnableMetaDestination)"
            )
        now = int(self.clock())
        event_time = request.event_time or now
        referral = self._referral(request)
        clicked_at = int(referral.get("received_at") or 0)
        if event_time - clicked_at > self.window:
            raise UnprocessableError(
                f"eventTime is more than {self.window // 86400} days after the ad click", field="eventTime"
            )
        if now - event_time > self.window:
            raise UnprocessableError("eventTime is more than 7 days ago: Meta rejects it", field="eventTime")
        contact_key = str(referral.get("contact_key") or "")
        phone = contact_key if contact_key.isdigit() else request.phone_e164
        properties = {
            "conversionId": f"api:{request.event_id}",
            "eventId": request.event_id,
            "kind": "external",
            "eventName": request.event_name,
            "value": request.value,
            "currency": request.currency.upper() if request.currency else None,
            "email": request.email,
            "phone": phone,
            "contactKey": contact_key or None,
            "ctwaClid": referral["ctwa_clid"],
            "sourceId": referral.get("source_id"),
            "clickedAt": iso_timestamp(clicked_at),
            "attribution": {"status": "attributed", "model": "last_touch", "reason": None},
            "contentIds": request.content_ids,
            "externalId": request.external_id,
            "testEventCode": request.test_code,
            "wabaId": request.account_id,
        }
        message = {
            "version": "0",
            "source": f"{EVENT_SOURCE}.api",
            "detail-type": API_CONVERSION_EVENT,
            "detail": {
                "version": "1",
                "messageId": str(uuid.uuid5(_API_NAMESPACE, request.event_id)),
                "type": "track",
                "event": API_CONVERSION_EVENT,
                "userId": phone,
                "timestamp": iso_timestamp(event_time),
                "context": {"channel": "whatsapp", "provider": "external"},
                "properties": properties,
            },
        }
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
        return {
            "eventId": request.event_id,
            "deliveryId": delivery_id_for("meta", request.event_id),
            "status": "queued",
            "destination": "meta",
        }

    # -- deliveries --------------------------------------------------------------------------------

    def list_deliveries(self, params: dict[str, str]) -> dict[str, Any]:
        status = params.get("status") or None
        if status and status not in {s.value for s in DeliveryStatus}:
            raise UnprocessableError(
                f"status must be one of {', '.join(s.value for s in DeliveryStatus)}", field="status"
            )
        destination = params.get("destination") or None
        if destination and destination not in DESTINATIONS:
            raise UnprocessableError(
                f"destination must be one of {', '.join(DESTINATIONS)}", field="destination"
            )
        try:
            limit = int(params.get("limit") or 100)
        except ValueError:
            raise UnprocessableError("limit must be a number", field="limit") from None
        if not 1 <= limit <= 500:
            raise UnprocessableError("limit must be between 1 and 500", field="limit")
        items = self.log.list(
            status=status, destination=destination, order_id=params.get("order_id") or None, limit=limit
        )
        views = [delivery_view(item) for item in items]
        return {"deliveries": views, "count": len(views)}

    def get_delivery(self, delivery_id: str) -> dict[str, Any]:
        item = self.log.get(delivery_id)
        if item is None:
            raise NotFoundError(f"No delivery {delivery_id!r}")
        return delivery_view(item)

    def retry(self, delivery_id: str) -> dict[str, Any]:
        item = self.log.get(delivery_id)
        if item is None:
            raise NotFoundError(f"No delivery {delivery_id!r}")
        destination = str(item.get("destination"))
        queue_url = self.queue_urls.get(destination)
        if not queue_url:
            raise ConflictError(f"The {destination} destination is not enabled in this deployment")
        if not item.get("message"):
            raise ConflictError("This delivery has no stored message to replay")
        # Replayed as it was first queued; the delivery log skips it if the destination has it already.
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=str(item["message"]))
        already = item.get("status") == DeliveryStatus.DELIVERED.value
        return {
            "deliveryId": delivery_id,
            "destination": destination,
            "status": "requeued",
            "alreadyDelivered": already,
            "message": "already delivered: the replay will not send it again"
            if already
            else "queued for another attempt",
        }


def _iso(value: Any) -> str | None:
    return iso_timestamp(int(value)) if value else None


def delivery_view(item: dict[str, Any]) -> dict[str, Any]:
    """Never the stored message: it holds the buyer's email and phone."""
    return {
        "id": item.get("delivery_id"),
        "destination": item.get("destination"),
        "eventId": item.get("event_id"),
        "eventName": item.get("event_name"),
        "kind": item.get("kind"),
        "conversionId": item.get("conversion_id"),
        "orderId": item.get("order_id"),
        "status": item.get("status"),
        "reason": item.get("reason"),
        "attempts": int(item.get("attempts") or 0),
        "lastStatusCode": item.get("last_status_code"),
        "lastError": item.get("last_error"),
        "deliveredAt": _iso(item.get("delivered_at")),
        "nextAttemptAt": _iso(item.get("next_attempt_at")) if item.get("status") == "pending" else None,
        "createdAt": _iso(item.get("created_at")),
        "updatedAt": _iso(item.get("updated_at")),
    }
