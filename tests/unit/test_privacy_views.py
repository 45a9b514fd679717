"""The operator routes of privacy (privacy.views): an erasure or an export asked for a live contact is
recorded and queued; asked again, the same erasure; once the contact is gone, its answer or a 404."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import store_tables
from tests.support.store_tables import TABLE
from wa_conversions.errors import NotFoundError
from wa_conversions.models.domain import ContactRef
from wa_conversions.privacy import views
from wa_conversions.privacy.requests import ErasureRequests
from wa_conversions.store import keys
from wa_conversions.store.capture import CaptureRepository

PHONE = "16505551234"
NOW = 1_750_000_000


class Queue:
    """The erasure queue, keeping the jobs sent."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, str]] = []

    def send(self, job: dict[str, str]) -> None:
        self.jobs.append(job)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from store_tables.moto_tables(monkeypatch, "Table")


@pytest.fixture
def repository(client: Any) -> CaptureRepository:
    found = CaptureRepository(client, TABLE)
    ref = ContactRef(phone=PHONE, user_id="US.1")
    found.upsert_contact(ref, PHONE, first_seen=NOW, last_inbound=NOW, update_key="msg:wamid.1")
    return found


@pytest.fixture
def requests(client: Any) -> ErasureRequests:
    return ErasureRequests(client, TABLE, hash_key="k", ttl_seconds=86_400, clock=lambda: NOW)


def test_erasing_a_live_contact_records_it_pending_and_queues_its_id(
    requests: ErasureRequests, repository: CaptureRepository
) -> None:
    queue = Queue()

    answer = views.erase_contact(requests, queue, repository, f"+{PHONE}")  # type: ignore[arg-type]

    assert answer["status"] == "pending"
    assert queue.jobs == [{"erasure_id": answer["id"]}]
    assert views.erasure(requests, str(answer["id"])) == answer


def test_asked_again_by_phone_or_user_id_it_is_the_same_erasure_queued_again(
    requests: ErasureRequests, repository: CaptureRepository
) -> None:
    queue = Queue()

    first = views.erase_contact(requests, queue, repository, PHONE)  # type: ignore[arg-type]
    again = views.erase_contact(requests, queue, repository, "US.1")  # type: ignore[arg-type]

    assert again == first
    assert queue.jobs == [{"erasure_id": first["id"]}] * 2


def test_an_erasure_done_while_the_contact_is_still_there_is_answered_not_queued(
    client: Any, requests: ErasureRequests, repository: CaptureRepository
) -> None:
    queue = Queue()
    first = views.erase_contact(requests, queue, repository, PHONE)  # type: ignore[arg-type]
    record = requests.record(str(first["id"]))
    assert record is not None
    store_tables.put(
        client, **{**record, "status": "done", "completed_at": NOW + 9, "erased": {"contact": 1}}
    )

    answer = views.erase_contact(requests, queue, repository, PHONE)  # type: ignore[arg-type]

    assert (answer["status"], answer["erased"]) == ("done", {"contact": 1})
    assert len(queue.jobs) == 1


def test_a_contact_already_erased_answers_its_erasure_by_its_own_tenants_marks(
    client: Any, requests: ErasureRequests
) -> None:
    store_tables.put(
        client, pk=keys.erasure_pk("e-9"), sk=keys.ERASURE, erasure_id="e-9", status="done", requested_at=NOW
    )
    store_tables.put(
        client,
        pk=keys.suppression_pk(requests.identity_hash("phone", f"brand-b~{PHONE}")),
        sk=keys.SUPPRESSION,
        erasure_id="e-9",
    )
    tenant = CaptureRepository(client, TABLE).scoped("brand-b")
    queue = Queue()

    answer = views.erase_contact(requests, queue, tenant, f"+{PHONE}")  # type: ignore[arg-type]

    assert (answer["id"], answer["status"], queue.jobs) == ("e-9", "done", [])
    with pytest.raises(NotFoundError, match=f"No contact '{PHONE}'"):
        views.erase_contact(requests, queue, CaptureRepository(client, TABLE), PHONE)  # type: ignore[arg-type]


def test_an_unknown_erasure_or_export_is_404(requests: ErasureRequests) -> None:
    with pytest.raises(NotFoundError, match="No erasure 'e-0'"):
        views.erasure(requests, "e-0")
    with pytest.raises(NotFoundError, match="No export 'x-0'"):
        views.export(requests, "x-0")


def test_an_export_of_a_live_contact_is_queued_and_read_back_pending(
    requests: ErasureRequests, repository: CaptureRepository
) -> None:
    queue = Queue()

    answer = views.export_contact(requests, queue, repository, "US.1")  # type: ignore[arg-type]

    assert queue.jobs == [{"export_id": answer["id"]}]
    assert views.export(requests, str(answer["id"])) == answer
    assert answer["status"] == "pending"


def test_an_export_of_no_contact_is_404_and_queues_nothing(
    requests: ErasureRequests, repository: CaptureRepository
) -> None:
    queue = Queue()

    with pytest.raises(NotFoundError, match="No contact '31600000000'"):
        views.export_contact(requests, queue, repository, "31600000000")  # type: ignore[arg-type]
    assert queue.jobs == []
