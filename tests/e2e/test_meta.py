"""Meta's Conversions API on the local stack, with the Graph stand-in (docs/forwarding.md, "Meta"):
an order's whole life is one Meta event per stage; a contact's "no" to ads and Limited Data Use show
in the requests; a restricted-region answer is skipped with its reason; MetaWebOrderSource=website
sends website events; `make doctor` and GET /health/meta report a missing dataset and a bad token
with their fixes."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.sample_events import read_env
from devstack.shopify_samples import shopify_headers
from devstack.stack import QUICK_BATCHING_WINDOW, DevStack
from devstack.standins import meta_dataset_for
from devstack.testing import AwsHelpers
from tests.support import attribution as sc
from wa_conversions.signatures import meta_signature

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ENV = read_env(ROOT / "local.env")
HEADERS = {"X-Api-Key": ENV["API_KEY"]}


@pytest.fixture
def standins(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.standins.url, timeout=10.0) as client:
        client.delete("/_faults")
        client.delete("/_requests")
        client.delete("/_meta")
        yield client
        client.delete("/_faults")
        client.delete("/_meta")


def fresh_contact() -> tuple[str, str]:
    """A wa_id and the same number as a US buyer types it."""
    exchange, line = random.randint(200, 999), random.randint(1000, 9999)
    return f"1415{exchange}{line}", f"(415) {exchange}-{line}"


def click(api: httpx.Client, wa_id: str, clid: str, at: int) -> None:
    body = sc.referral_webhook(wa_id, at, clid, f"wamid.{uuid.uuid4().hex}")
    signature = meta_signature(body, ENV["WHATSAPP_APP_SECRET"])
    response = api.post(
        "/webhooks/whatsapp",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    assert response.status_code == 200, response.text


def shopify(api: httpx.Client, payload: dict[str, Any], topic: str) -> None:
    body = sc.encode(payload)
    headers = shopify_headers(
        body, ENV["SHOPIFY_WEBHOOK_SECRET"], shop=ENV["SHOPIFY_SHOP_DOMAIN"], topic=topic
    )
    response = api.post("/webhooks/shopify", content=body, headers=headers)
    assert response.status_code == 200, response.text


def new_order(api: httpx.Client, stack: DevStack, **changes: Any) -> tuple[str, int, dict[str, Any]]:
    """A contact who clicked an ad two hours ago, and an order of theirs placed an hour ago."""
    wa_id, national = fresh_contact()
    now = int(time.time())
    click(api, wa_id, f"CLID-{uuid.uuid4().hex[:8]}", now - 7200)
    stack.wait_until_idle()
    order_id = random.randint(10**11, 10**12)
    placed = sc.order(order_id=order_id, created_at=now - 3600, phone=national) | changes
    return wa_id, order_id, placed


def meta_events(standins: httpx.Client, order_id: int) -> list[dict[str, Any]]:
    """Every event the Meta stand-in received for the order, each with its request's status."""
    key = f"shopify:{ENV['SHOPIFY_SHOP_DOMAIN']}:{order_id}:"
    found = []
    for request in standins.get("/_requests").json():
        if request["destination"] == "meta" and request["method"] == "POST" and request["body"]:
            for event in request["body"].get("data") or []:
                if str(event.get("event_id", "")).startswith(key):
                    found.append({**event, "_status": request["status"]})
    return found


