"""The ErasureFunction's jobs (privacy.jobs): an erasure or an export named by its request's id, or a
queued Shopify compliance webhook; what cannot be a job is refused for good with its reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import store_tables
from tests.support import webhooks as wh
from tests.support.store_tables import IDEMPOTENCY, TABLE
from wa_conversions.errors import PermanentFailure
from wa_conversions.models.domain import ContactRef
from wa_conversions.privacy.erasure import Eraser
from wa_conversions.privacy.jobs import NotAJob, run
from wa_conversions.store import keys
from wa_conversions.store.capture import CaptureRepository

PHONE = "16505551234"
SHOP = "wa-conversions-dev.myshopify.com"
NOW = 1_750_300_000


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from store_tables.moto_tables(monkeypatch)


@pytest.fixture
def eraser(client: Any) -> Eraser:
    return Eraser(client, TABLE, IDEMPOTENCY, hash_key="k", tombstone_ttl_seconds=86_400, clock=lambda: NOW)


@pytest.fixture
def repository(client: Any) -> CaptureRepository:
    found = CaptureRepository(client, TABLE)
    found.upsert_contact(
        ContactRef(phone=PHONE, name="Sheena Nelson"), PHONE, first_seen=NOW, last_inbound=NOW, update_key="m"
    )
    return found


def job(eraser: Eraser, repository: CaptureRepository, document: Any) -> dict[str, Any]:
    body = document if isinstance(document, str) else json.dumps(document)
    return run(body, eraser=eraser, repository=repository, region="US")


def test_a_pending_erasure_is_run_and_answers_its_counts(
    eraser: Eraser, repository: CaptureRepository
) -> None:
    erasure_id = eraser.requests.erasure_id("seed")
    eraser.requests.request_erasure(erasure_id, PHONE, f"+{PHONE}")

    logged = job(eraser, repository, {"erasure_id": erasure_id})

    assert logged == {
        "job": "erasure",
        "erasure_id": erasure_id,
        "outcome": "erased",
        "erased": {"contact": 1},
    }
    assert repository.get_contact(PHONE) is None
    assert "Sheena" not in json.dumps(logged)


def test_an_erasure_already_done_is_a_no_op(eraser: Eraser, repository: CaptureRepository) -> None:
    erasure_id = eraser.requests.erasure_id("seed")
    eraser.requests.request_erasure(erasure_id, PHONE, PHONE)
    job(eraser, repository, {"erasure_id": erasure_id})

    again = job(eraser, repository, {"erasure_id": erasure_id})

    assert again == {"job": "erasure", "erasure_id": erasure_id, "outcome": "already_done"}


def test_a_pending_export_is_written_and_then_done(eraser: Eraser, repository: CaptureRepository) -> None:
    export_id = str(eraser.requests.request_export(PHONE, PHONE)["id"])

    first = job(eraser, repository, {"export_id": export_id})
    again = job(eraser, repository, {"export_id": export_id})

    assert (first["outcome"], again["outcome"]) == ("exported", "already_done")
    export = eraser.requests.export(export_id)
    assert export is not None and export["held"]["contact"][0]["phone"] == PHONE
    assert repository.get_contact(PHONE) is not None  # an export takes nothing


def test_a_queued_compliance_webhook_is_applied_for_its_shop(
    eraser: Eraser, repository: CaptureRepository
) -> None:
    queued = {
        "topic": "customers/data_request",
        "shop": SHOP,
        "event_id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "body": json.dumps(wh.sample_json("shopify_docs_customers_data_request.json")),
    }

    logged = job(eraser, repository, queued)

    assert logged == {
        "job": "shopify",
        "shop": SHOP,
        "topic": "customers/data_request",
        "outcome": "exported",
        "reference": f"EXPORT#{SHOP}#9999",
    }


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("{not json", "Not JSON"),
        ({"erasure_id": "e", "phone": PHONE}, "Not an erasure job"),
        ({}, "Not an erasure job: neither erasure_id nor export_id"),
        (["erasure_id"], "Not an erasure job"),
        ({"erasure_id": "never-asked"}, "No erasure 'never-asked' was asked for"),
        ({"export_id": "never-asked"}, "No export 'never-asked' was asked for"),
        ({"topic": "orders/create", "shop": SHOP, "event_id": "1", "body": "{}"}, "Not a compliance topic"),
        ({"topic": "shop/redact", "shop": SHOP}, "Not a queued Shopify compliance webhook"),
        (
            {"topic": "customers/redact", "shop": SHOP, "event_id": "1", "body": '{"customer": 5}'},
            "Not a queued Shopify compliance webhook",
        ),
    ],
)
def test_what_no_attempt_can_run_is_refused_for_good_with_its_reason(
    eraser: Eraser, repository: CaptureRepository, document: Any, reason: str
) -> None:
    with pytest.raises(NotAJob, match=reason) as refused:
        job(eraser, repository, document)

    assert isinstance(refused.value, PermanentFailure)
    assert repository.get_contact(PHONE) is not None


def test_an_erasure_naming_no_contact_is_refused(
    client: Any, eraser: Eraser, repository: CaptureRepository
) -> None:
    store_tables.put(
        client,
        pk=keys.erasure_pk("e-1"),
        sk=keys.ERASURE,
        erasure_id="e-1",
        status="pending",
        reason="operator",
    )

    with pytest.raises(NotAJob, match="Erasure 'e-1' names no contact"):
        job(eraser, repository, {"erasure_id": "e-1"})
