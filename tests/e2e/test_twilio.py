"""Twilio as a WhatsApp channel, end to end through the local stack: signed form posts over HTTP,
through the shared ingest queue and processor, to the operator API and to attribution."""

from __future__ import annotations

import random
import time
import uuid
from urllib.parse import quote

import httpx
import pytest

from devstack.sample_events import read_env
from devstack.shopify_samples import shopify_headers
from devstack.stack import DevStack
from devstack.testing import AwsHelpers
from tests.support import attribution as sc
from tests.support import twilio as tw

pytestmark = pytest.mark.e2e

ENV = read_env()
PATH = "/webhooks/twilio"


@pytest.fixture
def operator(api: httpx.Client) -> httpx.Client:
    api.headers["X-Api-Key"] = ENV["API_KEY"]
    return api


def signed_url(stack: DevStack) -> str:
    """What Twilio is told to call, and signs, with no custom domain: the API's execute-api URL (the
    TwilioWebhookUrl output as deployed). The local API Gateway hands the function that host."""
    return (
        f"https://{stack.provisioner.api_id('WebhookApi')}.execute-api.{stack.region}.amazonaws.com/v1{PATH}"
    )


def post_twilio(api: httpx.Client, stack: DevStack, form: dict[str, str], token: str = "") -> httpx.Response:
    body, headers = tw.signed(signed_url(stack), form, token or ENV["TWILIO_AUTH_TOKEN"])
    return api.post(PATH, content=body, headers=headers)


def fresh_us_phone() -> tuple[str, str]:
    line, exchange = random.randint(1000, 9999), random.randint(200, 999)
    return f"1415{exchange}{line}", f"(415) {exchange}-{line}"


def sid() -> str:
    return "SM" + uuid.uuid4().hex


def test_a_signed_ctwa_message_creates_the_contact_and_ad_click_and_a_later_order_is_attributed(
    api: httpx.Client, operator: httpx.Client, stack: DevStack
) -> None:
    wa_id, national = fresh_us_phone()
    clid = f"CLID-TWILIO-{uuid.uuid4().hex[:8]}"
    message_sid = sid()
    answer = post_twilio(api, stack, tw.inbound(wa_id, message_sid, ReferralCtwaClid=clid))
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "text/xml"
    assert answer.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    stack.wait_until_idle()

    contact = operator.get(f"/contacts/{wa_id}")
    assert contact.status_code == 200, contact.text
    assert contact.json()["name"] == "Twilio Tester"
    assert [(r["ctwa_clid"], r["message_id"]) for r in contact.json()["referrals"]] == [(clid, message_sid)]
    message = operator.get(f"/messages/{quote(message_sid, safe='')}").json()
    assert (message["channel"], message["direction"]) == ("twilio", "inbound")

    # Twilio's webhooks carry no time: the click is when it arrived, and the order comes after it.
    order_id = random.randint(10**11, 10**12)
    body = sc.encode(sc.order(order_id=order_id, created_at=int(time.time()) + 3600, phone=national))
    headers = shopify_headers(
        body, ENV["SHOPIFY_WEBHOOK_SECRET"], shop=ENV["SHOPIFY_SHOP_DOMAIN"], topic="orders/create"
    )
    assert api.post("/webhooks/shopify", content=body, headers=headers).status_code == 200
    stack.wait_until_idle()
    attribution = operator.get(f"/orders/{order_id}").json()["attribution"]
    assert attribution["status"] == "attributed"
    assert attribution["ctwa_clid"] == clid
    assert attribution["contact_key"] == wa_id


def test_status_callbacks_delivered_out_of_order_end_at_the_furthest_state(
    api: httpx.Client, operator: httpx.Client, stack: DevStack
) -> None:
    wa_id, _ = fresh_us_phone()
    message_sid = sid()
    for state in ("delivered", "read", "sent", "queued"):
        assert post_twilio(api, stack, tw.status(wa_id, message_sid, state)).status_code == 200
    stack.wait_until_idle()
    message = operator.get(f"/messages/{quote(message_sid, safe='')}").json()
    assert message["status"] == "read"
    assert set(message["statuses"]) == {"queued", "sent", "delivered", "read"}


def test_a_bad_signature_is_403_and_nothing_is_stored(
    api: httpx.Client, operator: httpx.Client, stack: DevStack, aws: AwsHelpers
) -> None:
    wa_id, _ = fresh_us_phone()
    answer = post_twilio(api, stack, tw.inbound(wa_id, sid()), token="not-the-auth-token")
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden"
    stack.wait_until_idle()
    assert operator.get(f"/contacts/{wa_id}").status_code == 404


def test_twilio_signs_the_url_it_called_with_its_query_string_and_the_http_api_hands_it_over(
    api: httpx.Client, operator: httpx.Client, stack: DevStack
) -> None:
    # The webhook route is on the HTTP API: the function rebuilds the URL from the payload 2.0
    # event's domain, rawPath (behind the stage) and rawQueryString, and reads the form post, which
    # an HTTP API hands over base64, from its bytes.
    wa_id, _ = fresh_us_phone()
    form = tw.inbound(wa_id, sid(), Body="café + 1 = 2 & more")
    called = f"{PATH}?source=ctwa%20test&n=1"
    body, headers = tw.signed(f"{signed_url(stack)}?source=ctwa%20test&n=1", form, ENV["TWILIO_AUTH_TOKEN"])

    assert api.post(called, content=body, headers=headers).status_code == 200
    # the same signature does not hold for the URL without its query string, nor for another query
    assert api.post(PATH, content=body, headers=headers).status_code == 403
    assert api.post(f"{PATH}?source=other&n=1", content=body, headers=headers).status_code == 403
    stack.wait_until_idle()
    assert operator.get(f"/contacts/{wa_id}").status_code == 200


def test_a_deployment_still_pointed_at_the_legacy_rest_url_keeps_receiving(
    api: httpx.Client, operator: httpx.Client, stack: DevStack
) -> None:
    # The webhook route is kept on the REST API (LegacyTwilioWebhookUrl): Twilio, which does not
    # retry, signs that URL; the function reads the payload 1.0 event and checks it against it.
    legacy = stack.provisioner.api_id("Api")
    host = f"{legacy}.execute-api.{stack.region}.amazonaws.com"
    wa_id, _ = fresh_us_phone()
    message_sid = sid()
    body, headers = tw.signed(
        f"https://{host}/v1{PATH}", tw.inbound(wa_id, message_sid), ENV["TWILIO_AUTH_TOKEN"]
    )

    answer = api.post(PATH, content=body, headers={**headers, "Host": host})

    assert answer.status_code == 200, answer.text
    stack.wait_until_idle()
    message = operator.get(f"/messages/{quote(message_sid, safe='')}").json()
    assert (message["channel"], message["direction"]) == ("twilio", "inbound")
