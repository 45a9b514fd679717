"""In-thread conversions without code (docs/forwarding.md, "Conversion rules"): ConversionRules turns
what happens in the thread into a Meta event (LeadSubmitted, QualifiedLead or any allowed name).

    [{"name": "wants-to-buy", "event": "QualifiedLead", "message": "quiero comprar"},
     {"name": "form-sent", "event": "LeadSubmitted", "template": "lead_form_v1"},
     {"name": "won", "event": "QualifiedLead", "capture": "chat.resolved", "outcome": "sale"}]

A `message` pattern (a regular expression) is matched, case- and accent-insensitively, against each
inbound text where capture reads it; the event carries only the names of the rules it matched
(`rulesMatched`), never the text. A `template` matches a message.sent naming it (templateId or
templateName, from POST /v1/capture); a `capture` rule matches a /v1/capture event by name, with
`outcome` (properties.outcome or resolutionType) and `tag` (properties.tags or tag) if given.

Each rule fires at most once per conversation: the conversion's event id is the rule's name, the
contact and the ad click that started the conversation, and Meta's delivery log sends an event id
once. An organic contact's (no ad click) is queued all the same and skipped by the forwarder with
that reason, so the operator sees it in GET /deliveries.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..models.events import EVENT_SOURCE, EventName, iso_timestamp
from .names import check_meta_event_name

if TYPE_CHECKING:
    from collections.abc import Callable

KIND_RULE = "rule"
RULE_CONVERSION_EVENT = "conversion.rule"
_NAMESPACE = uuid.UUID("3c1f6f55-8a51-4d1e-9f2e-2b7d0a4c9e61")


def fold(text: str) -> str:
    """Accents off (NFKD, combining marks dropped) and case folded: "Quiéro" -> "quiero"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _unaccented(text: str) -> str:
    # Patterns keep their case: folding "\S" to "\s" would change what they mean.
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(_unaccented(pattern), re.IGNORECASE)


class ConversionRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    event: str
    message: str | None = Field(default=None, min_length=1, max_length=500)
    template: str | None = Field(default=None, min_length=1, max_length=200)
    capture: str | None = Field(default=None, min_length=1, max_length=100)
    outcome: str | None = Field(default=None, min_length=1, max_length=100)
    tag: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("event")
    @classmethod
    def _meta_name(cls, value: str) -> str:
        return check_meta_event_name(value)

    @field_validator("message")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                _compiled(value)
            except re.error as error:
                raise ValueError(f"not a regular expression: {error}") from None
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> ConversionRule:
        triggers = [t for t in (self.message, self.template, self.capture) if t is not None]
        if len(triggers) != 1:
            raise ValueError("exactly one of message, template or capture")
        if (self.outcome or self.tag) and self.capture is None:
            raise ValueError("outcome and tag go with capture")
        return self

    def matches_text(self, text: str) -> bool:
        return self.message is not None and _compiled(self.message).search(_unaccented(text)) is not None

    def matches_event(self, event: str, properties: dict[str, Any]) -> bool:
        if self.message is not None:
            return event == EventName.MESSAGE_RECEIVED and self.name in (properties.get("rulesMatched") or [])
        if self.template is not None:
            sent = properties.get("templateId") or properties.get("templateName")
            return (
                event == EventName.MESSAGE_SENT
                and isinstance(sent, str)
                and fold(sent) == fold(self.template)
            )
        if event != self.capture:
            return False
        if self.outcome is not None:
            outcome = properties.get("outcome") or properties.get("resolutionType")
            if not isinstance(outcome, str) or fold(outcome) != fold(self.outcome):
                return False
        if self.tag is not None:
            tags = properties.get("tags")
            found = tags if isinstance(tags, list) else [properties.get("tag")]
            if fold(self.tag) not in {fold(t) for t in found if isinstance(t, str)}:
                return False
        return True


