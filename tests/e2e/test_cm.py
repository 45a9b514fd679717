"""CM.com as a WhatsApp channel, end to end through the local stack: webhooks in over HTTP, through
the shared ingest queue and processor, out of the operator API."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from devstack.stack import LocalStack
from tests.support import webhooks as wh

pytestmark = pytest.mark.e2e


@pytest.fixture
def operator(api: httpx.Client, stack: LocalStack) -> httpx.Client:
    api.headers["X-Api-Key"] = stack.env_values["API_KEY"]
    return api


def fresh_phone() -> str:
    """A number no other test uses: the stack is shared by the whole session."""
    return "3161" + str(uuid.uuid4().int)[:7]


def mo(phone: str, text: str = "Hello from CM", **extra: Any) -> dict[str, Any]:
    body = wh.sample_json("cm_constructed_mo_text.json")
    body["from"] = {"number": f"+{phone}", "name": "CM Tester"}
    body["message"] = {"text": text}
    body.update(extra)
    return body


def post_cm(api: httpx.Client, stack: LocalStack, body: Any, token: str | None = "") -> httpx.Response:
    params = {} if token is None else {"token": token or stack.env_values["CM_WEBHOOK_TOKEN"]}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.post(
        "/webhooks/cm", params=params, content=content, headers={"Content-Type": "application/json"}
    )


def test_mo_creates_a_contact_and_an_inbound_message(
    api: httpx.Client, operator: httpx.Client, stack: LocalStack
) -> None:
    phone = fresh_phone()
    answer = post_cm(api, stack, mo(phone))
    assert answer.status_code == 200, answer.text
    stack.wait_until_idle()
    contact = operator.get(f"/contacts/{phone}")
    assert contact.status_code == 200, contact.text
    view = contact.json()
    assert view["phone"] == phone
    assert view["name"] == "CM Tester"
    assert view["messages"] == {"inbound": 1, "outbound": 0}
    assert view["last_inbound_at"] == "2025-06-18T19:46:32.000Z"


def test_mo_with_raw_payload_captures_the_ad_click_under_the_wamid(
    api: httpx.Client, operator: httpx.Client, stack: LocalStack
) -> None:
    body = wh.sample_json("cm_constructed_mo_raw_referral.json")
    phone = fresh_phone()
    wamid = f"wamid.cm-e2e-{uuid.uuid4().hex}"
    body["from"]["number"] = f"00{phone}"
    body["rawPayload"].update(id=wamid, **{"from": phone})
    assert post_cm(api, stack, body).status_code == 200
    stack.wait_until_idle()
    message = operator.get(f"/messages/{quote(wamid, safe='')}")
    assert message.status_code == 200, message.text
    assert message.json()["channel"] == "cm"
    assert message.json()["direction"] == "inbound"
    referrals = operator.get(f"/contacts/{phone}").json()["referrals"]
    assert [r["ctwa_clid"][:8] for r in referrals] == ["Aff-n8ZT"]
    assert referrals[0]["message_id"] == wamid


def test_status_report_advances_the_message_joined_on_reference(
    api: httpx.Client, operator: httpx.Client, stack: LocalStack
) -> None:
    reference = f"order-{uuid.uuid4().hex[:12]}"
    report = wh.sample_json("cm_constructed_status_report_delivered.json")
    msg = report["messages"]["msg"]
    msg["reference"] = reference
    msg["to"] = "00" + fresh_phone()
    accepted = json.loads(json.dumps(report))
    accepted["messages"]["msg"].update(status={"code": "0"}, received="2025-06-18T19:47:00")
    assert post_cm(api, stack, accepted).status_code == 200
    stack.wait_until_idle()
    assert operator.get(f"/messages/{reference}").json()["status"] == "sent"
    assert post_cm(api, stack, report).status_code == 200
    stack.wait_until_idle()
    view = operator.get(f"/messages/{reference}").json()
    assert view["status"] == "delivered"
    assert view["channel"] == "cm"
    assert set(view["statuses"]) == {"accepted", "delivered"}


def test_wrong_or_missing_token_is_401_and_nothing_is_stored(
    api: httpx.Client, operator: httpx.Client, stack: LocalStack
) -> None:
    phone = fresh_phone()
    wrong = post_cm(api, stack, mo(phone), token="not-the-token")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "unauthorized"
    assert post_cm(api, stack, mo(phone), token=None).status_code == 401
    stack.wait_until_idle()
    assert operator.get(f"/contacts/{phone}").status_code == 404


def test_a_body_not_in_cm_format_is_400(api: httpx.Client, stack: LocalStack) -> None:
    answer = post_cm(api, stack, wh.sample("meta_docs_text_message_ctwa_referral.json"))
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"
    assert post_cm(api, stack, b"not json").status_code == 400


def test_duplicate_mo_is_stored_once(api: httpx.Client, operator: httpx.Client, stack: LocalStack) -> None:
    phone = fresh_phone()
    body = mo(phone, text="Is this stored once?")
    for _ in range(3):  # CM's retries every five minutes, some of them after the first was processed
        assert post_cm(api, stack, body).status_code == 200
    stack.wait_until_idle()
    assert post_cm(api, stack, body).status_code == 200
    stack.wait_until_idle()
    assert operator.get(f"/contacts/{phone}").json()["messages"] == {"inbound": 1, "outbound": 0}
