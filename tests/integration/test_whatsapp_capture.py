"""WhatsApp webhooks through the real handlers: acknowledgement, queue, processor, table, bus and the
operator API, against moto."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode

import boto3
import pytest

from devstack import moto_limits
from devstack.sample_events import http_event, whatsapp_post
from tests.integration.conftest import CaptureHarness
from tests.support import webhooks as wh
from tests.support.lambdas import FakeContext

EVENTS = Path(__file__).resolve().parents[2] / "events"
REFERRAL_WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUQ0N0VFMDA2MTQ0RkJFNkNDNAA="
SENT_WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="


@pytest.fixture(autouse=True)
def aws_limits() -> Iterator[None]:
    # moto takes bodies AWS refuses (over SQS's limits in bytes, characters outside SQS's set).
    with moto_limits.enforced():
        yield


def event_file(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def post_and_process(harness: CaptureHarness, document: dict | bytes) -> dict:
    body = document if isinstance(document, bytes) else wh.encode(document)
    response = harness.post(whatsapp_post(body, harness.env["WHATSAPP_APP_SECRET"]))
    assert response["statusCode"] == 200, response
    harness.drain()
    return response


def get_json(response: dict) -> dict:
    return json.loads(response["body"])


def contact(harness: CaptureHarness, identifier: str) -> dict:
    response = harness.api_get(
        f"/contacts/{quote(identifier, safe='')}", "/contacts/{id}", {"id": quote(identifier, safe="")}
    )
    assert response["statusCode"] == 200, response
    return get_json(response)


def message(harness: CaptureHarness, message_id: str) -> dict:
    encoded = quote(message_id, safe="")
    response = harness.api_get(f"/messages/{encoded}", "/messages/{message_id}", {"message_id": encoded})
    assert response["statusCode"] == 200, response
    return get_json(response)


class TestVerificationHandshake:
    def test_right_token_echoes_the_challenge_as_plain_text(self, harness: CaptureHarness) -> None:
        response = harness.post(event_file("whatsapp_verify.json"))
        assert response["statusCode"] == 200
        assert response["body"] == "1158201444"
        assert response["headers"]["Content-Type"] == "text/plain"

    def test_wrong_token_is_forbidden(self, harness: CaptureHarness) -> None:
        query = dict(parse_qsl(event_file("whatsapp_verify.json")["rawQueryString"]))
        event = http_event(
            "GET", "/webhooks/whatsapp", raw_query=urlencode({**query, "hub.verify_token": "guess"})
        )
        response = harness.post(event)
        assert response["statusCode"] == 403
        assert get_json(response)["error"] == "forbidden"


class TestRejectedWebhooks:
    def test_missing_signature_is_401_and_nothing_is_queued(self, harness: CaptureHarness) -> None:
        event = event_file("whatsapp_text_ctwa_referral.json")
        del event["headers"]["x-hub-signature-256"]
        response = harness.post(event)
        assert response["statusCode"] == 401
        assert get_json(response) == {
            "error": "unauthorized",
            "message": "Missing X-Hub-Signature-256 header",
        }
        assert harness.drain() == []

    def test_signature_of_another_body_is_403_and_nothing_is_stored(self, harness: CaptureHarness) -> None:
        event = event_file("whatsapp_text_ctwa_referral.json")
        event["body"] = event["body"].replace("Sheena", "Mallory")
        response = harness.post(event)
        assert response["statusCode"] == 403
        assert harness.drain() == []
        missing = harness.api_get("/contacts/16505551234", "/contacts/{id}", {"id": "16505551234"})
        assert missing["statusCode"] == 404

    def test_signature_with_another_secret_is_403(self, harness: CaptureHarness) -> None:
        body = wh.sample("meta_docs_text_message_ctwa_referral.json")
        response = harness.post(whatsapp_post(body, "someone-elses-secret"))
        assert response["statusCode"] == 403

    @pytest.mark.parametrize(
        ("body", "fragment"),
        [
            (b"{not json", "not valid JSON"),
            (b'{"object": "page", "entry": []}', "whatsapp_business_account"),
            (b'{"object": "whatsapp_business_account", "entry": {}}', '"entry" must be a list'),
            (b"[1, 2]", "whatsapp_business_account"),
        ],
    )
    def test_malformed_or_foreign_body_is_400_with_a_json_error(
        self, harness: CaptureHarness, body: bytes, fragment: str
    ) -> None:
        response = harness.post(whatsapp_post(body, harness.env["WHATSAPP_APP_SECRET"]))
        assert response["statusCode"] == 400
        error = get_json(response)
        assert error["error"] == "bad_request"
        assert fragment in error["message"]


class TestCtwaReferral:
    def test_sample_referral_message_is_captured(self, harness: CaptureHarness) -> None:
        response = harness.post(event_file("whatsapp_text_ctwa_referral.json"))
        assert response["statusCode"] == 200
        harness.drain()

        found = contact(harness, "+16505551234")
        assert found["phone"] == "16505551234"
        assert found["name"] == "Sheena Nelson"
        assert found["first_seen_at"] == "2025-06-18T19:46:32.000Z"
        assert found["last_inbound_at"] == "2025-06-18T19:46:32.000Z"
        assert found["messages"] == {"inbound": 1, "outbound": 0}
        [referral] = found["referrals"]
        assert referral["ctwa_clid"].startswith("Aff-n8ZTODiE79d22KtAwQKj9e")
        assert referral["source_id"] == "120226305854810726"
        assert referral["source_type"] == "ad"
        assert referral["source_url"] == "https://fb.me/3cr4Wqqkv"
        assert referral["headline"] == "Chat with us"
        assert referral["message_id"] == REFERRAL_WAMID

        stored = message(harness, REFERRAL_WAMID)
        assert stored["direction"] == "inbound"
        assert stored["type"] == "text"
        assert stored["contact"] == "16505551234"

        names = sorted(e["detail-type"] for e in harness.bus_events())
        assert names == ["contact.created", "message.received", "referral.captured"]

    def test_base64_encoded_body_is_verified_on_its_decoded_bytes(self, harness: CaptureHarness) -> None:
        response = harness.post(event_file("whatsapp_text_ctwa_referral_base64.json"))
        assert response["statusCode"] == 200
        harness.drain()
        assert contact(harness, "16505551234")["referrals"][0]["source_id"] == "120226305854810726"

    def test_webhook_forwarded_by_360dialog_is_verified_with_its_platform_secret(
        self, harness: CaptureHarness
    ) -> None:
        body = wh.sample("meta_docs_text_message_ctwa_referral.json")
        signature = hmac.new(
            harness.env["WHATSAPP_360DIALOG_SECRET"].encode(), body, hashlib.sha256
        ).hexdigest()
        event = whatsapp_post(body, "unused")
        del event["headers"]["x-hub-signature-256"]
        event["headers"]["x-360dialog-signature"] = signature
        assert harness.post(event)["statusCode"] == 200
        harness.drain()
        assert contact(harness, "16505551234")["name"] == "Sheena Nelson"
        event["headers"]["x-360dialog-signature"] = "0" * 64
        assert harness.post(event)["statusCode"] == 403

    def test_referral_without_click_id_is_kept(self, harness: CaptureHarness) -> None:
        referral = {
            "source_url": "https://fb.me/x",
            "source_id": "999",
            "source_type": "ad",
            "headline": "Status ad",
        }
        document = wh.webhook(
            {
                "contacts": [wh.contact("5511999990000")],
                "messages": [wh.text_message("wamid.S1", "5511999990000", 1750000000, referral=referral)],
            }
        )
        post_and_process(harness, document)
        [kept] = contact(harness, "5511999990000")["referrals"]
        assert kept["ctwa_clid"] is None
        assert kept["source_id"] == "999"

    def test_referrals_are_listed_newest_first(self, harness: CaptureHarness) -> None:
        for i, ts in enumerate([1750000000, 1750500000]):
            referral = {"source_id": f"ad-{i}", "source_type": "ad", "ctwa_clid": f"clid-{i}"}
            post_and_process(
                harness,
                wh.webhook(
                    {
                        "contacts": [wh.contact("441234567890")],
                        "messages": [wh.text_message(f"wamid.R{i}", "441234567890", ts, referral=referral)],
                    }
                ),
            )
        assert [r["source_id"] for r in contact(harness, "441234567890")["referrals"]] == ["ad-1", "ad-0"]


class TestStatuses:
    def test_status_for_unknown_outbound_message_creates_it(self, harness: CaptureHarness) -> None:
        post_and_process(harness, wh.sample("meta_docs_status_sent_with_pricing.json"))
        stored = message(harness, SENT_WAMID)
        assert stored["direction"] == "outbound"
        assert stored["status"] == "sent"
        assert stored["statuses"] == {"sent": "2025-06-15T23:27:53.000Z"}
        assert stored["contact"] == "16505551234"
        assert contact(harness, "16505551234")["messages"] == {"inbound": 0, "outbound": 1}
        assert [
            e["detail-type"] for e in harness.bus_events() if e["detail-type"].startswith("message.")
        ] == ["message.sent"]

    def test_out_of_order_statuses_never_move_backwards(self, harness: CaptureHarness) -> None:
        recipient = "4915112345678"
        for state, ts in [("read", 1750000300), ("sent", 1750000100), ("delivered", 1750000200)]:
            post_and_process(harness, wh.webhook({"statuses": [wh.status("wamid.O1", state, ts, recipient)]}))
        stored = message(harness, "wamid.O1")
        assert stored["status"] == "read"
        assert stored["statuses"] == {
            "sent": "2025-06-15T15:08:20.000Z",
            "delivered": "2025-06-15T15:10:00.000Z",
            "read": "2025-06-15T15:11:40.000Z",
        }

    def test_read_without_delivered(self, harness: CaptureHarness) -> None:
        recipient = "4915112345678"
        post_and_process(
            harness,
            wh.webhook(
                {
                    "statuses": [
                        wh.status("wamid.O2", "sent", 1750000100, recipient),
                        wh.status("wamid.O2", "read", 1750000300, recipient),
                    ]
                }
            ),
        )
        stored = message(harness, "wamid.O2")
        assert stored["status"] == "read"
        assert set(stored["statuses"]) == {"sent", "read"}

    def test_failed_status_keeps_its_error_details(self, harness: CaptureHarness) -> None:
        error = {
            "code": 131049,
            "title": "This message was not delivered to maintain healthy ecosystem engagement.",
            "message": "This message was not delivered to maintain healthy ecosystem engagement.",
            "error_data": {
                "details": "In order to maintain a healthy ecosystem engagement, "
                "the message failed to be delivered."
            },
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }
        post_and_process(
            harness,
            wh.webhook(
                {"statuses": [wh.status("wamid.F1", "failed", 1750000100, "16505550000", errors=[error])]}
            ),
        )
        stored = message(harness, "wamid.F1")
        assert stored["status"] == "failed"
        assert stored["errors"][0]["code"] == 131049
        assert stored["errors"][0]["details"].startswith("In order to maintain")
        failed = [e for e in harness.bus_events() if e["detail-type"] == "message.failed"]
        assert failed[0]["detail"]["properties"]["errors"][0]["code"] == 131049

    def test_unknown_status_is_recorded_without_changing_the_status(self, harness: CaptureHarness) -> None:
        recipient = "4915112345678"
        post_and_process(
            harness,
            wh.webhook(
                {
                    "statuses": [
                        wh.status("wamid.U1", "delivered", 1750000100, recipient),
                        wh.status("wamid.U1", "deleted_by_user", 1750000200, recipient),
                    ]
                }
            ),
        )
        stored = message(harness, "wamid.U1")
        assert stored["status"] == "delivered"
        assert "deleted_by_user" in stored["statuses"]


class TestBatchesAndRedelivery:
    def test_every_entry_change_message_and_status_is_processed(self, harness: CaptureHarness) -> None:
        document = wh.webhook(
            {
                "contacts": [wh.contact("111100001")],
                "messages": [wh.text_message("wamid.B1", "111100001", 1750000000)],
            },
            {
                "contacts": [wh.contact("111100002")],
                "messages": [wh.text_message("wamid.B2", "111100002", 1750000001)],
            },
            {
                "statuses": [
                    wh.status("wamid.B3", "sent", 1750000002, "111100003"),
                    wh.status("wamid.B4", "delivered", 1750000003, "111100004"),
                ]
            },
        )
        second_entry = wh.webhook(
            {
                "contacts": [wh.contact("111100005")],
                "messages": [wh.text_message("wamid.B5", "111100005", 1750000004)],
            }
        )
        document["entry"].append(second_entry["entry"][0])
        post_and_process(harness, document)
        for wamid in ("wamid.B1", "wamid.B2", "wamid.B3", "wamid.B4", "wamid.B5"):
            assert message(harness, wamid)["id"] == wamid
        assert contact(harness, "111100005")["messages"]["inbound"] == 1

    def test_same_webhook_three_times_gives_same_state_and_one_event_per_update(
        self, harness: CaptureHarness
    ) -> None:
        event = event_file("whatsapp_text_ctwa_referral.json")
        for _ in range(3):
            assert harness.post(event)["statusCode"] == 200
        harness.drain()
        found = contact(harness, "16505551234")
        assert len(found["referrals"]) == 1
        assert found["messages"] == {"inbound": 1, "outbound": 0}
        names = sorted(e["detail-type"] for e in harness.bus_events())
        assert names == ["contact.created", "message.received", "referral.captured"]

    def test_events_carry_stable_ids(self, harness: CaptureHarness) -> None:
        post_and_process(harness, wh.sample("meta_docs_text_message_ctwa_referral.json"))
        received = next(e for e in harness.bus_events() if e["detail-type"] == "message.received")
        detail = received["detail"]
        assert detail["type"] == "track"
        assert detail["userId"] == "+16505551234"
        assert detail["timestamp"] == "2025-06-18T19:46:32.000Z"
        assert detail["context"]["channel"] == "whatsapp"
        assert detail["properties"]["messageId"] == REFERRAL_WAMID
        assert detail["properties"]["countryCode"] == "US"
        assert len(detail["messageId"]) == 36

    def test_a_huge_webhook_is_split_and_fully_processed(self, harness: CaptureHarness) -> None:
        # Fewer, larger updates than Meta's 1000: the size is what forces the split.
        statuses = [
            wh.status(
                f"wamid.H{i:04d}",
                "delivered",
                1750000000 + i,
                "4915112345678",
                biz_opaque_callback_data="x" * 2000,
            )
            for i in range(140)
        ]
        document = wh.webhook({"statuses": statuses})
        body = wh.encode(document)
        assert len(body) > 256_000
        post_and_process(harness, body)
        assert message(harness, "wamid.H0000")["status"] == "delivered"
        assert message(harness, "wamid.H0139")["status"] == "delivered"
        assert contact(harness, "4915112345678")["messages"]["outbound"] == 140


class TestContactsWithoutPhone:
    def test_contact_known_only_by_user_id_is_tracked(self, harness: CaptureHarness) -> None:
        document = wh.webhook(
            {
                "contacts": [wh.contact(None, name="Ana", user_id="US.13491208655302741918")],
                "messages": [
                    wh.text_message("wamid.UID1", None, 1750000000, from_user_id="US.13491208655302741918")
                ],
            }
        )
        post_and_process(harness, document)
        found = contact(harness, "US.13491208655302741918")
        assert found["phone"] is None
        assert found["user_id"] == "US.13491208655302741918"
        assert found["name"] == "Ana"
        assert found["messages"] == {"inbound": 1, "outbound": 0}
        created = next(e for e in harness.bus_events() if e["detail-type"] == "contact.created")
        assert created["detail"]["userId"] == "US.13491208655302741918"

    def test_user_id_after_phone_resolves_to_the_same_contact(self, harness: CaptureHarness) -> None:
        both = wh.webhook(
            {
                "contacts": [wh.contact("5215512345678", user_id="MX.1")],
                "messages": [wh.text_message("wamid.A1", "5215512345678", 1750000000)],
            }
        )
        only_uid = wh.webhook(
            {
                "contacts": [wh.contact(None, user_id="MX.1")],
                "messages": [wh.text_message("wamid.A2", None, 1750000100, from_user_id="MX.1")],
            }
        )
        post_and_process(harness, both)
        post_and_process(harness, only_uid)
        found = contact(harness, "MX.1")
        assert found["phone"] == "5215512345678"
        assert found["messages"]["inbound"] == 2
        assert found["last_inbound_at"] == "2025-06-15T15:08:20.000Z"


class TestUnknownContent:
    def test_unknown_message_type_and_fields_are_kept_not_rejected(self, harness: CaptureHarness) -> None:
        message_body = {
            "id": "wamid.N1",
            "from": "16505551234",
            "timestamp": "1750000000",
            "type": "hologram",
            "hologram": {"x": 1},
            "brand_new_field": True,
        }
        document = wh.webhook(
            {"contacts": [wh.contact("16505551234")], "messages": [message_body], "surprise": {"a": 1}}
        )
        post_and_process(harness, document)
        assert message(harness, "wamid.N1")["type"] == "hologram"

    def test_automatic_purchase_event_is_stored_and_published(self, harness: CaptureHarness) -> None:
        response = harness.post(event_file("whatsapp_automatic_event_purchase.json"))
        assert response["statusCode"] == 200
        harness.drain()
        [event] = harness.bus_events()
        assert event["detail-type"] == "automatic_event.received"
        properties = event["detail"]["properties"]
        assert properties["eventName"] == "Purchase"
        assert properties["customData"] == {"currency": "USD", "value": 25000}
        assert properties["ctwaClid"].startswith("Afc3nYt4")

    def test_one_broken_update_does_not_hold_back_the_rest_of_the_batch(
        self, harness: CaptureHarness
    ) -> None:
        broken = {"from": "4915112345678", "type": "text", "timestamp": "not a time", "id": "wamid.BAD"}
        document = wh.webhook(
            {
                "contacts": [wh.contact("4915112345678")],
                "messages": [wh.text_message("wamid.GOOD1", "4915112345678", 1750000000), broken],
                "statuses": [wh.status("wamid.GOOD2", "sent", 1750000001, "4915112345678")],
            }
        )
        post_and_process(harness, document)
        assert message(harness, "wamid.GOOD1")["direction"] == "inbound"
        assert message(harness, "wamid.GOOD2")["status"] == "sent"
        [parked] = boto3.client("sqs").receive_message(
            QueueUrl=harness.dlq_url, MessageAttributeNames=["All"]
        )["Messages"]
        assert "messages[1].timestamp" in parked["MessageAttributes"]["reason"]["StringValue"]
        value = json.loads(parked["Body"])["entry"][0]["changes"][0]["value"]
        assert value["messages"] == [broken]
        assert "statuses" not in value
        assert value["contacts"] == [wh.contact("4915112345678")]  # what a redrive needs to read it

    def test_body_that_cannot_be_parsed_is_parked_in_the_dlq_with_its_reason(
        self, harness: CaptureHarness
    ) -> None:
        document = wh.webhook({"messages": [{"from": "1", "type": "text"}]})  # no id, no timestamp
        post_and_process(harness, document)
        parked = boto3.client("sqs").receive_message(QueueUrl=harness.dlq_url, MessageAttributeNames=["All"])[
            "Messages"
        ]
        assert "messages[0].id: Field required" in parked[0]["MessageAttributes"]["reason"]["StringValue"]
        assert json.loads(parked[0]["Body"]) == document


class TestOperatorApi:
    def test_missing_or_wrong_api_key_is_401(self, harness: CaptureHarness) -> None:
        for key in (None, "wrong"):
            response = harness.api_get(
                "/contacts/16505551234", "/contacts/{id}", {"id": "16505551234"}, api_key=key
            )
            assert response["statusCode"] == 401
            assert get_json(response)["error"] == "unauthorized"

    def test_unknown_contact_and_message_are_404_with_json(self, harness: CaptureHarness) -> None:
        response = harness.api_get("/contacts/19999999999", "/contacts/{id}", {"id": "19999999999"})
        assert response["statusCode"] == 404
        assert get_json(response)["error"] == "not_found"
        response = harness.api_get(
            "/messages/wamid.nope", "/messages/{message_id}", {"message_id": "wamid.nope"}
        )
        assert response["statusCode"] == 404

    def test_percent_encoded_wamid_with_slash_plus_and_equals(self, harness: CaptureHarness) -> None:
        wamid = "wamid.HBgL+MTY1/MDM4Nzk0Mzk=="
        post_and_process(
            harness, wh.webhook({"statuses": [wh.status(wamid, "sent", 1750000000, "16505551234")]})
        )
        assert message(harness, wamid)["id"] == wamid

    def test_sample_operator_events_answer(self, harness: CaptureHarness) -> None:
        harness.post(event_file("whatsapp_text_ctwa_referral.json"))
        harness.drain()
        assert harness.invoke("operator_api", event_file("operator_get_contact.json"))["statusCode"] == 200
        assert harness.invoke("operator_api", event_file("operator_get_message.json"))["statusCode"] == 200


def dead_letters(harness: CaptureHarness) -> list[dict]:
    sqs = boto3.client("sqs")
    found = []
    while batch := sqs.receive_message(
        QueueUrl=harness.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        found += batch
    return found


def queued(harness: CaptureHarness) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=harness.ingest_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


class TestBigWebhooks:
    def test_a_webhook_over_1_mib_goes_to_sqs_in_batches_it_takes_and_is_fully_applied(
        self, harness: CaptureHarness
    ) -> None:
        # Two-byte characters: SQS counts bytes, and the parts are over its 1 MiB per call together
        # though they hold fewer than a million characters.
        recipient = "4915112345678"
        statuses = [
            wh.status(
                f"wamid.BIG{i:03d}",
                "delivered",
                1750000000 + i,
                recipient,
                biz_opaque_callback_data="é" * 10_000,
            )
            for i in range(60)
        ]
        body = json.dumps(wh.webhook({"statuses": statuses}), ensure_ascii=False).encode()
        assert len(body) > 1_150_000 and len(body.decode()) < 1_048_576
        response = harness.post(whatsapp_post(body, harness.env["WHATSAPP_APP_SECRET"]))
        assert response["statusCode"] == 200, response
        harness.drain()
        assert queued(harness) == 0
        assert dead_letters(harness) == []
        for i in range(60):
            assert message(harness, f"wamid.BIG{i:03d}")["status"] == "delivered"
        assert contact(harness, recipient)["messages"] == {"inbound": 0, "outbound": 60}

    def test_one_update_too_large_to_queue_is_413_and_nothing_is_queued(
        self, harness: CaptureHarness
    ) -> None:
        # one update over what one SQS message holds (1 MiB): no packing can queue it
        document = wh.webhook({"messages": [wh.text_message("wamid.HUGE", "1", 1, body="x" * 1_100_000)]})
        response = harness.post(whatsapp_post(wh.encode(document), harness.env["WHATSAPP_APP_SECRET"]))
        assert response["statusCode"] == 413
        assert get_json(response)["error"] == "payload_too_large"
        assert queued(harness) == 0


class TestCalls:
    @pytest.mark.parametrize(
        "sample",
        [
            "meta_docs_calls_connect.json",
            "meta_docs_calls_status_ringing.json",
            "meta_docs_calls_terminate.json",
        ],
    )
    def test_calls_store_no_message_no_contact_and_announce_nothing(
        self, harness: CaptureHarness, sample: str
    ) -> None:
        post_and_process(harness, wh.sample(sample))
        missing = harness.api_get(
            "/messages/wacid.ABGGFjFVU2AfAgo6V-Hc5eCgK5Gh",
            "/messages/{message_id}",
            {"message_id": "wacid.ABGGFjFVU2AfAgo6V-Hc5eCgK5Gh"},
        )
        assert missing["statusCode"] == 404
        for phone in ("16315553601", "13175551399"):
            found = harness.api_get(f"/contacts/{phone}", "/contacts/{id}", {"id": phone})
            assert found["statusCode"] == 404
        assert harness.bus_events() == []
        assert dead_letters(harness) == []
        assert queued(harness) == 0


class TestBoundsAndBadBodies:
    def test_ids_too_long_for_a_key_are_parked_with_the_reason_and_the_rest_is_applied(
        self, harness: CaptureHarness
    ) -> None:
        sender = "4915112345678"
        document = wh.webhook(
            {
                "contacts": [wh.contact(sender)],
                "messages": [
                    wh.text_message("wamid.KEEP1", sender, 1750000000),
                    wh.text_message("wamid." + "A" * 3000, sender, 1750000001),
                    wh.text_message("wamid.LONGFROM", "4" * 5000, 1750000002),
                    wh.text_message(
                        "wamid.LONGCLID", sender, 1750000003, referral={"ctwa_clid": "Aff" + "c" * 5000}
                    ),
                ],
                "statuses": [wh.status("wamid.KEEP2", "sent", 1750000004, sender)],
            }
        )
        post_and_process(harness, document)
        assert queued(harness) == 0  # nothing waits for a retry
        assert message(harness, "wamid.KEEP1")["direction"] == "inbound"
        assert message(harness, "wamid.KEEP2")["status"] == "sent"
        [parked] = dead_letters(harness)
        reason = parked["MessageAttributes"]["reason"]["StringValue"]
        assert "messages[1].id: String should have at most 200 characters" in reason
        assert "messages[2].from" in reason and "messages[3].referral.ctwa_clid" in reason
        value = json.loads(parked["Body"])["entry"][0]["changes"][0]["value"]
        assert [m["id"][:15] for m in value["messages"]] == [
            "wamid.AAAAAAAAA",
            "wamid.LONGFROM",
            "wamid.LONGCLID",
        ]

    def test_a_parked_part_holding_characters_sqs_refuses_is_kept_as_valid_sqs_text(
        self, harness: CaptureHarness
    ) -> None:
        # Two escapes and one raw U+FFFF (valid UTF-8, valid JSON): SQS takes none of them as such.
        text = "nul\\u0000 nonchars\\ufffe\uffff"
        broken = wh.text_message("wamid.BROKEN", "4915112345678", 1750000000, body="x")
        broken["timestamp"] = "not a time"
        body = wh.encode(
            wh.webhook(
                {
                    "contacts": [wh.contact("4915112345678")],
                    "messages": [broken, wh.text_message("wamid.OK", "4915112345678", 1750000001)],
                }
            )
        ).replace(b'"body": "x"', f'"body": "{text}"'.encode())
        post_and_process(harness, body)
        assert message(harness, "wamid.OK")["direction"] == "inbound"
        [parked] = dead_letters(harness)
        [kept] = json.loads(parked["Body"])["entry"][0]["changes"][0]["value"]["messages"]
        assert kept["text"]["body"] == "nul\x00 nonchars\ufffe\uffff"
        # A redrive sends the body back as it is: SQS must take it.
        boto3.client("sqs").send_message(QueueUrl=harness.ingest_url, MessageBody=parked["Body"])

    @pytest.mark.parametrize(
        ("body", "fragment"),
        [
            (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
            (b'{"object": "whatsapp_business_account", "entry": [' * 5_000 + b"]}" * 5_000, "nested deeper"),
            (b'{"object": "whatsapp_business_account", "entry": [], "x": "\xed\xb3\xbf"}', "UTF-8"),
            (b'{"object": "whatsapp_business_account", "entry": [], "x": "\\udcff"}', "surrogate"),
            (b'{"object": "whatsapp_business_account", "entry": [], "x": ' + b"9" * 5000 + b"}", "digits"),
        ],
    )
    def test_signed_bodies_that_are_not_json_text_are_400_and_nothing_is_queued(
        self, harness: CaptureHarness, body: bytes, fragment: str
    ) -> None:
        response = harness.post(whatsapp_post(body, harness.env["WHATSAPP_APP_SECRET"], base64_body=True))
        assert response["statusCode"] == 400, response
        assert get_json(response)["error"] == "bad_request"
        assert fragment in get_json(response)["message"]
        assert queued(harness) == 0

    @pytest.mark.parametrize(
        "body",
        [
            b'{"from": {"number": "+31600000000"}, "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            b'{"from": {"number": "+31600000000"}, "message": {"text": "\xed\xb3\xbf"}}',
        ],
    )
    def test_cm_bodies_that_are_not_json_text_are_400_and_nothing_is_queued(
        self, harness: CaptureHarness, body: bytes
    ) -> None:
        event = http_event(
            "POST",
            "/webhooks/cm",
            body=body,
            raw_query=urlencode({"token": harness.env["CM_WEBHOOK_TOKEN"]}),
            headers={"Content-Type": "application/json"},
            base64_body=True,
        )
        response = harness.invoke("cm_webhook", event)
        assert response["statusCode"] == 400, response
        assert get_json(response)["error"] == "bad_request"
        assert queued(harness) == 0

    def test_a_failed_record_is_logged_once_with_why_and_without_its_text(
        self, harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from botocore.exceptions import ClientError

        from wa_conversions.capture.service import CaptureService

        def throttled(*args: object, **kwargs: object) -> None:
            error = {"Code": "ProvisionedThroughputExceededException", "Message": "4915112345678 secret text"}
            raise ClientError({"Error": error}, "BatchGetItem")

        monkeypatch.setattr(CaptureService, "apply_batch", throttled)
        document = wh.webhook(
            {
                "contacts": [wh.contact("4915112345678", name="Ana Example")],
                "messages": [wh.text_message("wamid.LOG1", "4915112345678", 1750000000, body="secret text")],
            }
        )
        harness.post(whatsapp_post(wh.encode(document), harness.env["WHATSAPP_APP_SECRET"]))
        # The processor's own log output, whatever stream its handler was bound to.
        processor = harness.handler("whatsapp_processor")
        output = io.StringIO()
        handler = logging.StreamHandler(output)
        handler.setFormatter(processor.logger.registered_formatter)
        std_logger = logging.getLogger(processor.logger.service)
        std_logger.addHandler(handler)
        try:
            [response] = harness.drain()
        finally:
            std_logger.removeHandler(handler)
        assert len(response["batchItemFailures"]) == 1
        text = output.getvalue()
        lines = [json.loads(line) for line in text.splitlines() if "Record not processed" in line]
        assert len(lines) == 1
        assert lines[0]["error_code"] == "ProvisionedThroughputExceededException"
        assert lines[0]["receive_count"] == 1
        for secret in ("4915112345678", "secret text", "Ana Example"):
            assert secret not in text


class TestShopifyBounds:
    @pytest.fixture
    def shopify(self, harness: CaptureHarness, monkeypatch: pytest.MonkeyPatch) -> str:
        orders_url = boto3.client("sqs").create_queue(QueueName="orders")["QueueUrl"]
        monkeypatch.setenv("ORDERS_QUEUE_URL", orders_url)
        monkeypatch.setenv("SHOPIFY_SHOP_DOMAIN", harness.env["SHOPIFY_SHOP_DOMAIN"])
        return orders_url

    def post(self, harness: CaptureHarness, body: bytes, event_id: str) -> dict:
        from devstack.shopify_samples import shopify_post

        event = shopify_post(
            body,
            harness.env["SHOPIFY_WEBHOOK_SECRET"],
            shop=harness.env["SHOPIFY_SHOP_DOMAIN"],
            topic="orders/create",
            event_id=event_id,
        )
        return harness.invoke("shopify_webhook", event)

    def test_an_event_id_too_long_for_a_key_is_400_and_nothing_is_stored(
        self, harness: CaptureHarness, shopify: str
    ) -> None:
        body = wh.sample("shopify_order_rest_fixture_shopify_python_api.json")
        response = self.post(harness, body, "e" * 3000)
        assert response["statusCode"] == 400, response
        assert get_json(response)["field"] == "x-shopify-event-id"
        assert boto3.client("sqs").receive_message(QueueUrl=shopify).get("Messages", []) == []
        assert boto3.client("dynamodb").scan(TableName="wa-conversions-idempotency")["Items"] == []

    def test_an_order_nested_too_deep_is_400(self, harness: CaptureHarness, shopify: str) -> None:
        response = self.post(harness, b'{"id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "e-1")
        assert response["statusCode"] == 400, response
        assert "nested deeper" in get_json(response)["message"]


class TestTimeLeft:
    def test_records_there_is_no_time_left_for_are_queued_again_at_once(
        self, harness: CaptureHarness
    ) -> None:
        sqs = boto3.client("sqs")
        for i in range(2):
            document = wh.webhook(
                {"statuses": [wh.status(f"wamid.T{i}", "sent", 1750000000 + i, "4915112345678")]}
            )
            sqs.send_message(QueueUrl=harness.ingest_url, MessageBody=json.dumps(document))
        cm_report = wh.sample("cm_constructed_status_report_delivered.json").decode()
        cm_attributes = {"provider": {"DataType": "String", "StringValue": "cm"}}
        sqs.send_message(QueueUrl=harness.ingest_url, MessageBody=cm_report, MessageAttributes=cm_attributes)
        received = sqs.receive_message(
            QueueUrl=harness.ingest_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )["Messages"]
        received.sort(key=lambda m: "provider" in m.get("MessageAttributes", {}))  # the CM report last
        arn = sqs.get_queue_attributes(QueueUrl=harness.ingest_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        event = {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {"ApproximateReceiveCount": "4", "SentTimestamp": "0"},
                    "messageAttributes": {
                        name: {"stringValue": value["StringValue"], "dataType": "String"}
                        for name, value in message.get("MessageAttributes", {}).items()
                    },
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": "us-east-1",
                }
                for message in received
            ]
        }

        class RunningOut(FakeContext):
            def get_remaining_time_in_millis(self) -> int:
                return 2_500  # less than a record and the margin: only the first one starts

        response = harness.handler("whatsapp_processor").lambda_handler(event, RunningOut())
        # Reported done, so Lambda deletes them: they are on the queue again as new messages, with fresh
        # receive counts (a fourth receive would otherwise be one away from the DLQ).
        assert response["batchItemFailures"] == []
        assert message(harness, "wamid.T0")["status"] == "sent"
        again = sqs.receive_message(
            QueueUrl=harness.ingest_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )["Messages"]
        assert sorted(m["Body"] for m in again) == sorted(m["Body"] for m in received[1:])
        assert all(m["Attributes"]["ApproximateReceiveCount"] == "1" for m in again)
        [cm_again] = [m for m in again if m["Body"] == cm_report]
        assert cm_again["MessageAttributes"]["provider"]["StringValue"] == "cm"
