"""Acknowledging a CM.com webhook (capture.cm_ingest): token, then shape, then size, then the queue."""

from __future__ import annotations

import json

import pytest

from tests.support import webhooks as wh
from tests.support.capture import HandedOff
from wa_conversions.aws_limits import invalid_sqs_character
from wa_conversions.capture import cm_ingest
from wa_conversions.capture.ingest import MAX_MESSAGE_BYTES, PayloadTooLargeError
from wa_conversions.errors import BadRequestError, HandoffError, UnauthorizedError

TOKEN = "cm-webhook-token"
MO = "cm_constructed_mo_text.json"
REPORT = "cm_constructed_status_report_delivered.json"


def test_an_mo_message_is_queued_as_it_came_marked_as_cm() -> None:
    queue = HandedOff()
    body = wh.sample(MO)
    assert cm_ingest.accept_webhook(body, TOKEN, TOKEN, queue.factory()) == "message"
    assert queue.calls == [([body.decode("utf-8")], {"provider": "cm"})]


def test_a_status_report_is_queued_and_named_as_one() -> None:
    queue = HandedOff()
    assert cm_ingest.accept_webhook(wh.sample(REPORT), TOKEN, TOKEN, queue.factory()) == "status_report"
    [(bodies, _)] = queue.calls
    assert json.loads(bodies[0])["messages"]["msg"]["reference"] == "order-1001-confirmation"


@pytest.mark.parametrize(
    ("token", "message"), [(None, "Missing token"), ("", "Missing token"), ("x", "does not match")]
)
def test_a_missing_or_wrong_token_is_refused_before_the_body_is_read(token: str | None, message: str) -> None:
    queue = HandedOff()
    with pytest.raises(UnauthorizedError, match=message):
        cm_ingest.accept_webhook(b"not json at all", token, TOKEN, queue.factory())
    assert (queue.built, queue.calls) == (0, [])


def test_a_body_that_is_not_json_says_so_and_nothing_is_queued() -> None:
    queue = HandedOff()
    with pytest.raises(BadRequestError, match="Body is not valid JSON"):
        cm_ingest.accept_webhook(b'{"from": ', TOKEN, TOKEN, queue.factory())
    assert queue.built == 0


def test_a_meta_webhook_sent_to_the_cm_url_is_refused_naming_what_was_expected() -> None:
    queue = HandedOff()
    with pytest.raises(BadRequestError, match=r"from\.number.*messages\.msg"):
        cm_ingest.accept_webhook(
            wh.sample("meta_docs_text_message_ctwa_referral.json"), TOKEN, TOKEN, queue.factory()
        )
    assert queue.calls == []


def test_a_body_past_the_queue_s_limit_is_too_large_and_not_queued() -> None:
    document = wh.sample_json(MO)
    document["message"]["text"] = "x" * MAX_MESSAGE_BYTES
    queue = HandedOff()
    with pytest.raises(PayloadTooLargeError, match=str(MAX_MESSAGE_BYTES)):
        cm_ingest.accept_webhook(json.dumps(document).encode(), TOKEN, TOKEN, queue.factory())
    assert queue.calls == []


def test_characters_sqs_refuses_are_queued_escaped_and_read_back_the_same() -> None:
    document = wh.sample_json(MO)
    document["message"]["text"] = "odd \uffff text"
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    queue = HandedOff()
    cm_ingest.accept_webhook(body, TOKEN, TOKEN, queue.factory())
    [([queued], _)] = queue.calls
    assert invalid_sqs_character(queued) is None
    assert json.loads(queued) == document


def test_a_queue_that_refuses_the_body_fails_the_acknowledgement() -> None:
    queue = HandedOff(refuse=True)
    with pytest.raises(HandoffError):
        cm_ingest.accept_webhook(wh.sample(MO), TOKEN, TOKEN, queue.factory())