def parse_rules(text: str) -> tuple[ConversionRule, ...]:
    """ConversionRules as JSON; a mistake names the rule and the field, at the first invocation."""
    try:
        raw = json.loads(text or "[]")
    except ValueError as error:
        raise ValueError(f"ConversionRules is not JSON: {error}") from None
    if not isinstance(raw, list):
        raise ValueError("ConversionRules must be a JSON list of rules")
    rules: list[ConversionRule] = []
    for index, item in enumerate(raw):
        try:
            rules.append(ConversionRule.model_validate(item))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "rule"
            message = str(first["msg"]).removeprefix("Value error, ")
            raise ValueError(f"ConversionRules[{index}] {where}: {message}") from None
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise ValueError("ConversionRules: each rule needs its own name")
    return tuple(rules)


def matched_message_rules(rules: Sequence[ConversionRule], text: str | None) -> list[str]:
    """The names of the message rules an inbound text matches (capture publishes only these)."""
    if not text:
        return []
    return [rule.name for rule in rules if rule.matches_text(text)]


def conversion_message(
    rule: ConversionRule,
    *,
    contact_key: str,
    referral: dict[str, Any] | None,
    event_time: int,
    tenant: str | None = None,
) -> dict[str, Any]:
    """The queued conversion, in the shape the Meta forwarder reads (as POST /conversions queues)."""
    clid = (referral or {}).get("ctwa_clid")
    conversation = clid or "organic"
    event_id = f"rule:{rule.name}:{contact_key}:{conversation}"
    clicked_at = (referral or {}).get("received_at")
    from ..tenants import phone_of_key

    phone = phone_of_key(contact_key)
    properties = {
        "conversionId": event_id,
        "eventId": event_id,
        "kind": KIND_RULE,
        "eventName": rule.event,
        "ruleName": rule.name,
        "phone": phone,
        "contactKey": contact_key,
        "ctwaClid": clid,
        "sourceId": (referral or {}).get("source_id"),
        "clickedAt": iso_timestamp(int(clicked_at)) if clicked_at is not None else None,
        "attribution": {"status": "attributed" if clid else "unattributed", "model": "rule", "reason": None},
    }
    if tenant:
        properties["tenant"] = tenant  # to the tenant's own Meta dataset (docs/tenants.md)
    return {
        "version": "0",
        "source": f"{EVENT_SOURCE}.rules",
        "detail-type": RULE_CONVERSION_EVENT,
        "detail": {
            "version": "1",
            "messageId": str(uuid.uuid5(_NAMESPACE, event_id)),
            "type": "track",
            "event": RULE_CONVERSION_EVENT,
            "userId": f"+{phone}" if phone else None,
            "timestamp": iso_timestamp(event_time),
            "context": {"channel": "whatsapp", "provider": "rules"},
            "properties": properties,
        },
    }


def conversions_for(
    rules: Sequence[ConversionRule],
    event: dict[str, Any],
    referral_of: Callable[[str], dict[str, Any] | None],
) -> list[dict[str, Any]]:
    """What one bus event (its detail) triggers: a queued conversion per rule it matches."""
    name = event.get("event")
    properties = event.get("properties") if isinstance(event.get("properties"), dict) else {}
    assert isinstance(properties, dict)
    contact_key = properties.get("contactKey")
    if not isinstance(name, str) or not isinstance(contact_key, str) or not contact_key:
        return []
    matched = [rule for rule in rules if rule.matches_event(name, properties)]
    if not matched:
        return []
    referral = referral_of(contact_key)
    from datetime import datetime

    when = event.get("timestamp")
    try:
        event_time = int(datetime.fromisoformat(str(when).replace("Z", "+00:00")).timestamp())
    except ValueError:
        raise ValueError(f"the event's timestamp {when!r} is not ISO 8601") from None
    return [
        conversion_message(
            rule,
            contact_key=contact_key,
            referral=referral,
            event_time=event_time,
            tenant=tenant if isinstance(tenant := properties.get("tenant"), str) else None,
        )
        for rule in matched
    ]
