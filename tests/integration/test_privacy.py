"""Erasure and export of one person (issue 12, docs/privacy.md), through the real handlers against moto:
DELETE /contacts/{id} answers 202 with a pending erasure at once, and the ErasureFunction, off its
queue, takes the contact with every merged id, its messages, clicks and link tokens, strips the person
from their orders, and no redelivered webhook brings any of it back; an erasure cut short is finished
when SQS hands its job over again."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3
import pytest

from tests.integration.conftest import IDEMPOTENCY_TABLE, PREFIX, CaptureHarness, ErasureContext
from tests.integration.test_attribution import TABLE, AttributionHarness
from tests.integration.test_attribution import world as world  # the fixture
from tests.integration.test_identity import (
    CLICK_AT,
    PHONE,
    UID,
    both_ids,
    get_contact,
    new_link,
    operator,
    uid_click,
)
from tests.support import attribution as sc
from tests.support import webhooks as wh
from tests.support.lambdas import sqs_event
from wa_conversions.delivery.log import ClaimResult, DeliveryFacts, DeliveryLog

EMAIL = "bob.norman@hostmail.com"  # the fixture order's email


def everything_stored() -> str:
    dynamodb = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    for table in (TABLE, IDEMPOTENCY_TABLE):
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            items.extend(page.get("Items", []))
    return json.dumps(items)


def person_values() -> list[str]:
    plain = [PHONE, UID, EMAIL]
    return plain + [hashlib.sha256(value.encode()).hexdigest() for value in plain]


def erase(harness: CaptureHarness, contact_id: str) -> tuple[int, Any]:
    return operator(harness, "DELETE", "/contacts/{id}", "/contacts/{id}", contact_id)


def erasure_of(harness: CaptureHarness, erasure_id: str) -> tuple[int, Any]:
    return operator(harness, "GET", "/erasures/{id}", "/erasures/{erasure_id}", erasure_id)


def erased(harness: CaptureHarness, contact_id: str) -> dict[str, Any]:
    """DELETE /contacts/{id}, the ErasureFunction's run, then the erasure as GET /erasures/{id} says."""
    status, asked = erase(harness, contact_id)
    assert status == 202, asked
    harness.drain_erasures()
    status, answer = erasure_of(harness, asked["id"])
    assert status == 200, answer
    return dict(answer)


def reply_status(state: str, at: int) -> bytes:
    """The status of the business's reply to the person."""
    return wh.encode(wh.webhook({"statuses": [wh.status("wamid.REPLY", state, at, PHONE)]}))


def a_persons_history(world: AttributionHarness) -> None:
    world.whatsapp(uid_click())  # a username lead clicks an ad
    world.whatsapp(both_ids())  # then writes with their phone: one contact, merged
    world.whatsapp(reply_status("delivered", CLICK_AT + 700))
    new_link(world.capture, PHONE)
    placed = sc.order(order_id=9201, created_at=CLICK_AT + sc.DAY, phone=f"+{PHONE}", where="customer")
    world.order(placed)


def test_erasure_takes_the_person_everywhere_and_keeps_the_orders_amount_and_ad(
    world: AttributionHarness,
) -> None:
    a_persons_history(world)
    stored = everything_stored()
    assert all(value in stored for value in (PHONE, UID, EMAIL))
    _, before = world.get_order(9201)

    status, asked = erase(world.capture, PHONE)

    assert status == 202, asked
    assert asked["status"] == "pending" and asked["erased"] == {}
    assert get_contact(world.capture, PHONE)[0] == 200  # nothing is erased inside the request
    world.capture.drain_erasures()
    status, answer = erasure_of(world.capture, asked["id"])
    assert status == 200
    assert answer["id"] == asked["id"]
    assert answer["status"] == "done" and answer["completed_at"]
    assert answer["erased"]["contact"] == 1
    assert answer["erased"]["merged_contact"] == 1  # the user-id contact it was merged from
    assert answer["erased"]["message"] == 3
    assert answer["erased"]["link_token"] == 1
    assert answer["redacted"]["order"] == 1
    stored = everything_stored()
    assert [value for value in person_values() if value in stored] == []
    # a real wamid carries the phone (base64): no message id is left, the dedupe ledger's included
    assert [m for m in ("wamid.UIDCLICK", "wamid.BOTH", "wamid.REPLY") if m in stored] == []
    status, order = world.get_order(9201)
    assert status == 200
    assert order["value"] == before["value"]
    assert order["attribution"]["status"] == "attributed"
    assert order["attribution"]["source_id"] == before["attribution"]["source_id"] == "120226305854810726"
    assert get_contact(world.capture, PHONE)[0] == 404
    assert get_contact(world.capture, UID)[0] == 404


