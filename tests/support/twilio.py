"""Twilio webhook requests for tests: the documented parameters, form-encoded and signed as Twilio
signs them (with the official SDK's RequestValidator, so our validator is checked against it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from tests.support import webhooks as wh

INBOUND_SAMPLE = "twilio_constructed_inbound_ctwa_referral.json"
STATUS_SAMPLE = "twilio_constructed_status_read.json"


def params(sample: str, **changes: str) -> dict[str, str]:
    loaded: dict[str, str] = {str(k): str(v) for k, v in wh.sample_json(sample).items()}
    loaded.update(changes)
    return loaded


def inbound(phone: str, sid: str, **changes: str) -> dict[str, str]:
    return params(
        INBOUND_SAMPLE,
        From=f"whatsapp:+{phone}",
        WaId=phone,
        MessageSid=sid,
        SmsSid=sid,
        SmsMessageSid=sid,
        **changes,
    )


def status(phone: str, sid: str, message_status: str, **changes: str) -> dict[str, str]:
    return params(
        STATUS_SAMPLE,
        To=f"whatsapp:+{phone}",
        MessageSid=sid,
        SmsSid=sid,
        MessageStatus=message_status,
        SmsStatus=message_status,
        **changes,
    )


def signed(url: str, form: dict[str, str], auth_token: str) -> tuple[bytes, dict[str, Any]]:
    """The body and headers of Twilio's POST of `form` to `url`."""
    signature = RequestValidator(auth_token).compute_signature(url, form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return urlencode(form).encode("utf-8"), headers
