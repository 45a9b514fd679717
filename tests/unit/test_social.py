"""AWS End User Messaging Social's SNS messages read as the direct webhooks they relay."""

from __future__ import annotations

import json

import pytest

from tests.support import social
from tests.support import webhooks as wh
from wa_conversions.capture.pipeline import _direct_webhook
from wa_conversions.errors import PermanentFailure
from wa_conversions.models.domain import InboundMessage
from wa_conversions.providers import meta
from wa_conversions.providers.social import SocialFormatError, meta_webhook

CTWA = "meta_docs_text_message_ctwa_referral.json"


def test_the_docs_message_reads_as_the_direct_webhook_with_the_same_updates() -> None:
    direct = wh.sample_json(CTWA)
    relayed = meta_webhook(wh.sample(social.SAMPLE).decode())
    assert relayed is not None
    assert json.loads(relayed) == {"object": "whatsapp_business_account", "entry": direct["entry"]}
    from_sns = meta.normalize(meta.parse_webhook(relayed))
    assert from_sns == meta.normalize(meta.parse_webhook(wh.sample(CTWA)))
    [message] = from_sns
    assert isinstance(message, InboundMessage)
    assert message.referral is not None and message.referral.ctwa_clid


def test_a_message_still_in_sns_s_envelope_is_opened() -> None:
    inner = social.message(wh.sample_json(CTWA))
    envelope = json.dumps({"Type": "Notification", "MessageId": "x", "Message": inner})
    assert meta_webhook(envelope) == meta_webhook(inner)


def test_an_entry_without_id_takes_the_waba_id_of_the_header() -> None:
    header = wh.sample_json(social.SAMPLE)
    entry = json.loads(header["whatsAppWebhookEntry"])
    del entry["id"]
    header["whatsAppWebhookEntry"] = json.dumps(entry)
    relayed = meta_webhook(json.dumps(header))
    assert relayed is not None
    assert json.loads(relayed)["entry"][0]["id"] == header["context"]["MetaWabaIds"][0]["wabaId"]


def test_a_direct_webhook_is_left_as_it_came_even_when_a_text_names_the_field() -> None:
    direct = wh.webhook({"messages": [wh.text_message("wamid.S1", "1", 1750000000, "whatsAppWebhookEntry")]})
    body = json.dumps(direct)
    assert meta_webhook(body) is None
    assert _direct_webhook(body) == body


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"x": 1}, "must be a JSON string"),
        ("{not json", "is not valid JSON"),
        ('{"id": "1"}', "is not a webhook entry with changes"),
        ('["a"]', "is not a webhook entry with changes"),
    ],
)
def test_a_malformed_message_is_a_permanent_failure_with_its_reason(entry: object, reason: str) -> None:
    header = wh.sample_json(social.SAMPLE)
    header["whatsAppWebhookEntry"] = entry
    with pytest.raises(SocialFormatError, match=reason):
        meta_webhook(json.dumps(header))
    with pytest.raises(PermanentFailure, match="Not a valid End User Messaging Social message"):
        _direct_webhook(json.dumps(header))