def test_asking_again_is_the_same_answer_and_an_unknown_person_is_404(world: AttributionHarness) -> None:
    a_persons_history(world)
    _, first = erase(world.capture, PHONE)
    assert erase(world.capture, PHONE) == (202, first)  # asked again while pending: the same erasure
    world.capture.drain_erasures()
    _, done = erasure_of(world.capture, first["id"])

    again = erase(world.capture, PHONE)
    by_user_id = erase(world.capture, UID)
    world.capture.drain_erasures()  # the job queued twice: the second run changes nothing

    assert done["id"] == first["id"] and done["status"] == "done"
    assert again == (202, done)
    assert by_user_id == (202, done)
    assert erasure_of(world.capture, first["id"]) == (200, done)
    status, body = erase(world.capture, "15550000000")
    assert status == 404 and body["error"], body


def test_a_redelivered_old_message_is_dropped_and_a_new_one_is_a_new_contact(
    world: AttributionHarness,
) -> None:
    a_persons_history(world)
    erased(world.capture, PHONE)

    world.whatsapp(both_ids())  # Meta redelivers an old message
    world.whatsapp(uid_click())
    world.whatsapp(reply_status("read", CLICK_AT + 800))  # an old message's next status: never seen
    assert get_contact(world.capture, PHONE)[0] == 404
    assert get_contact(world.capture, UID)[0] == 404
    assert UID not in everything_stored()

    world.whatsapp(both_ids(message_id="wamid.AFTER", at=CLICK_AT + 5 * sc.DAY))
    status, contact = get_contact(world.capture, PHONE)
    assert status == 200
    assert contact["messages"] == {"inbound": 1, "outbound": 0}
    assert contact["referrals"] == []


def test_the_export_holds_everything_about_the_person(world: AttributionHarness) -> None:
    a_persons_history(world)

    status, asked = operator(world.capture, "GET", "/contacts/{id}/export", "/contacts/{id}/export", PHONE)
    assert status == 202 and asked["status"] == "pending", asked
    world.capture.drain_erasures()
    status, export = operator(world.capture, "GET", "/exports/{id}", "/exports/{export_id}", asked["id"])

    assert status == 200, export
    assert export["status"] == "done"
    held = export["held"]
    assert {"contact", "merged_contact", "message", "referral", "link_token", "order"} <= set(held)
    assert held["contact"][0]["phone"] == PHONE
    assert held["order"][0]["email"] == EMAIL
    assert (
        operator(world.capture, "GET", "/contacts/{id}/export", "/contacts/{id}/export", "15550000000")[0]
        == 404
    )


def test_a_conversion_still_queued_for_the_person_is_skipped_as_erased_and_never_sent(
    world: AttributionHarness,
) -> None:
    a_persons_history(world)
    log = DeliveryLog(boto3.client("dynamodb"), TABLE)
    facts = DeliveryFacts(destination="wax", event_id="conversion-9201:order", order_id="9201")
    queued = json.dumps({"detail": {"properties": {"phone": PHONE, "orderId": "9201"}}})
    claim = log.claim(facts, message=queued, queue="wax", lease_seconds=30)
    log.mark_retrying(claim.delivery_id, facts, 503, "Service Unavailable", 30)  # back in the queue

    erased(world.capture, PHONE)

    stored = log.get(claim.delivery_id)
    assert stored is not None
    assert (stored["status"], stored["reason"]) == ("skipped", "erased")
    assert PHONE not in json.dumps(stored)
    kept = log.message(claim.delivery_id)  # the queued message kept for a replay, scrubbed too
    assert kept is not None and PHONE not in kept and "9201" in kept
    retried = log.claim(facts, message=queued, queue="wax", lease_seconds=30)  # the queued retry
    assert retried.result is ClaimResult.ERASED
    assert PHONE not in (log.message(claim.delivery_id) or "")  # and it wrote the person back nowhere
    assert PHONE not in json.dumps(log.get(claim.delivery_id))


# -- Shopify's compliance webhooks ------------------------------------------------------------------


