"""CM.com as a WhatsApp channel, end to end through the local stack: webhooks in over HTTP, through
the shared ingest queue and processor, out of the operator API."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from devstack.stack import DevStack
from tests.support import webhooks as wh

pytestmark = pytest.mark.e2e


@pytest.fixture
def operator(api: httpx.Client, stack: DevStack) -> httpx.Client:
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


def post_cm(api: httpx.Client, stack: DevStack, body: Any, token: str | None = "") -> httpx.Response:
    params = {} if token is None else {"token": token or stack.env_values["CM_WEBHOOK_TOKEN"]}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.post(
        "/webhooks/cm", params=params, content=content, headers={"Content-Type": "application/json"}
    )


def test_mo_creates_a_contact_and_an_inbound_message(
    api: httpx.Client, operator: httpx.Client, stack: DevStack
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
    api: httpx.Client, operator: httpx.Client, stack: DevStack
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
    api: httpx.Client, operator: httpx.Client, stack: DevStack
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
    api: httpx.Client, operator: httpx.Client, stack: DevStack
) -> None:
    phone = fresh_phone()
    wrong = post_cm(api, stack, mo(phone), token="not-the-token")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "unauthorized"
    assert post_cm(api, stack, mo(phone), token=None).status_code == 401
    stack.wait_until_idle()
    assert operator.get(f"/contacts/{phone}").status_code == 404


def test_a_body_not_in_cm_format_is_400(api: httpx.Client, stack: DevStack) -> None:
    answer = post_cm(api, stack, wh.sample("meta_docs_text_message_ctwa_referral.json"))
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"
    assert post_cm(api, stack, b"not json").status_code == 400


def test_duplicate_mo_is_stored_once(api: httpx.Client, operator: httpx.Client, stack: DevStack) -> None:
    phone = fresh_phone()
    body = mo(phone, text="Is this stored once?")
    for _ in range(3):  # CM's retries every five minutes, some of them after the first was processed
        assert post_cm(api, stack, body).status_code == 200
    stack.wait_until_idle()
    assert post_cm(api, stack, body).status_code == 200
    stack.wait_until_idle()
    assert operator.get(f"/contacts/{phone}").json()["messages"] == {"inbound": 1, "outbound": 0}


# -- outbound: MarkAsRead, Block and UnBlock through the CM.com stand-in ----------------------------


def now_utc() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def cm_requests(stack: DevStack, phone: str) -> list[dict[str, Any]]:
    """What the CM.com stand-in received addressed to this user, oldest first."""
    return [
        r
        for r in stack.standins.recorded("cm")
        if (r["body"] or {}).get("to", {}).get("number") == f"00{phone}"
    ]


def sent_types(stack: DevStack, phone: str) -> list[tuple[str, int]]:
    return [(r["body"]["event"]["type"], r["status"]) for r in cm_requests(stack, phone)]


def mo_with_wamid(phone: str, *, time_utc: str | None = None) -> tuple[dict[str, Any], str]:
    body = wh.sample_json("cm_constructed_mo_raw_referral.json")
    wamid = f"wamid.cm-e2e-{uuid.uuid4().hex}"
    body["from"]["number"] = f"00{phone}"
    body["rawPayload"].update(id=wamid, **{"from": phone})
    del body["rawPayload"]["referral"]
    if time_utc:
        body["timeUtc"] = time_utc
        del body["rawPayload"]["timestamp"]  # so the MO's own time counts
    return body, wamid


def test_mark_as_read_on_request_is_sent_once_and_shown_on_the_message(
    api: httpx.Client, operator: httpx.Client, stack: DevStack
) -> None:
    phone = fresh_phone()
    body, wamid = mo_with_wamid(phone)
    assert post_cm(api, stack, body).status_code == 200
    stack.wait_until_idle()
    # Auto mark-as-read is off by default: nothing went out on arrival.
    assert cm_requests(stack, phone) == []
    path = f"/messages/{quote(wamid, safe='')}"
    assert operator.get(path).json()["read_marked_at"] is None
    for _ in range(2):  # asking twice still sends one event
        answer = operator.post(f"{path}/read")
        assert answer.status_code == 202, answer.text
    stack.wait_until_idle()
    [request] = cm_requests(stack, phone)
    assert request["status"] == 200
    assert request["body"]["event"] == {"type": "MarkAsRead", "custom": {"message_id": wamid}}
    assert request["body"]["from"] == {"number": "0031612345678"}
    assert request["headers"]["x-cm-producttoken"] == stack.env_values["CM_PRODUCT_TOKEN"]
    assert operator.get(path).json()["read_marked_at"] is not None


def test_mark_as_read_of_an_unknown_message_is_404(operator: httpx.Client) -> None:
    answer = operator.post("/messages/wamid.nothing-like-it/read")
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


def test_block_within_24_hours_is_sent_and_unblock_undoes_it(
    api: httpx.Client, operator: httpx.Client, stack: DevStack
) -> None:
    phone = fresh_phone()
    body, _ = mo_with_wamid(phone, time_utc=now_utc())
    assert post_cm(api, stack, body).status_code == 200
    stack.wait_until_idle()
    blocked = operator.post(f"/contacts/{phone}/block")
    assert blocked.status_code == 202, blocked.text
    stack.wait_until_idle()
    assert sent_types(stack, phone) == [("Block", 200)]
    contact = operator.get(f"/contacts/{phone}").json()
    assert contact["blocked"] is True
    assert contact["blocked_at"] is not None

    unblocked = operator.post(f"/contacts/{phone}/unblock")
    assert unblocked.status_code == 202
    stack.wait_until_idle()
    assert sent_types(stack, phone) == [("Block", 200), ("UnBlock", 200)]
    assert operator.get(f"/contacts/{phone}").json()["blocked"] is False
    # Unblocking a contact that is not blocked: 200, and nothing sent.
    again = operator.post(f"/contacts/{phone}/unblock")
    assert again.status_code == 200
    assert again.json()["blocked"] is False
    stack.wait_until_idle()
    assert len(cm_requests(stack, phone)) == 2


def test_block_after_24_hours_is_409_and_nothing_is_sent(
    api: httpx.Client, operator: httpx.Client, stack: DevStack
) -> None:
    phone = fresh_phone()
    assert post_cm(api, stack, mo(phone)).status_code == 200  # the sample MO is from 2025-06-18
    stack.wait_until_idle()
    answer = operator.post(f"/contacts/{phone}/block")
    assert answer.status_code == 409
    assert answer.json()["error"] == "conflict"
    assert "24 hours" in answer.json()["message"]
    stack.wait_until_idle()
    assert cm_requests(stack, phone) == []
    assert operator.get(f"/contacts/{phone}").json()["blocked"] is False


def test_cm_answering_500_then_200_is_retried_and_delivered_once(
    api: httpx.Client, operator: httpx.Client, stack: DevStack
) -> None:
    from devstack.standins import Fault

    phone = fresh_phone()
    body, _ = mo_with_wamid(phone, time_utc=now_utc())
    assert post_cm(api, stack, body).status_code == 200
    stack.wait_until_idle()
    stack.standins.add_fault(Fault(destination="cm", status=500, times=1, match=f"00{phone}"))
    assert operator.post(f"/contacts/{phone}/block").status_code == 202
    stack.wait_until_idle()
    assert sent_types(stack, phone) == [("Block", 500), ("Block", 200)]
    assert operator.get(f"/contacts/{phone}").json()["blocked"] is True


def test_auto_mark_as_read_when_the_parameter_is_on(tmp_path: Any) -> None:
    """A second stack with AutoMarkAsRead=true: every CM message with a wamid is marked on arrival
    (the session's stack runs with the default, off, which the on-request test checks)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    with (
        DevStack(
            root / "template.yaml",
            root / "local.env",
            port=0,
            standins_port=0,
            moto="process",
            stack_name="wa-conversions-auto-read",
            parameter_overrides={"AutoMarkAsRead": "true"},
        ) as auto,
        httpx.Client(base_url=auto.api_url, timeout=10.0) as client,
    ):
        phone = fresh_phone()
        body, wamid = mo_with_wamid(phone)
        assert post_cm(client, auto, body).status_code == 200
        without_wamid = mo(fresh_phone())
        assert post_cm(client, auto, without_wamid).status_code == 200
        auto.wait_until_idle()
        [request] = auto.standins.recorded("cm")
        assert request["body"]["event"] == {"type": "MarkAsRead", "custom": {"message_id": wamid}}
        assert request["body"]["to"] == {"number": f"00{phone}"}
        message = client.get(
            f"/messages/{quote(wamid, safe='')}", headers={"X-Api-Key": auto.env_values["API_KEY"]}
        )
        assert message.json()["read_marked_at"] is not None
