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
from devstack.stack import DevStack
from tests.support import webhooks as wh

pytestmark = pytest.mark.e2e
EVENTS = Path(__file__).resolve().parents[2] / "events"
SENT_WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def operator(api: httpx.Client, stack: DevStack) -> httpx.Client:
    api.headers["X-Api-Key"] = stack.env_values["API_KEY"]
    return api


def post_body(api: httpx.Client, stack: DevStack, body: bytes) -> httpx.Response:
    return post_event(api, whatsapp_post(body, stack.env_values["WHATSAPP_APP_SECRET"]))


def test_handshake_over_http(api: httpx.Client, stack: DevStack) -> None:
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


def test_bad_signatures_and_bodies_over_http(api: httpx.Client, stack: DevStack) -> None:
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


def test_sample_webhooks_are_captured_and_readable(operator: httpx.Client, stack: DevStack) -> None:
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


def test_redelivery_over_http_changes_nothing(operator: httpx.Client, stack: DevStack) -> None:
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


def test_a_webhook_of_2_6_mb_is_acknowledged_and_every_message_is_readable(
    operator: httpx.Client, stack: DevStack
) -> None:
    # Its parts go to SQS in several calls, each under SQS's 1 MiB; the 1000-update form of the same
    # webhook runs in the reliability suite (make reliability), where its minutes are affordable.
    senders = [f"4477009{i:05d}" for i in range(20)]
    document = wh.webhook(
        {
            "contacts": [wh.contact(sender, name=f"Bulk {i}") for i, sender in enumerate(senders)],
            "messages": [
                wh.text_message(f"wamid.E2E.BULK{i:04d}", senders[i % 20], 1760000000 + i, body="ü" * 12500)
                for i in range(100)
            ],
        }
    )
    body = json.dumps(document, ensure_ascii=False).encode()
    assert 2_500_000 < len(body) < 2_800_000
    response = post_body(operator, stack, body)
    assert response.status_code == 200, response.text
    stack.wait_until_idle(timeout=300)
    for i in range(100):
        found = operator.get(f"/messages/wamid.E2E.BULK{i:04d}")
        assert found.status_code == 200, (i, found.text)
        assert found.json()["direction"] == "inbound"


def test_calls_webhooks_store_nothing(operator: httpx.Client, stack: DevStack) -> None:
    for name in ("meta_docs_calls_status_ringing.json", "meta_docs_calls_connect.json"):
        assert post_body(operator, stack, wh.sample(name)).status_code == 200
    stack.wait_until_idle()
    assert operator.get("/messages/wacid.ABGGFjFVU2AfAgo6V-Hc5eCgK5Gh").status_code == 404
    assert operator.get("/contacts/16315553601").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        b'{"object": "whatsapp_business_account", "entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"object": "whatsapp_business_account", "entry": [], "x": "\xed\xb3\xbf"}',
    ],
    ids=["nested-100000", "encoded-lone-surrogate"],
)
def test_signed_bodies_that_are_not_json_text_are_400_over_http(
    api: httpx.Client, stack: DevStack, body: bytes
) -> None:
    whatsapp = post_event(api, whatsapp_post(body, stack.env_values["WHATSAPP_APP_SECRET"], base64_body=True))
    assert whatsapp.status_code == 400, whatsapp.text
    assert whatsapp.json()["error"] == "bad_request"
    cm = api.post("/webhooks/cm", params={"token": stack.env_values["CM_WEBHOOK_TOKEN"]}, content=body)
    assert cm.status_code == 400, cm.text
    assert cm.json()["error"] == "bad_request"


def test_a_shopify_event_id_too_long_for_a_key_is_400_over_http(api: httpx.Client, stack: DevStack) -> None:
    from devstack.shopify_samples import shopify_post

    event = shopify_post(
        wh.sample("shopify_order_rest_fixture_shopify_python_api.json"),
        stack.env_values["SHOPIFY_WEBHOOK_SECRET"],
        shop=stack.env_values["SHOPIFY_SHOP_DOMAIN"],
        topic="orders/create",
        event_id="e" * 3000,
    )
    response = post_event(api, event)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "x-shopify-event-id"
