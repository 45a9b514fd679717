"""CM.com's events endpoint as a delivery destination (cm_channel.destination): what each queue message
is planned as, the POST CM.com gets (product token as X-CM-PRODUCTTOKEN, the documented body), how its
answer is read, and the read-marking kept on the message once CM.com accepted a MarkAsRead. CM.com is
an httpx.MockTransport; the table is moto's."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from devstack.standins import check_cm
from tests.support import store_tables
from tests.support.delivery import queued
from tests.support.store_tables import TABLE
from wa_conversions.cm_channel.commands import EventCommand, EventType
from wa_conversions.cm_channel.destination import PRODUCT_TOKEN_HEADER, CmEventsDestination
from wa_conversions.delivery.outcome import OutcomeKind
from wa_conversions.delivery.runner import Job, Planned, Skip
from wa_conversions.errors import PermanentFailure
from wa_conversions.store.cm_channel import CmChannelRepository
from wa_conversions.store.keys import MESSAGE, message_pk

EVENT_URL = "https://cm.test/v1.0/event"
BUSINESS = "31698765432"
PHONE = "31612345678"
WAMID = "wamid.HBgLMzE2MTIzNDU2NzgVAgASGBQzQTdCMjBGQjM0RjlGNEUyRkQ1QgA="
TOKEN = "00000000-0000-4000-8000-000000000000"
NOW = 1_772_445_600


class Cm:
    """CM.com's endpoint: answers from a script and keeps each request; counts what the destination built."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers) or [httpx.Response(200, json={"status": "accepted"})]
        self.requests: list[httpx.Request] = []
        self.clients = 0
        self.tokens = 0

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self) -> httpx.Client:
        self.clients += 1
        return httpx.Client(transport=httpx.MockTransport(self._answer))

    def token(self) -> str:
        self.tokens += 1
        return TOKEN


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from store_tables.moto_tables(monkeypatch, "Table")


@pytest.fixture
def channel(client: Any) -> CmChannelRepository:
    store_tables.put(client, pk=message_pk(WAMID), sk=MESSAGE, item_type="message", channel="cm")
    return CmChannelRepository(client, TABLE)


def destination(
    cm: Cm, channel: Any, business_number: str = BUSINESS, clock: Callable[[], float] = lambda: NOW
) -> CmEventsDestination:
    return CmEventsDestination(business_number, EVENT_URL, cm.client, cm.token, channel, clock=clock)


def command(kind: EventType = EventType.MARK_AS_READ) -> dict[str, Any]:
    if kind is EventType.MARK_AS_READ:
        found = EventCommand(type=kind, phone=PHONE, message_id=WAMID)
    else:
        found = EventCommand(type=kind, phone=PHONE, generation="g-1")
    return json.loads(found.model_dump_json())


def received(message_id: str, user_id: str = f"+{PHONE}") -> dict[str, Any]:
    return {
        "detail-type": "message.received",
        "detail": {"userId": user_id, "properties": {"messageId": message_id}},
    }


def job(cm_events: CmEventsDestination, document: Any) -> Job:
    message = queued(document)
    planned = cm_events.plan(message)
    assert isinstance(planned, Planned)
    return Job(message, planned, "delivery-1", 1)


def read_state(client: Any) -> tuple[Any, Any]:
    stored = store_tables.stored(client, message_pk(WAMID), MESSAGE) or {}
    return stored.get("read_requested_at"), stored.get("read_marked_at")


# -- planning ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "event_id", "event_name"),
    [
        (command(EventType.MARK_AS_READ), f"cm-event:MarkAsRead:{WAMID}", "MarkAsRead"),
        (received(WAMID), f"cm-event:MarkAsRead:{WAMID}", "MarkAsRead"),
        (command(EventType.BLOCK), f"cm-event:Block:{PHONE}:g-1", "Block"),
        (command(EventType.UNBLOCK), f"cm-event:UnBlock:{PHONE}:g-1", "UnBlock"),
    ],
)
def test_each_queue_message_is_planned_under_its_at_most_once_key(
    document: dict[str, Any], event_id: str, event_name: str
) -> None:
    planned = destination(Cm(), None).plan(queued(document))

    assert isinstance(planned, Planned)
    assert (planned.event_id, planned.event_name, planned.kind) == (event_id, event_name, "cm_event")


def test_an_operator_mark_and_the_automatic_one_for_the_same_message_share_their_key() -> None:
    cm_events = destination(Cm(), None)
    operator, automatic = (cm_events.plan(queued(d)) for d in (command(), received(WAMID)))
    assert isinstance(operator, Planned)
    assert isinstance(automatic, Planned)
    assert operator.event_id == automatic.event_id


