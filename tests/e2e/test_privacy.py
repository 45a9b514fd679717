"""Proof of erasure on the local stack (issue 12, docs/privacy.md): a person's whole history (an ad
click, messages, statuses, an order delivered to every destination), then DELETE /contacts/{id}, then
every table and every queue is searched for the person: nothing, while GET /metrics still counts the
order's revenue for the ad. The DELETE answers 202 with a pending erasure at once; the ErasureFunction
does it off its queue, and GET /erasures/{id} says `done` with the counts."""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devstack.sample_events import read_env
from devstack.shopify_samples import shopify_headers
from devstack.stack import DevStack
from devstack.testing import AwsHelpers
from tests.support import attribution as sc
from tests.support import webhooks as wh

pytestmark = pytest.mark.e2e

ENV = read_env()
FIXTURE_EMAIL = "bob.norman@hostmail.com"


def post_whatsapp(api: httpx.Client, document: dict[str, Any]) -> None:
    body = wh.encode(document)
    wh.post_signed(api, body)


def post_order(api: httpx.Client, payload: dict[str, Any]) -> None:
    body = sc.encode(payload)
    headers = shopify_headers(
        body, ENV["SHOPIFY_WEBHOOK_SECRET"], shop=ENV["SHOPIFY_SHOP_DOMAIN"], topic="orders/create"
    )
    assert api.post("/webhooks/shopify", content=body, headers=headers).status_code == 200


def everything_in_tables_and_queues(aws: AwsHelpers) -> str:
    """Every item of every table and every message waiting in every queue, as one text."""
    found: list[Any] = []
    for table in aws.dynamodb.list_tables()["TableNames"]:
        found.extend(aws.table_items(table))
    for url in aws.sqs.list_queues().get("QueueUrls", []):
        for _ in range(3):  # a receive samples the queue; visibility 0 leaves every message to its poller
            found.extend(
                m["Body"]
                for m in aws.sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
                ).get("Messages", [])
            )
    return json.dumps(found, default=str)


def erasure_done(api: httpx.Client, erasure_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """GET /erasures/{id} until the ErasureFunction has marked it done."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/erasures/{erasure_id}", headers={"X-Api-Key": ENV["API_KEY"]})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        if answer["status"] == "done":
            return answer
        assert answer["status"] == "pending", answer
        assert time.monotonic() < deadline, f"the erasure is still pending after {timeout} s"
        time.sleep(0.2)


def ad_metrics(api: httpx.Client, day: str, ad: str) -> dict[str, Any]:
    response = api.get(
        "/metrics", params={"from": day, "to": day, "tz": "UTC"}, headers={"X-Api-Key": ENV["API_KEY"]}
    )
    assert response.status_code == 200, response.text
    ads: dict[str, Any] = response.json()["ads"]
    return dict(ads.get(ad, {}))


def test_an_erased_person_is_nowhere_and_the_ads_revenue_stays(
    api: httpx.Client, stack: DevStack, aws: AwsHelpers
) -> None:
    suffix = uuid.uuid4().hex[:8]
    phone = f"1415{random.randint(200, 999)}{random.randint(1000, 9999)}"
    user_id = f"US.{random.randint(10**18, 10**19)}"
    first, last = f"Erin{suffix}", f"Vasquez{suffix}"
    name, email = f"{first} {last}", f"erin.{suffix}@example.com"
    ad, clid = str(random.randint(10**17, 10**18)), f"CLID-ERASE-{suffix}"
    now = int(time.time())
    day = datetime.fromtimestamp(now - 60, tz=UTC).date().isoformat()
    person = wh.contact(phone, name=name, user_id=user_id)
    click = {"source_type": "ad", "source_id": ad, "source_url": "https://fb.me/x", "ctwa_clid": clid}

    post_whatsapp(
        api,
        wh.webhook(
            {
                "contacts": [person],
                "messages": [wh.text_message(f"wamid.IN1{suffix}", phone, now - 3600, referral=click)],
            }
        ),
    )
    post_whatsapp(
        api,
        wh.webhook(
            {"contacts": [person], "messages": [wh.text_message(f"wamid.IN2{suffix}", phone, now - 3000)]}
        ),
    )
    for state, at in (("sent", now - 2900), ("delivered", now - 2890), ("read", now - 2800)):
        post_whatsapp(api, wh.webhook({"statuses": [wh.status(f"wamid.OUT{suffix}", state, at, phone)]}))
    stack.wait_until_idle()
    order_id = random.randint(10**11, 10**12)
    placed = sc.order(order_id=order_id, created_at=now - 60, phone=f"+{phone}", where="customer")
    text = json.dumps(placed).replace(FIXTURE_EMAIL, email).replace("Bob", first).replace("Norman", last)
    post_order(api, json.loads(text))
    stack.wait_until_idle(timeout=60)

    with httpx.Client(base_url=stack.standins.url, timeout=10.0) as standins:
        sent = standins.get("/_requests").json()
    markers = (str(order_id), clid, phone)  # each destination's body carries at least one of them
    reached = {r["destination"] for r in sent if any(m in json.dumps(r["body"]) for m in markers)}
    assert {"wax", "meta", "cm", "dialog360"} <= reached, reached
    before = ad_metrics(api, day, ad)
    assert before["orders"] == 1 and before["revenue"] > 0, before
    values = [phone, f"+{phone}", user_id, email, name, first, last]
    hashes = [hashlib.sha256(v.lower().encode()).hexdigest() for v in values]
    hashes += [hashlib.sha256(v.encode()).hexdigest() for v in values]
    stored = everything_in_tables_and_queues(aws)
    assert all(v in stored for v in (phone, user_id, email)), "the history was not stored"

    operator = {"X-Api-Key": ENV["API_KEY"]}
    erased = api.delete(f"/contacts/{phone}", headers=operator)

    assert erased.status_code == 202, erased.text
    asked = erased.json()
    assert asked["status"] in {"pending", "done"}, asked  # done only if the eraser was already quicker
    answer = erasure_done(api, asked["id"])
    stack.wait_until_idle()
    assert answer["id"] == asked["id"]
    assert answer["erased"]["contact"] == 1 and answer["erased"]["message"] == 3, answer
    assert answer["redacted"]["order"] == 1 and answer["redacted"]["delivery"] >= 4, answer
    stored = everything_in_tables_and_queues(aws)
    assert [v for v in values + hashes if v in stored] == []
    assert api.get(f"/contacts/{phone}", headers=operator).status_code == 404
    assert api.delete(f"/contacts/{phone}", headers=operator).json() == answer
    after = ad_metrics(api, day, ad)
    assert (after["orders"], after["revenue"]) == (before["orders"], before["revenue"])