def compliance(topic: str, **changes: Any) -> dict[str, Any]:
    """The docs' sample payload of a compliance topic (events/payloads/shopify_docs_*.json)."""
    document: dict[str, Any] = wh.sample_json(f"shopify_docs_{topic.replace('/', '_')}.json")
    return {**document, **changes}


THE_CUSTOMER = {"id": 191167, "email": EMAIL, "phone": f"+{PHONE}"}


@pytest.mark.parametrize("topic", ["customers/redact", "shop/redact", "customers/data_request"])
def test_a_compliance_webhook_with_a_bad_signature_is_401_and_changes_nothing(
    world: AttributionHarness, topic: str
) -> None:
    a_persons_history(world)

    response = world.post_shopify(compliance(topic, customer=THE_CUSTOMER), topic, secret="not-the-secret")
    world.capture.drain_erasures()

    assert response["statusCode"] == 401
    assert get_contact(world.capture, PHONE)[0] == 200
    assert world.get_order(9201)[0] == 200


def test_customers_redact_erases_the_customers_orders_and_their_contact(world: AttributionHarness) -> None:
    a_persons_history(world)
    _, before = world.get_order(9201)

    response = world.post_shopify(
        compliance("customers/redact", customer=THE_CUSTOMER, orders_to_redact=[9201]), "customers/redact"
    )
    world.capture.drain_erasures()

    assert response["statusCode"] == 200
    stored = everything_stored()
    assert [value for value in person_values() if value in stored] == []
    assert get_contact(world.capture, PHONE)[0] == 404
    status, order = world.get_order(9201)
    assert (status, order["value"]) == (200, before["value"])


def test_shop_redact_removes_the_shops_orders(world: AttributionHarness) -> None:
    a_persons_history(world)

    response = world.post_shopify(compliance("shop/redact"), "shop/redact")
    world.capture.drain_erasures()

    assert response["statusCode"] == 200
    assert world.get_order(9201)[0] == 404
    assert EMAIL not in everything_stored()


def test_customers_data_request_writes_an_export_of_the_customer(world: AttributionHarness) -> None:
    a_persons_history(world)

    response = world.post_shopify(
        compliance("customers/data_request", customer=THE_CUSTOMER, orders_requested=[9201]),
        "customers/data_request",
    )
    world.capture.drain_erasures()

    assert response["statusCode"] == 200
    key = {"pk": {"S": f"EXPORT#{world.env['SHOPIFY_SHOP_DOMAIN']}#9999"}, "sk": {"S": "EXPORT"}}
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key=key)["Item"]
    export = json.loads(item["document"]["S"])
    assert export["data_request_id"] == "9999"
    assert export["held"]["contact"][0]["phone"] == PHONE
    assert export["held"]["order"][0]["email"] == EMAIL
    # and a later erasure takes the export too
    erased(world.capture, PHONE)
    assert "Item" not in boto3.client("dynamodb").get_item(TableName=TABLE, Key=key)


# -- an erasure cut short -----------------------------------------------------------------------------


class RunningOut(ErasureContext):
    """An invocation with room for `checks` looks at the clock, then less than the eraser keeps."""

    def __init__(self, checks: int) -> None:
        self.checks = checks

    def get_remaining_time_in_millis(self) -> int:
        self.checks -= 1
        return 900_000 if self.checks >= 0 else 5_000


def test_an_erasure_cut_short_anywhere_stays_pending_and_its_retry_finishes_it(
    world: AttributionHarness,
) -> None:
    a_persons_history(world)
    _, asked = erase(world.capture, PHONE)
    queued = boto3.client("sqs").receive_message(QueueUrl=world.capture.erasure_url)["Messages"][0]["Body"]

    attempts = 0
    for budget in range(100):  # SQS hands the failed job over again, each time with more time
        attempts += 1
        response = world.capture.invoke("erasure", sqs_event([queued]), RunningOut(budget))
        if not response["batchItemFailures"]:
            break
        assert erasure_of(world.capture, asked["id"])[1]["status"] == "pending"

    assert attempts > 3  # it was cut short at several points before one attempt finished
    _, answer = erasure_of(world.capture, asked["id"])
    assert answer["status"] == "done"
    assert answer["erased"]["contact"] == answer["erased"]["merged_contact"] == 1
    assert answer["erased"]["message"] == 3 and answer["erased"]["link_token"] == 1
    assert answer["redacted"]["order"] == 1
    stored = everything_stored()
    assert [value for value in person_values() if value in stored] == []
    assert get_contact(world.capture, PHONE)[0] == 404


