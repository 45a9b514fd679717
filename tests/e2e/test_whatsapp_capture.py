"""WhatsApp capture end to end: HTTP into the local stack, through the queue and the processor, out
of the operator API, exactly as a deployed stack would be driven."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from devstack.demo import post_event
from devstack.sample_events import whatsapp_post
from devstack.stack import LocalStack
from tests.support import webhooks as wh

pytestmark = pytest.mark.e2e
EVENTS = Path(__file__).resolve().parents[2] / "events"
SENT_WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def operator(api: httpx.Client, stack: LocalStack) -> httpx.Client:
    api.headers["X-Api-Key"] = stack.env_values["API_KEY"]
    return api


def post_body(api: httpx.Client, stack: LocalStack, body: bytes) -> httpx.Response:
    return post_event(api, whatsapp_post(body, stack.env_values["WHATSAPP_APP_SECRET"]))


def test_handshake_over_http(api: httpx.Client, stack: LocalStack) -> None:
    ok = api.get(
        "/webhooks/whatsapp",
        params={
            "hub.mode": "subscribe",
            "hub.challenge": "987",
            "hub.verify_token": stack.env_values["WHATSAPP_VERIFY_TOKEN"],
        },
    )
    assert ok.status_code == 200
    assert ok.text == "987"
    assert ok.headers["content-type"].startswith("text/plain")
    wrong = api.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.challenge": "987", "hub.verify_token": "x"},
    )
    assert wrong.status_code == 403


def test_bad_signatures_and_bodies_over_http(api: httpx.Client, stack: LocalStack) -> None:
    sample = wh.sample("meta_docs_text_message_ctwa_referral.json")
    assert api.post("/webhooks/whatsapp", content=sample).status_code == 401
    forged = api.post(
        "/webhooks/whatsapp", content=sample, headers={"X-Hub-Signature-256": "sha256=" + "ab" * 32}
    )
    assert forged.status_code == 403
    assert forged.json()["error"] == "forbidden"
    malformed = post_body(api, stack, b"{oops")
    assert malformed.status_code == 400
    assert "JSON" in malformed.json()["message"]


def test_sample_webhooks_are_captured_and_readable(operator: httpx.Client, stack: LocalStack) -> None:
    for name in (
        "whatsapp_text_ctwa_referral.json",
        "whatsapp_status_read.json",
        "whatsapp_status_sent.json",
    ):
        assert post_event(operator, event(name)).status_code == 200
    stack.wait_until_idle()

    contact = operator.get("/contacts/+16505551234").json()
    assert contact["name"] == "Sheena Nelson"
    assert contact["referrals"][0]["source_id"] == "120226305854810726"
    assert contact["referrals"][0]["ctwa_clid"].startswith("Aff-n8ZT")

    message = operator.get(f"/messages/{quote(SENT_WAMID, safe='')}").json()
    assert message["direction"] == "outbound"
    assert message["status"] == "read"  # the late "sent" did not demote it
    assert list(message["statuses"]) == ["sent", "read"]


def test_redelivery_over_http_changes_nothing(operator: httpx.Client, stack: LocalStack) -> None:
    document = wh.webhook(
        {
            "contacts": [wh.contact("447700900123")],
            "messages": [wh.text_message("wamid.E2E.R1", "447700900123", 1760000000)],
        }
    )
    body = wh.encode(document)
    for _ in range(3):
        assert post_body(operator, stack, body).status_code == 200
    stack.wait_until_idle()
    contact = operator.get("/contacts/447700900123").json()
    assert contact["messages"] == {"inbound": 1, "outbound": 0}


def test_operator_api_needs_the_key(api: httpx.Client) -> None:
    response = api.get("/contacts/16505551234")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
