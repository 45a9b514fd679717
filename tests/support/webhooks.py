"""Meta webhook bodies for scenarios the docs' samples do not cover (batches, out-of-order statuses,
contacts known only by user id), built in Meta's documented shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

PAYLOADS = Path(__file__).resolve().parents[2] / "events" / "payloads"
WABA_ID = "102290129340398"
METADATA = {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}


def sample(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def sample_json(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(sample(name))
    return loaded


def webhook(*values: dict[str, Any], field: str = "messages") -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "field": field,
                        "value": {"messaging_product": "whatsapp", "metadata": METADATA, **value},
                    }
                    for value in values
                ],
            }
        ],
    }


def contact(
    wa_id: str | None = None, name: str | None = "Test User", user_id: str | None = None
) -> dict[str, Any]:
    found: dict[str, Any] = {"profile": {"name": name}}
    if wa_id:
        found["wa_id"] = wa_id
    if user_id:
        found["user_id"] = user_id
    return found


def text_message(
    message_id: str, sender: str | None, timestamp: int, body: str = "hello", **extra: Any
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": message_id,
        "timestamp": str(timestamp),
        "type": "text",
        "text": {"body": body},
    }
    if sender:
        message["from"] = sender
    message.update(extra)
    return message


def status(
    message_id: str, state: str, timestamp: int, recipient: str | None, **extra: Any
) -> dict[str, Any]:
    found: dict[str, Any] = {"id": message_id, "status": state, "timestamp": str(timestamp)}
    if recipient:
        found["recipient_id"] = recipient
    found.update(extra)
    return found


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode("utf-8")


def post_signed(api: httpx.Client, body: bytes, secret: str | None = None) -> None:
    """POST a WhatsApp webhook body to the local stack, signed as Meta signs it, and expect the 200."""
    from devstack.sample_events import read_env
    from wa_conversions.signatures import meta_signature

    key = secret if secret is not None else read_env()["WHATSAPP_APP_SECRET"]
    response = api.post(
        "/webhooks/whatsapp",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body, key)},
    )
    assert response.status_code == 200, response.text