def meta_deliveries(api: httpx.Client, order_id: int) -> list[dict[str, Any]]:
    response = api.get(
        "/deliveries", params={"order_id": str(order_id), "destination": "meta"}, headers=HEADERS
    )
    assert response.status_code == 200, response.text
    return list(response.json()["deliveries"])


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_an_orders_whole_life_is_one_meta_event_per_stage(
    stack: DevStack, api: httpx.Client, standins: httpx.Client
) -> None:
    _, order_id, placed = new_order(api, stack)
    shopify(api, placed, "orders/create")  # authorized: created, not paid
    paid = {**placed, "financial_status": "paid"}
    shopify(api, paid, "orders/paid")
    shopify(api, paid, "orders/paid")  # the same payment again, under another X-Shopify-Event-Id
    now = int(time.time())
    shopify(
        api,
        {"id": 81, "order_id": order_id, "status": "success", "created_at": sc.iso(now)},
        "fulfillments/create",
    )
    for event_id, status in ((1, "in_transit"), (2, "delivered"), (3, "delivered")):
        tracking = {"id": event_id, "fulfillment_id": 81, "order_id": order_id, "status": status}
        shopify(api, tracking | {"happened_at": sc.iso(now)}, "fulfillment_events/create")
    shopify(api, sc.refund(refund_id=51, order_id=order_id, created_at=now), "refunds/create")
    stack.wait_until_idle(timeout=60)

    events = meta_events(standins, order_id)
    key = f"shopify:{ENV['SHOPIFY_SHOP_DOMAIN']}:{order_id}"
    assert sorted((e["event_name"], e["event_id"]) for e in events) == sorted(
        [
            ("OrderCreated", f"{key}:order"),
            ("Purchase", f"{key}:order_paid"),
            ("OrderShipped", f"{key}:order_shipped"),
            ("OrderDelivered", f"{key}:order_delivered"),
            ("OrderReturned", f"{key}:refund:51"),
        ]
    )
    by_name = {e["event_name"]: e for e in events}
    assert {e["_status"] for e in events} == {200}
    assert by_name["Purchase"]["custom_data"]["value"] == 409.94
    assert by_name["OrderReturned"]["custom_data"]["value"] == 204.97
    assert {e["action_source"] for e in events} == {"business_messaging"}
    log = meta_deliveries(api, order_id)
    assert sorted(d["status"] for d in log) == ["delivered"] * 5
    assert all(d["fbtraceId"] for d in log)


def test_a_contact_who_says_no_to_ads_is_sent_with_opt_out_and_the_log_says_so(
    stack: DevStack, api: httpx.Client, standins: httpx.Client
) -> None:
    wa_id, order_id, placed = new_order(api, stack)
    assert api.put(f"/contacts/{wa_id}/consent", json={"ads": "no"}, headers=HEADERS).status_code == 422
    assert api.put(f"/contacts/{wa_id}/consent", json={"ads": False}).status_code == 401
    assert api.put("/contacts/19995550100/consent", json={"ads": False}, headers=HEADERS).status_code == 404
    answer = api.put(f"/contacts/{wa_id}/consent", json={"ads": False}, headers=HEADERS)
    assert answer.status_code == 200, answer.text
    assert api.get(f"/contacts/{wa_id}", headers=HEADERS).json()["ads_consent"] is False

    shopify(api, {**placed, "financial_status": "paid"}, "orders/create")
    stack.wait_until_idle()

    events = meta_events(standins, order_id)
    assert sorted(e["event_name"] for e in events) == ["OrderCreated", "Purchase"]
    assert {e["opt_out"] for e in events} == {True}
    assert {json.dumps(e["data_processing_options"]) for e in events} == {"[]"}  # MetaLimitedDataUse=off
    log = meta_deliveries(api, order_id)
    assert {d["status"] for d in log} == {"delivered"}
    assert all("no ads consent" in d["reason"] for d in log)


def test_a_restricted_region_answer_is_skipped_with_its_reason(
    stack: DevStack, aws: AwsHelpers, api: httpx.Client, standins: httpx.Client
) -> None:
    _, order_id, placed = new_order(api, stack)
    restricted = {
        "error": {
            "message": "Messaging Event Within Messaging Restrictive Region",
            "type": "OAuthException",
            "code": 100,
            "fbtrace_id": "E2eTrace",
        }
    }
    fault = {"destination": "meta", "status": 400, "times": 5, "match": str(order_id), "answer": restricted}
    assert standins.post("/_faults", json=fault).status_code == 201

    shopify(api, placed, "orders/create")
    stack.wait_until_idle()

    [skipped] = meta_deliveries(api, order_id)
    assert skipped["status"] == "skipped"
    assert "region" in skipped["reason"] and skipped["fbtraceId"] == "E2eTrace"
    assert len(meta_events(standins, order_id)) == 1  # tried once, never again
    parked = [m["Body"] for m in aws.receive_all("MetaCapiDLQ", delete=False)]
    assert not any(str(order_id) in body for body in parked)


