"""The CM.com step of `make demo`: a WhatsApp message arrives through CM.com, an operator marks it as
read and blocks its sender, and the CM.com stand-in shows the two events that went out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from devstack.sample_events import PAYLOADS
from devstack.stack import DevStack

DEMO_PHONE = "447700900123"


def run(stack: DevStack, api: httpx.Client, env: dict[str, str]) -> None:
    mo = json.loads((PAYLOADS / "cm_constructed_mo_raw_referral.json").read_text())
    # Sent just now, so that WhatsApp's 24-hour window for blocking is open.
    mo["timeUtc"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    mo["rawPayload"].pop("timestamp", None)
    wamid = mo["rawPayload"]["id"]
    answer = api.post("/webhooks/cm", params={"token": env["CM_WEBHOOK_TOKEN"]}, json=mo)
    print(f"POST /webhooks/cm?token=...  -> {answer.status_code}")
    stack.wait_until_idle()

    operator = {"X-Api-Key": env["API_KEY"]}
    read = api.post(f"/messages/{quote(wamid, safe='')}/read", headers=operator)
    print(f"POST /messages/<wamid>/read  -> {read.status_code} {read.text}")
    block = api.post(f"/contacts/{DEMO_PHONE}/block", headers=operator)
    print(f"POST /contacts/{DEMO_PHONE}/block  -> {block.status_code} {block.text}")
    stack.wait_until_idle()

    print("CM.com's events endpoint (stand-in) received:")
    for request in stack.standins.recorded("cm"):
        body = request["body"] or {}
        event = body.get("event", {})
        if event.get("type") in ("MarkAsRead", "Block", "UnBlock"):
            print(f"  {request['status']} {json.dumps(body)}")
    message = api.get(f"/messages/{quote(wamid, safe='')}", headers=operator).json()
    contact = api.get(f"/contacts/{DEMO_PHONE}", headers=operator).json()
    print(f"message read_marked_at={message.get('read_marked_at')}")
    print(f"contact blocked={contact.get('blocked')} blocked_at={contact.get('blocked_at')}")