def test_a_compliance_webhook_goes_to_the_erasure_queue_not_the_orders_queue(
    world: AttributionHarness,
) -> None:
    a_persons_history(world)

    response = world.post_shopify(compliance("shop/redact"), "shop/redact")

    assert response["statusCode"] == 200
    assert world.drain_orders() == []
    assert world.get_order(9201)[0] == 200  # not applied in the request either
    assert world.capture.drain_erasures() != []
    assert world.get_order(9201)[0] == 404


def test_a_message_that_is_not_a_job_is_parked_in_the_dlq_with_its_reason(world: AttributionHarness) -> None:
    sqs = boto3.client("sqs")

    response = world.capture.invoke(
        "erasure", sqs_event(['{"erasure_id": "no-such-erasure"}', "not json"]), ErasureContext()
    )

    assert response["batchItemFailures"] == []
    parked = sqs.receive_message(
        QueueUrl=world.orders_dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in parked)
    assert len(reasons) == 2
    assert reasons[0].startswith("No erasure 'no-such-erasure'") and reasons[1].startswith("Not JSON")


def test_an_erased_delivery_stays_erased_whatever_is_written_or_asked_later(
    world: AttributionHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.parse import quote

    from devstack.sample_events import proxy_event
    from wa_conversions.delivery.log import OperatorResult

    a_persons_history(world)
    log = DeliveryLog(boto3.client("dynamodb"), TABLE)
    facts = DeliveryFacts(destination="wax", event_id="conversion-9201:order", order_id="9201")
    queued = json.dumps({"detail": {"properties": {"phone": PHONE, "orderId": "9201"}}})
    claim = log.claim(facts, message=queued, queue="wax", lease_seconds=30)
    log.mark_retrying(claim.delivery_id, facts, 503, "Service Unavailable", 30)
    erased(world.capture, PHONE)

    # a replay of the conversion that is now a skip, and the late outcome of an attempt
    log.mark_skipped(facts, "no attributed click", message=queued, queue="wax")
    log.mark_failed(claim.delivery_id, facts, 400, "Bad Request")
    reopened = log.reopen(claim.delivery_id)
    monkeypatch.setenv("WAX_QUEUE_URL", world.capture.ingest_url)
    answers = {}
    for action in ("retry", "confirm"):
        path = f"/deliveries/{quote(claim.delivery_id, safe='')}/{action}"
        headers = {"X-Api-Key": world.capture.env["API_KEY"], "Content-Type": "application/json"}
        response = world.capture.invoke("delivery_api", proxy_event("POST", path, headers=headers))
        answers[action] = (response["statusCode"], json.loads(response["body"])["error"])

    stored = log.get(claim.delivery_id)
    assert stored is not None
    assert (stored["status"], stored["reason"]) == ("skipped", "erased")
    assert PHONE not in json.dumps(stored)
    assert reopened is OperatorResult.ERASED
    assert answers == {"retry": (409, "conflict"), "confirm": (409, "conflict")}
    replayed = boto3.client("sqs").receive_message(QueueUrl=world.capture.ingest_url).get("Messages", [])
    assert replayed == []


# -- tenants: a person is erased and exported within their tenant only (docs/tenants.md) -----------


def test_erasing_and_exporting_a_tenants_contact_leaves_the_same_phone_at_another_tenant(
    harness: CaptureHarness,
) -> None:
    from urllib.parse import quote

    from devstack.sample_events import proxy_event
    from tests.integration import test_operator_tenants as mt

    boto3.client("ssm").put_parameter(
        Name=f"{PREFIX}/tenants", Value=json.dumps(mt.TENANTS), Type="SecureString", Overwrite=True
    )
    mt.receive(harness, "wamid.AT-A", wh.METADATA["phone_number_id"])  # brand-a, the default
    mt.receive(harness, "wamid.AT-B", mt.PHONE_NUMBER_ID_B)  # the same phone writes to brand-b

    def call(method: str, resource: str, path: str, tenant: str | None) -> tuple[int, Any]:
        event = proxy_event(
            method,
            path,
            resource=resource,
            headers={"X-Api-Key": harness.env["API_KEY"]},
            query={"tenant": tenant} if tenant else None,
            path_parameters={"id": quote(path.split("/")[2], safe="")},
        )
        response = harness.invoke("operator_api", event)
        return response["statusCode"], json.loads(response["body"])

    status, asked = call("GET", "/contacts/{id}/export", f"/contacts/{mt.PHONE}/export", "brand-b")
    assert status == 202, asked
    harness.drain_erasures()
    _, export = call("GET", "/exports/{id}", f"/exports/{asked['id']}", None)
    status, asked = call("DELETE", "/contacts/{id}", f"/contacts/{mt.PHONE}", "brand-b")
    assert status == 202, asked
    harness.drain_erasures()

    assert len(export["held"]["contact"]) == 1 and "wamid.AT-B" in json.dumps(export)
    assert "wamid.AT-A" not in json.dumps(export)
    assert call("GET", "/contacts/{id}", f"/contacts/{mt.PHONE}", "brand-b")[0] == 404
    status, kept = call("GET", "/contacts/{id}", f"/contacts/{mt.PHONE}", None)  # brand-a's
    assert status == 200 and kept["messages"]["inbound"] == 1, kept
    assert call("GET", "/messages/{id}", "/messages/wamid.AT-A", None)[0] == 200
    assert call("GET", "/messages/{id}", "/messages/wamid.AT-B", None)[0] == 404


def test_a_refund_written_while_the_erasure_runs_is_kept(
    world: AttributionHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wa_conversions.privacy.erasure import Eraser

    a_persons_history(world)
    dynamodb = boto3.client("dynamodb")
    key = {"pk": {"S": f"ORDER#{world.env['SHOPIFY_SHOP_DOMAIN']}#9201"}, "sk": {"S": "ORDER"}}
    planned = Eraser.plan
    calls: list[int] = []

    def refunded_meanwhile(self: Eraser, *args: Any, **kwargs: Any) -> Any:
        plan = planned(self, *args, **kwargs)  # after the scan read the order, before it is written
        calls.append(len(plan.rewrites))
        dynamodb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET refunded_value = :r, email = :e",
            ExpressionAttributeValues={":r": {"S": "10.00"}, ":e": {"S": EMAIL.upper()}},
        )
        return plan

    monkeypatch.setattr(Eraser, "plan", refunded_meanwhile)
    erased(world.capture, PHONE)

    assert calls == [1]
    order = dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]
    assert order["refunded_value"] == {"S": "10.00"}
    assert "email" not in order  # written meanwhile too, and still redacted
    assert order["attribution"]["M"]["source_id"] == {"S": "120226305854810726"}