def test_health_meta_reports_a_missing_dataset_and_a_bad_token_with_their_fixes(
    stack: DevStack, api: httpx.Client, standins: httpx.Client
) -> None:
    assert api.get("/health/meta").status_code == 401
    missing = api.get("/health/meta", headers=HEADERS)
    assert missing.status_code == 200, missing.text
    checks = {c["name"]: c for c in missing.json()["checks"]}
    assert missing.json()["ok"] is False
    assert checks["token"]["ok"] is True
    assert (checks["dataset"]["ok"], "--create" in checks["dataset"]["fix"]) == (False, True)

    waba = ENV["META_WABA_ID"]
    standins.post("/_meta", json={"datasets": {waba: ENV["META_DATASET_ID"]}})
    healthy = api.get("/health/meta", headers=HEADERS).json()
    assert healthy["ok"] is True, healthy

    standins.post("/_meta", json={"bad_tokens": [ENV["META_ACCESS_TOKEN"]]})
    refused = {c["name"]: c for c in api.get("/health/meta", headers=HEADERS).json()["checks"]}
    assert refused["token"]["ok"] is False and "ssm put-parameter" in refused["token"]["fix"]
    assert ENV["META_ACCESS_TOKEN"] not in json.dumps(refused)


def test_make_doctor_reports_a_missing_dataset_and_a_bad_token_then_creates_it(
    stack: DevStack, standins: httpx.Client, tmp_path: Path
) -> None:
    env = tmp_path / "local.env"
    env.write_text(
        (ROOT / "local.env").read_text().replace("http://127.0.0.1:3001", stack.standins.url),
        encoding="utf-8",
    )

    def doctor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own module
            [sys.executable, "-m", "devstack.doctor", "--env", str(env), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )

    missing = doctor()
    assert missing.returncode == 1
    assert "FAIL dataset" in missing.stdout and "fix: create it: make doctor ARGS=--create" in missing.stdout

    created = doctor("--create")
    assert created.returncode == 0, created.stdout
    assert ENV["META_DATASET_ID"] == meta_dataset_for(ENV["META_WABA_ID"])

    standins.post("/_meta", json={"bad_tokens": [ENV["META_ACCESS_TOKEN"]]})
    refused = doctor()
    assert refused.returncode == 1
    assert "FAIL token" in refused.stdout and "ssm put-parameter" in refused.stdout
    assert ENV["META_ACCESS_TOKEN"] not in refused.stdout + refused.stderr


# -- MetaWebOrderSource=website, with Limited Data Use by geolocation -------------------------------


@pytest.fixture(scope="module")
def web_stack() -> Iterator[DevStack]:
    overrides = {"MetaWebOrderSource": "website", "MetaLimitedDataUse": "geo"}
    with DevStack(
        ROOT / "template.yaml",
        ROOT / "local.env",
        port=0,
        moto="process",
        parameter_overrides=overrides,
        batching_window_cap=QUICK_BATCHING_WINDOW,
    ) as running:
        yield running


def test_website_source_sends_web_events_with_the_address_hashes_and_ldu(web_stack: DevStack) -> None:
    with (
        httpx.Client(base_url=web_stack.api_url, timeout=10.0) as api,
        httpx.Client(base_url=web_stack.standins.url, timeout=10.0) as standins,
    ):
        _, order_id, placed = new_order(api, web_stack, landing_site="/collections/ipods?utm_source=facebook")
        placed["client_details"]["user_agent"] = "Mozilla/5.0 (iPhone)"
        placed["note_attributes"].append({"name": "_fbp", "value": "fb.1.1558571054389.1098115397"})
        shopify(api, {**placed, "financial_status": "paid"}, "orders/create")
        web_stack.wait_until_idle()

        events = meta_events(standins, order_id)

    assert sorted(e["event_name"] for e in events) == ["OrderCreated", "Purchase"]
    for event in events:
        assert event["_status"] == 200
        assert event["action_source"] == "website"
        assert "messaging_channel" not in event
        assert event["event_source_url"] == (
            f"https://{ENV['SHOPIFY_SHOP_DOMAIN']}/collections/ipods?utm_source=facebook"
        )
        user = event["user_data"]
        assert "ctwa_clid" not in user
        assert user["em"] == [sha("bob.norman@hostmail.com")]
        assert (user["fn"], user["ln"]) == ([sha("bob")], [sha("norman")])
        assert (user["ct"], user["st"], user["zp"], user["country"]) == (
            [sha("louisville")],
            [sha("ky")],
            [sha("40202")],
            [sha("us")],
        )
        assert (user["client_ip_address"], user["client_user_agent"]) == ("0.0.0.0", "Mozilla/5.0 (iPhone)")  # noqa: S104
        assert user["fbp"] == "fb.1.1558571054389.1098115397"
        assert (
            event["data_processing_options"],
            event["data_processing_options_country"],
            event["data_processing_options_state"],
        ) == (["LDU"], 0, 0)


