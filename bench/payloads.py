"""The webhook bodies the benchmark feeds every contender, built from Meta's documented samples."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAYLOADS = ROOT / "events" / "payloads"
REFERRAL_SAMPLE = "meta_docs_text_message_ctwa_referral.json"
STATUS_SAMPLE = "meta_docs_status_sent_with_pricing.json"
# Any value does: every body is signed with it, so every contender's verification succeeds.
APP_SECRET = "bench-app-secret"  # noqa: S105

# Meta groups a batch's updates into changes; a few per change keeps both the per-change work
# (metadata, contact index) and the per-update work in the measurement.
UPDATES_PER_CHANGE = 5
REFERRAL_EVERY = 3
STATUS_NAMES = ("sent", "delivered", "read")


@dataclass(frozen=True)
class Webhook:
    name: str
    body: bytes
    signature: str  # X-Hub-Signature-256, "sha256=<hex>"
    updates: int


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((PAYLOADS / name).read_bytes())
    return loaded


def _bsuid(rng: random.Random) -> str:
    # Business-scoped user ids look like "<country>.<digits>". pywa 4.5 requires one on every contact.
    return f"US.{rng.randrange(10**19, 10**20)}"


def _wamid(rng: random.Random) -> str:
    return "wamid." + rng.randbytes(33).hex().upper()


def batched(updates: int = 100, seed: int = 20250618) -> Webhook:
    """One webhook of `updates` updates: text messages from distinct senders (every third opened from
    a Click-to-WhatsApp ad, with its own ctwa_clid) and sent/delivered/read statuses, each change
    carrying the contacts of its updates, as Meta does once business-scoped user ids are live."""
    rng = random.Random(seed)
    message_sample = _sample(REFERRAL_SAMPLE)
    status_sample = _sample(STATUS_SAMPLE)
    entry = copy.deepcopy(message_sample["entry"][0])
    base_value = entry["changes"][0]["value"]
    message_template = base_value["messages"][0]
    contact_template = base_value["contacts"][0]
    status_template = status_sample["entry"][0]["changes"][0]["value"]["statuses"][0]
    timestamp = int(message_template["timestamp"])

    changes: list[dict[str, Any]] = []
    made = 0
    while made < updates:
        size = min(UPDATES_PER_CHANGE, updates - made)
        value: dict[str, Any] = {
            "messaging_product": base_value["messaging_product"],
            "metadata": dict(base_value["metadata"]),
        }
        contacts: list[dict[str, Any]] = []
        inbound = len(changes) % 2 == 0
        items: list[dict[str, Any]] = []
        for _ in range(size):
            phone = f"1650555{rng.randrange(10**4):04d}"
            timestamp += rng.randrange(1, 30)
            contact: dict[str, Any] = {"wa_id": phone, "user_id": _bsuid(rng)}
            if inbound:
                contact = {**copy.deepcopy(contact_template), **contact}
                contact["profile"] = {"name": f"Customer {made}"}
                message = copy.deepcopy(message_template)
                message.update(id=_wamid(rng), timestamp=str(timestamp), **{"from": phone})
                message["text"] = {"body": f"Hi, is order {rng.randrange(10**6)} on its way?"}
                if made % REFERRAL_EVERY == 0:
                    message["referral"]["ctwa_clid"] = "Aff-" + rng.randbytes(60).hex()
                    message["referral"]["source_id"] = str(rng.randrange(10**17, 10**18))
                else:
                    del message["referral"]
                items.append(message)
            else:
                status = copy.deepcopy(status_template)
                name = STATUS_NAMES[made % len(STATUS_NAMES)]
                status.update(id=_wamid(rng), status=name, timestamp=str(timestamp), recipient_id=phone)
                if name == "read":
                    # Meta reports conversation and pricing on sent and delivered only.
                    del status["conversation"], status["pricing"]
                items.append(status)
            contacts.append(contact)
            made += 1
        value["contacts"] = contacts
        value["messages" if inbound else "statuses"] = items
        changes.append({"value": value, "field": "messages"})
    entry["changes"] = changes
    document = {"object": message_sample["object"], "entry": [entry]}
    # Meta posts compact JSON.
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return Webhook(f"batched, {updates} updates", body, sign(body), updates)


def referral_sample() -> Webhook:
    """Meta's documented referral message, byte for byte."""
    body = (PAYLOADS / REFERRAL_SAMPLE).read_bytes()
    return Webhook("referral sample, as is", body, sign(body), 1)


def referral_sample_with_user_id() -> Webhook:
    """The referral sample plus contacts[].user_id, the one field pywa 4.5 cannot do without."""
    document = _sample(REFERRAL_SAMPLE)
    document["entry"][0]["changes"][0]["value"]["contacts"][0]["user_id"] = "US.13491208655302741918"
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return Webhook("referral sample + user_id", body, sign(body), 1)
