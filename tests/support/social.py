"""AWS End User Messaging Social's SNS messages for tests: Meta's webhook entry as a JSON string beside
the AWS header, as https://docs.aws.amazon.com/social-messaging/latest/userguide/managing-event-destination-dlrs.html
shows it (the header of the docs' example, in events/payloads/aws_social_docs_header_ctwa_referral.json)."""

from __future__ import annotations

import json
from typing import Any

from tests.support import webhooks as wh

SAMPLE = "aws_social_docs_header_ctwa_referral.json"


def message(webhook: dict[str, Any]) -> str:
    """The SNS message End User Messaging Social publishes for the one entry of a direct webhook."""
    [entry] = webhook["entry"]
    header = wh.sample_json(SAMPLE)
    header["whatsAppWebhookEntry"] = json.dumps(entry, separators=(",", ":"))
    return json.dumps(header)