# -- ConversionRules (local.env): what happens in the thread -----------------------------------------


def inbound_text(api: httpx.Client, wa_id: str, body: str) -> None:
    from tests.support import webhooks as wh

    message = wh.text_message(f"wamid.{uuid.uuid4().hex}", wa_id, int(time.time()) - 30, body=body)
    raw = wh.encode(wh.webhook({"contacts": [wh.contact(wa_id)], "messages": [message]}))
    signature = meta_signature(raw, ENV["WHATSAPP_APP_SECRET"])
    response = api.post(
        "/webhooks/whatsapp",
        content=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    assert response.status_code == 200, response.text


def capture(api: httpx.Client, wa_id: str, event: str, **properties: Any) -> None:
    item = {
        "type": "track",
        "event": event,
        "userId": f"+{wa_id}",
        "messageId": uuid.uuid4().hex,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 30)),
        "context": {"channel": "whatsapp"},
        "properties": {"chatId": f"chat-{wa_id}", **properties},
    }
    response = api.post("/v1/capture", json={"batch": [item]}, headers=HEADERS)
    assert response.status_code == 200, response.text


def rule_events(standins: httpx.Client, rule: str, wa_id: str) -> list[dict[str, Any]]:
    found = []
    for request in standins.get("/_requests").json():
        if request["destination"] == "meta" and request["method"] == "POST" and request["body"]:
            found += [
                e
                for e in request["body"].get("data") or []
                if str(e.get("event_id", "")).startswith(f"rule:{rule}:{wa_id}:")
            ]
    return found


def test_conversion_rules_send_what_happens_in_the_thread_once_per_conversation(
    stack: DevStack, api: httpx.Client, standins: httpx.Client
) -> None:
    from wa_conversions.delivery.log import delivery_id_for

    wa_id, _ = fresh_contact()
    clid = f"CLID-{uuid.uuid4().hex[:8]}"
    click(api, wa_id, clid, int(time.time()) - 7200)
    stack.wait_until_idle()
    inbound_text(api, wa_id, "Hola, QUIERO COMPRÁR una caja")
    stack.wait_until_idle()
    inbound_text(api, wa_id, "quiero comprar otra más")  # the same conversation: nothing more
    template = {"messageId": f"wamid.{uuid.uuid4().hex}", "templateId": "lead_form_v1"}
    capture(api, wa_id, "message.sent", direction="outbound", contentType="template", **template)
    capture(api, wa_id, "chat.resolved", resolutionType="sale")
    stack.wait_until_idle()

    [wants] = rule_events(standins, "wants-to-buy", wa_id)
    assert (wants["event_name"], wants["user_data"]["ctwa_clid"]) == ("QualifiedLead", clid)
    assert wants["action_source"] == "business_messaging"
    assert [e["event_name"] for e in rule_events(standins, "lead-form", wa_id)] == ["LeadSubmitted"]
    assert [e["event_name"] for e in rule_events(standins, "won", wa_id)] == ["QualifiedLead"]
    delivery = api.get(f"/deliveries/{delivery_id_for('meta', wants['event_id'])}", headers=HEADERS).json()
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 1)


def test_an_organic_contacts_rule_is_skipped_with_the_reason(
    stack: DevStack, api: httpx.Client, standins: httpx.Client
) -> None:
    from wa_conversions.delivery.log import delivery_id_for

    wa_id, _ = fresh_contact()
    inbound_text(api, wa_id, "quiero comprar")
    stack.wait_until_idle()

    assert rule_events(standins, "wants-to-buy", wa_id) == []
    event_id = f"rule:wants-to-buy:{wa_id}:organic"
    delivery = api.get(f"/deliveries/{delivery_id_for('meta', event_id)}", headers=HEADERS).json()
    assert delivery["status"] == "skipped"
    assert "not attributed to a Click-to-WhatsApp ad" in delivery["reason"]
