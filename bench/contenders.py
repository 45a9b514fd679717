"""What is timed per webhook: our two paths, the floor they are held to, and pywa doing the same job.

Each contender is a zero-argument callable bound to one webhook, so the timer measures the work and
nothing else. Each returns what it produced, which the checks below use to prove the work was done.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

from wa_conversions.capture.ingest import WebhookSignature, check_signature, read_webhook, split_for_queue
from wa_conversions.providers.meta import normalize, parse_webhook
from wa_conversions.signatures import verify_meta_signature

from .payloads import APP_SECRET, Webhook

if TYPE_CHECKING:
    from pywa.types.base_update import RawUpdate

Contender = Callable[[], object]
NORMALIZE_STAGE = "normalize"


class SignatureMismatch(Exception):
    pass


def floor(webhook: Webhook, secret: str = APP_SECRET) -> Contender:
    """The least any verifying reader can do: one HMAC over the body, one comparison, one json.loads."""
    body = webhook.body
    key = secret.encode("utf-8")
    given = webhook.signature.removeprefix("sha256=")
    sha256 = hashlib.sha256
    new, compare, loads = hmac.new, hmac.compare_digest, json.loads

    def run() -> object:
        if not compare(new(key, body, sha256).hexdigest(), given):
            raise SignatureMismatch
        return loads(body)

    return run


def hot_path(webhook: Webhook, secret: str = APP_SECRET) -> Contender:
    """The processor's read of a webhook: signature, pydantic validation, domain updates."""
    body, header = webhook.body, webhook.signature

    def run() -> object:
        if not verify_meta_signature(body, header, secret):
            raise SignatureMismatch
        return normalize(parse_webhook(body))

    return run


def ack_path(webhook: Webhook, secret: str = APP_SECRET) -> Contender:
    """What the acknowledging Lambda does before queueing: signature, json shape check, queue parts."""
    body = webhook.body
    headers = {"x-hub-signature-256": webhook.signature}

    # The Lambda's secret lookup is cached after the first request; a constant plays that cache.
    def secret_of(_provider: str) -> str | None:
        return secret

    def run() -> object:
        check_signature(body, WebhookSignature.from_headers(headers), secret_of)
        return split_for_queue(body, read_webhook(body))

    return run


def hot_path_stages(webhook: Webhook, secret: str = APP_SECRET) -> dict[str, Contender]:
    """The hot path cut at its seams, to say which stage any excess over the floor comes from."""
    body, header = webhook.body, webhook.signature
    payload = parse_webhook(body)
    return {
        "verify_meta_signature": lambda: verify_meta_signature(body, header, secret),
        "parse_webhook (pydantic)": lambda: parse_webhook(body),
        NORMALIZE_STAGE: lambda: normalize(payload),
    }


class PywaReader:
    """pywa 4.5's own update types, built for every update of a webhook without a server or network.

    pywa's webhook handler reads only entry[0].changes[0] and, within it, messages[0] (Message) or
    statuses[status_idx] with contacts[contact_idx] (MessageStatus). So for each change this matches
    every update with its contact (as our normaliser does) and hands pywa either a one-change view
    with indexes (statuses) or a one-message view (messages). Building those views is a few small
    dicts per update: part of what reading a batch with pywa costs, and small beside from_update.
    """

    def __init__(self, secret: str = APP_SECRET) -> None:
        # Imported here so the cost of importing pywa stays out of anything else the parent measures.
        from pywa.client import WhatsApp
        from pywa.types.base_update import RawUpdate
        from pywa.types.message import Message
        from pywa.types.message_status import MessageStatus
        from pywa.utils import webhook_updates_validator

        # No token: no httpx client and no API object. No server or verify_token: no routes and no
        # callback registration. Filtering by phone or account id would only drop updates.
        self._client = WhatsApp(
            phone_id=None,
            token=None,
            server=None,
            verify_token=None,
            filter_updates=False,
            validate_updates=False,
        )
        self._secret = secret
        self._message = Message
        self._status = MessageStatus
        self._raw_update = RawUpdate
        self._validate = webhook_updates_validator

    def contender(self, webhook: Webhook) -> Contender:
        body, header = webhook.body, webhook.signature
        return lambda: self.read(body, header)

    def read(self, body: bytes, header: str) -> list[Any]:
        if not self._validate(app_secret=self._secret, request_body=body, x_hub_signature=header):
            raise SignatureMismatch
        # pywa's own body reader (json.loads); its dedup hash is skipped, as no handler runs here.
        raw = self._raw_update(body, hmac_header=header, update_hash="")
        updates: list[Any] = []
        for entry in raw["entry"]:
            for change in entry["changes"]:
                updates.extend(self._read_change(entry["id"], change))
        return updates

    def _read_change(self, entry_id: str, change: dict[str, Any]) -> Iterator[Any]:
        value = change["value"]
        contacts = value.get("contacts", [])
        by_id: dict[str, int] = {}
        for index, contact in enumerate(contacts):
            for key in (contact.get("wa_id"), contact.get("user_id")):
                if key:
                    by_id[key] = index
        for message in value.get("messages", ()):
            index = by_id.get(message.get("from") or message.get("from_user_id") or "", 0)
            one = {**value, "messages": [message], "contacts": [contacts[index]]}
            view = {"entry": [{"id": entry_id, "changes": [{"field": change["field"], "value": one}]}]}
            yield self._message.from_update(self._client, cast("RawUpdate", view))
        statuses = value.get("statuses", ())
        if statuses:
            view = {"entry": [{"id": entry_id, "changes": [change]}]}
            for position, status in enumerate(statuses):
                index = by_id.get(status.get("recipient_id") or status.get("recipient_user_id") or "", 0)
                yield self._status.from_update(
                    self._client, cast("RawUpdate", view), contact_idx=index, status_idx=position
                )


def check_updates(webhook: Webhook, produced: object, what: str) -> None:
    """A contender that skipped updates would look fast for the wrong reason."""
    count = len(produced) if isinstance(produced, list) else -1
    if count != webhook.updates:
        raise AssertionError(f"{what} made {count} updates of the {webhook.updates} in {webhook.name}")


def check_parts(webhook: Webhook, produced: object) -> None:
    """Every benchmark body fits one SQS message, so the ack path must pass it on whole."""
    if produced != [webhook.body.decode("utf-8")]:
        raise AssertionError(f"the ack path did not queue {webhook.name} as one part")
