"""The acknowledging side: signatures, the handshake, shape checks and splitting for the queue."""

from __future__ import annotations

import base64
import json

import pytest

from tests.support import webhooks as wh
from wa_conversions.capture import ingest
from wa_conversions.errors import BadRequestError, ForbiddenError, UnauthorizedError
from wa_conversions.signatures import meta_signature, verify_meta_signature

SECRET = "app-secret"


def test_signature_matches_meta_s_algorithm() -> None:
    body = wh.sample("meta_docs_text_message_ctwa_referral.json")
    assert verify_meta_signature(body, meta_signature(body, SECRET), SECRET)
    assert not verify_meta_signature(body + b" ", meta_signature(body, SECRET), SECRET)
    assert not verify_meta_signature(body, "sha256=" + "0" * 64, SECRET)
    assert not verify_meta_signature(body, "garbage", SECRET)


def test_signature_covers_non_ascii_bytes_exactly() -> None:
    body = '{"name": "José Ñandú 💬"}'.encode()
    assert verify_meta_signature(body, meta_signature(body, SECRET), SECRET)
    assert not verify_meta_signature(
        body, meta_signature(json.dumps(json.loads(body)).encode(), SECRET), SECRET
    )


def test_uppercase_hex_signature_is_accepted() -> None:
    body = b"{}"
    assert verify_meta_signature(
        body, meta_signature(body, SECRET).upper().replace("SHA256=", "sha256="), SECRET
    )


def secrets(meta: str | None = SECRET, dialog360: str | None = None):
    return {"meta": meta, "dialog360": dialog360}.get


def test_missing_signature_is_unauthorized_and_bad_one_forbidden() -> None:
    with pytest.raises(UnauthorizedError):
        ingest.check_signature(b"{}", ingest.WebhookSignature(None, None), secrets())
    with pytest.raises(ForbiddenError):
        ingest.check_signature(b"{}", ingest.WebhookSignature("sha256=00", None), secrets())


def test_360dialog_signature_with_its_platform_secret() -> None:
    body = wh.sample("meta_docs_text_message_ctwa_referral.json")
    hex_digest = meta_signature(body, "platform").removeprefix("sha256=")
    for header in (hex_digest, f"sha256={hex_digest}", base64.b64encode(bytes.fromhex(hex_digest)).decode()):
        ingest.check_signature(body, ingest.WebhookSignature(None, header), secrets(dialog360="platform"))
    with pytest.raises(ForbiddenError):
        ingest.check_signature(body, ingest.WebhookSignature(None, hex_digest), secrets(dialog360="other"))
    with pytest.raises(ForbiddenError, match="no 360dialog secret"):
        ingest.check_signature(body, ingest.WebhookSignature(None, hex_digest), secrets())


def test_handshake() -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "42", "hub.verify_token": "t"}
    assert ingest.answer_handshake(query, "t") == "42"
    with pytest.raises(ForbiddenError):
        ingest.answer_handshake({**query, "hub.verify_token": "x"}, "t")
    with pytest.raises(BadRequestError):
        ingest.answer_handshake({"hub.verify_token": "t"}, "t")


def test_small_body_is_queued_verbatim() -> None:
    body = wh.sample("meta_docs_status_sent_with_pricing.json")
    assert ingest.split_for_queue(body, json.loads(body)) == [body.decode()]


def test_large_body_is_split_into_valid_webhooks_holding_every_update() -> None:
    statuses = [wh.status(f"s{i}", "sent", i, "1", biz_opaque_callback_data="y" * 500) for i in range(300)]
    document = wh.webhook(
        {"contacts": [wh.contact("1")], "statuses": statuses}, {"messages": [wh.text_message("m", "1", 1)]}
    )
    body = wh.encode(document)
    parts = ingest.split_for_queue(body, document, max_bytes=20_000)
    assert len(parts) > 1
    assert all(len(p.encode()) <= 20_000 for p in parts)
    seen = []
    for part in parts:
        piece = ingest.read_webhook(part.encode())
        for change in piece["entry"][0]["changes"]:
            value = change["value"]
            assert value["metadata"] == wh.METADATA
            seen += [s["id"] for s in value.get("statuses", [])] + [
                m["id"] for m in value.get("messages", [])
            ]
    assert seen == [f"s{i}" for i in range(300)] + ["m"]


class FailingClient:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def send_message_batch(self, QueueUrl: str, Entries: list) -> dict:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            return {
                "Successful": [],
                "Failed": [{"Id": e["Id"], "Code": "x", "SenderFault": False} for e in Entries],
            }
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def test_queue_retries_failed_entries_once_then_gives_up() -> None:
    client = FailingClient(failures=1)
    ingest.IngestQueue(client, "url").send(["a", "b"])  # type: ignore[arg-type]
    assert client.calls == 2
    with pytest.raises(ingest.HandoffError):
        ingest.IngestQueue(FailingClient(failures=2), "url").send(["a"])  # type: ignore[arg-type]