def test_a_second_copy_of_a_running_erasure_backs_off_and_is_retried(world: AttributionHarness) -> None:
    import time

    a_persons_history(world)
    _, asked = erase(world.capture, PHONE)
    job = boto3.client("sqs").receive_message(QueueUrl=world.capture.erasure_url)["Messages"][0]["Body"]
    dynamodb = boto3.client("dynamodb")
    key = {"pk": {"S": f"ERASURE#{asked['id']}"}, "sk": {"S": "ERASURE"}}
    held = {":u": {"N": str(int(time.time()) + 600)}, ":t": {"S": "another-attempt"}}
    dynamodb.update_item(  # an attempt runs it right now (SQS delivered the job twice)
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET lease_until = :u, lease_token = :t",
        ExpressionAttributeValues=held,
    )

    second = world.capture.invoke("erasure", sqs_event([job]), ErasureContext())

    assert len(second["batchItemFailures"]) == 1  # handed over again later
    assert get_contact(world.capture, PHONE)[0] == 200  # and it scanned and erased nothing
    assert erasure_of(world.capture, asked["id"])[1]["status"] == "pending"
    dynamodb.update_item(  # that attempt died: its lease runs out
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET lease_until = :u",
        ExpressionAttributeValues={":u": {"N": str(int(time.time()) - 1)}},
    )
    assert world.capture.invoke("erasure", sqs_event([job]), ErasureContext())["batchItemFailures"] == []
    assert erasure_of(world.capture, asked["id"])[1]["status"] == "done"
    assert get_contact(world.capture, PHONE)[0] == 404
    assert "lease_token" not in dynamodb.get_item(TableName=TABLE, Key=key)["Item"]


