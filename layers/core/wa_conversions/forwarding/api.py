"""The delivery API's domain: POST /conversions (docs/forwarding.md, sent through the Meta path), the delivery
log's views, and replays through a destination's queue."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from ..delivery.log import ERASED_REASON, DeliveryLog, DeliveryStatus, OperatorResult, delivery_id_for
from ..errors import ConflictError, NotFoundError, UnprocessableError
from ..models.events import EVENT_SOURCE, iso_timestamp
from ..models.meta_rules import CLICK_WINDOW_DAYS, MAX_EVENT_AGE_DAYS, too_old
from ..store.capture import CaptureRepository
from .conversion import API_CONVERSION_EVENT

ERASED_CONFLICT = "This delivery's person was erased (docs/privacy.md): it is never sent nor confirmed"

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from ..tenants import Tenant
    from .requests import SendConversionRequest

DESTINATIONS = ("wax", "meta", "cm", "dialog360", "collector")
_API_NAMESPACE = uuid.UUID("5f0b7a2e-1d4c-4e8b-9c3a-7a6f2d9e8b10")


class ConversionService:
    def __init__(
        self,
        capture: CaptureRepository,
        log: DeliveryLog,
        sqs: SQSClient,
        queue_urls: dict[str, str],
        click_window_days: int = CLICK_WINDOW_DAYS,
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
        if too_old(event_time, now):
            raise UnprocessableError(
                f"eventTime is more than {MAX_EVENT_AGE_DAYS} days ago: Meta rejects it", field="eventTime"
            )
        contact_key = str(referral.get("contact_key") or "")
        phone = contact_key if contact_key.isdigit() else request.phone_e164
        properties = {
            "conversionId": f"api:{request.event_id}",
            "eventId": request.event_id,
            "kind": "external",
            "eventName": request.event_name,
            "value": float(request.value) if request.value is not None else None,
            "currency": request.currency,
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

    def list_deliveries(self, params: dict[str, str], tenant: Tenant | None = None) -> dict[str, Any]:
        """`tenant` (?tenant=): only that tenant's conversions' deliveries (docs/tenants.md)."""
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
            status=status,
            destination=destination,
            order_id=params.get("order_id") or None,
            tenant=tenant.id if tenant else None,
            # the default tenant's include those from before the tenant list, which name none
            untenanted=bool(tenant and tenant.default),
            limit=limit,
        )
        views = [delivery_view(item) for item in items]
        return {"deliveries": views, "count": len(views)}

    def get_delivery(self, delivery_id: str, tenant: Tenant | None = None) -> dict[str, Any]:
        item = self.log.get(delivery_id)
        if item is None:
            raise NotFoundError(f"No delivery {delivery_id!r}")
        from ..tenants import owns

        if tenant is not None and not owns(tenant, item.get("tenant")):
            raise NotFoundError(f"No delivery {delivery_id!r} for tenant {tenant.id}")
        return delivery_view(item)

    def retry(self, delivery_id: str) -> dict[str, Any]:
        item = self.log.get(delivery_id)
        if item is None:
            raise NotFoundError(f"No delivery {delivery_id!r}")
        if item.get("reason") == ERASED_REASON:
            raise ConflictError(ERASED_CONFLICT)
        destination = str(item.get("destination"))
        queue_url = self.queue_urls.get(destination)
        if not queue_url:
            raise ConflictError(f"The {destination} destination is not enabled in this deployment")
        message = self.log.message(delivery_id)
        if not message:
            raise ConflictError("This delivery has no stored message to replay")
        previous = item.get("status")
        # Reopened, an ambiguous delivery may be claimed and sent again, which no forwarder does alone.
        settled = (DeliveryStatus.DELIVERED.value, DeliveryStatus.SKIPPED.value)
        reopened = self.log.reopen(delivery_id) if previous not in settled else OperatorResult.DONE
        if reopened is OperatorResult.ERASED:
            raise ConflictError(ERASED_CONFLICT)
        if reopened is OperatorResult.IN_FLIGHT:
            raise ConflictError("This delivery is being sent right now: look again in a few minutes")
        # Replayed as it was first queued; the delivery log skips it if the destination has it already.
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=message)
        already = previous == DeliveryStatus.DELIVERED.value
        if already:
            note = "already delivered: the replay will not send it again"
        elif previous == DeliveryStatus.AMBIGUOUS.value:
            note = "queued to be sent again: if the first attempt arrived, the destination has it twice"
        else:
            note = "queued for another attempt"
        return {
            "deliveryId": delivery_id,
            "destination": destination,
            "status": "requeued",
            "previousStatus": previous,
            "alreadyDelivered": already,
            "message": note,
        }

    def confirm(self, delivery_id: str) -> dict[str, Any]:
        """The operator found the event at the destination: record it delivered, send nothing."""
        result = self.log.confirm(delivery_id)
        if result is OperatorResult.MISSING:
            raise NotFoundError(f"No delivery {delivery_id!r}")
        if result is OperatorResult.ERASED:
            raise ConflictError(ERASED_CONFLICT)
        if result is OperatorResult.SKIPPED:
            raise ConflictError("This delivery was skipped, never sent: there is nothing to confirm")
        if result is OperatorResult.IN_FLIGHT:
            raise ConflictError("This delivery is being sent right now: look again in a few minutes")
        return {
            "deliveryId": delivery_id,
            "status": DeliveryStatus.DELIVERED.value,
            "alreadyDelivered": result is OperatorResult.ALREADY_DELIVERED,
            "delivery": self.get_delivery(delivery_id),
        }


def _iso(value: Any) -> str | None:
    return iso_timestamp(int(value)) if value else None


_FBTRACE = re.compile(r"fbtrace_id\W{1,4}([A-Za-z0-9_-]+)")


def fbtrace_id(item: dict[str, Any]) -> str | None:
    """Meta's request id, the one thing its support asks for: from its answer, else its error text."""
    response = item.get("response")
    if isinstance(response, dict) and response.get("fbtrace_id"):
        return str(response["fbtrace_id"])
    for text in (item.get("last_error"), item.get("reason")):
        found = _FBTRACE.search(str(text or ""))
        if found and found.group(1) not in ("None", "null"):  # Python's or JSON's "no id"
            return found.group(1)
    return None


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
        "confirmedByOperator": bool(item.get("confirmed_by_operator")),
        "attempts": int(item.get("attempts") or 0),
        "lastStatusCode": item.get("last_status_code"),
        "lastError": item.get("last_error"),
        "deliveredAt": _iso(item.get("delivered_at")),
        "fbtraceId": fbtrace_id(item) if item.get("destination") == "meta" else None,
        "nextAttemptAt": _iso(item.get("next_attempt_at")) if item.get("status") == "pending" else None,
        "createdAt": _iso(item.get("created_at")),
        "updatedAt": _iso(item.get("updated_at")),
        # in a deployment with a tenant list only (docs/tenants.md)
        **({"tenant": item["tenant"]} if item.get("tenant") else {}),
    }