def test_a_received_message_without_a_whatsapp_id_is_skipped_with_the_reason() -> None:
    cm = Cm()

    skip = destination(cm, None).plan(queued(received("cm:0f3c9a1b2d4e5f60718293a4b5c6d7e8f9012345")))

    assert isinstance(skip, Skip)
    assert (skip.event_name, "raw payload is off" in skip.reason) == ("MarkAsRead", True)
    assert (cm.clients, cm.tokens) == (0, 0)


def test_a_received_message_from_a_user_id_only_contact_is_skipped_not_sent_to_a_made_up_number() -> None:
    cm = Cm()

    skip = destination(cm, None).plan(queued(received(WAMID, user_id="US.13491208655302741918")))

    assert isinstance(skip, Skip)
    assert (skip.event_name, "no phone number" in skip.reason) == ("MarkAsRead", True)
    assert (cm.clients, cm.tokens) == (0, 0)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"kind": "cm_event", "type": "Block", "phone": PHONE}, "Block needs generation"),
        ({"kind": "something_else"}, "Neither a CM event command"),
    ],
)
def test_a_message_that_is_no_cm_event_is_a_permanent_failure(document: dict[str, Any], reason: str) -> None:
    with pytest.raises(PermanentFailure, match=reason):
        destination(Cm(), None).plan(queued(document))


def test_a_deployment_without_its_business_number_keeps_the_event_for_later() -> None:
    with pytest.raises(PermanentFailure, match="CmBusinessNumber is not configured"):
        destination(Cm(), None, business_number="").plan(queued(command()))


# -- sending ----------------------------------------------------------------------------------------


def test_the_request_carries_the_token_as_header_and_the_documented_body() -> None:
    cm = Cm()
    cm_events = destination(cm, None)

    outcome = cm_events.send([job(cm_events, command())])

    assert outcome.kind is OutcomeKind.DELIVERED
    [request] = cm.requests
    body = json.loads(request.content)
    assert (request.method, str(request.url)) == ("POST", EVENT_URL)
    assert request.headers[PRODUCT_TOKEN_HEADER] == TOKEN
    assert request.headers["content-type"] == "application/json"
    check_cm(body, {name.lower(): value for name, value in request.headers.items()})
    assert body == {
        "channel": "WhatsApp",
        "event": {"type": "MarkAsRead", "custom": {"message_id": WAMID}},
        "from": {"number": f"00{BUSINESS}"},
        "to": {"number": f"00{PHONE}"},
    }


def test_a_block_goes_to_the_user_without_a_message_id() -> None:
    cm = Cm()
    cm_events = destination(cm, None)

    cm_events.send([job(cm_events, command(EventType.BLOCK))])

    body = json.loads(cm.requests[0].content)
    assert (body["event"], body["to"]) == ({"type": "Block"}, {"number": f"00{PHONE}"})


def test_cm_coms_refusal_is_permanent_its_outage_retried_and_a_lost_answer_retried() -> None:
    cm = Cm(
        httpx.Response(400, text="invalid message_id"),
        httpx.Response(503),
        httpx.ReadTimeout("read timed out"),
    )
    cm_events = destination(cm, None)
    sent = job(cm_events, command())

    refused, down, lost = (cm_events.send([sent]) for _ in range(3))

    assert refused.kind is OutcomeKind.PERMANENT
    assert "invalid message_id" in (refused.error or "")
    assert down.kind is OutcomeKind.RETRY
    # MarkAsRead sets a state: sending it again is harmless, so the destination dedupes.
    assert lost.kind is OutcomeKind.AMBIGUOUS
    assert cm_events.dedupes is True


# -- once CM.com accepted -----------------------------------------------------------------------------


def test_an_accepted_mark_as_read_is_recorded_on_the_message(
    client: Any, channel: CmChannelRepository
) -> None:
    cm_events = destination(Cm(), channel)
    sent = job(cm_events, command())

    cm_events.on_delivered(sent, cm_events.send([sent]))

    assert read_state(client) == (NOW, NOW)


def test_an_accepted_block_leaves_every_message_as_it_was(client: Any, channel: CmChannelRepository) -> None:
    cm_events = destination(Cm(), channel)
    sent = job(cm_events, command(EventType.BLOCK))

    cm_events.on_delivered(sent, cm_events.send([sent]))

    assert read_state(client) == (None, None)