def test_an_export_too_large_for_one_item_fails_with_its_reason(world: AttributionHarness) -> None:
    a_persons_history(world)
    dynamodb = boto3.client("dynamodb")
    for order_id in ("9301", "9302"):  # two big orders of the person: each fits, both do not
        dynamodb.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": f"ORDER#{world.env['SHOPIFY_SHOP_DOMAIN']}#{order_id}"},
                "sk": {"S": "ORDER"},
                "item_type": {"S": "order"},
                "email": {"S": EMAIL},
                "note": {"S": "x" * 250_000},
                "expires_at": {"N": "2000000000"},
            },
        )

    status, asked = operator(world.capture, "GET", "/contacts/{id}/export", "/contacts/{id}/export", PHONE)
    assert status == 202, asked
    world.capture.drain_erasures()
    status, export = operator(world.capture, "GET", "/exports/{id}", "/exports/{export_id}", asked["id"])

    assert status == 200, export
    assert (export["status"], export["held"]) == ("failed", None)
    assert "more than one table item holds" in export["reason"]


def test_a_late_merge_announcement_does_not_bring_an_erased_profile_back(world: AttributionHarness) -> None:
    from wa_conversions.store.capture import CaptureRepository

    a_persons_history(world)
    erased(world.capture, PHONE)

    # the processor announced the merge before the erasure, and marks it after
    CaptureRepository(boto3.client("dynamodb"), TABLE).mark_announced([f"uid:{UID}", PHONE])

    assert [value for value in (PHONE, UID) if value in everything_stored()] == []


def test_customers_redact_from_a_tenants_shop_erases_that_tenants_contact_only(
    harness: CaptureHarness,
) -> None:
    from devstack.sample_events import proxy_event
    from tests.integration import test_operator_tenants as mt

    shop_b = "brand-b.myshopify.com"
    tenants = [mt.TENANTS[0], {**mt.TENANTS[1], "shops": [shop_b]}]
    boto3.client("ssm").put_parameter(
        Name=f"{PREFIX}/tenants", Value=json.dumps(tenants), Type="SecureString", Overwrite=True
    )
    mt.receive(harness, "wamid.AT-A", wh.METADATA["phone_number_id"])
    mt.receive(harness, "wamid.AT-B", mt.PHONE_NUMBER_ID_B)
    customer = {"id": 7, "phone": f"+{mt.PHONE}"}
    body = compliance("customers/redact", shop_domain=shop_b, customer=customer, orders_to_redact=[])
    job = {"topic": "customers/redact", "shop": shop_b, "event_id": "e-1", "body": json.dumps(body)}

    done = harness.invoke("erasure", sqs_event([json.dumps(job)]), ErasureContext())

    def contact(tenant: str | None) -> int:
        event = proxy_event(
            "GET",
            f"/contacts/{mt.PHONE}",
            resource="/contacts/{id}",
            headers={"X-Api-Key": harness.env["API_KEY"]},
            query={"tenant": tenant} if tenant else None,
            path_parameters={"id": mt.PHONE},
        )
        return int(harness.invoke("operator_api", event)["statusCode"])

    assert done["batchItemFailures"] == []
    assert (contact("brand-b"), contact(None)) == (404, 200)


def test_an_erasure_leaves_none_of_the_contacts_analytics_items_even_with_an_event_counted_meanwhile(
    world: AttributionHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support import analytics_history as history
    from wa_conversions.analytics.aggregator import Aggregator
    from wa_conversions.models.events import LifecycleEvent
    from wa_conversions.privacy.erasure import Eraser
    from wa_conversions.store.analytics import AnalyticsRepository
    from wa_conversions.store.keys import analytics_state_pk

    a_persons_history(world)
    dynamodb = boto3.client("dynamodb")
    aggregator = Aggregator(
        AnalyticsRepository(dynamodb, TABLE, IDEMPOTENCY_TABLE, marker_ttl_seconds=86_400)
    )

    def received(key: str, when: str) -> None:
        bus = history.bus("message.received", PHONE, when, key, messageId=f"wamid.{key}")
        assert aggregator.apply(LifecycleEvent.model_validate(bus.document)).outcome == "counted"

    received("a", history.at("2025-01-01", "10:00:00"))
    received("b", history.at("2025-01-01", "10:05:00"))
    planned = Eraser.plan

    def counted_meanwhile(self: Eraser, *args: Any, **kwargs: Any) -> Any:
        plan = planned(self, *args, **kwargs)  # after the scan read the state, before it is deleted
        received("c", history.at("2025-01-01", "10:10:00"))
        return plan

    monkeypatch.setattr(Eraser, "plan", counted_meanwhile)
    erased(world.capture, PHONE)

    left = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": analytics_state_pk(PHONE)}},
        ConsistentRead=True,
    )["Items"]
    assert left == []
