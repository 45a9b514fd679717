"""ConversionRules (docs/forwarding.md, "Conversion rules"): what happens in the thread becomes a Meta
event, each rule at most once per conversation, only for an ad-started contact."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from wa_conversions.config import MetaCapiSettings
from wa_conversions.delivery.runner import Planned, QueuedMessage, Skip
from wa_conversions.forwarding.meta_capi import MetaCapiDestination, MetaEvent
from wa_conversions.forwarding.rules import conversions_for, matched_message_rules, parse_rules

RULES = parse_rules(
    json.dumps(
        [
            {"name": "wants-to-buy", "event": "QualifiedLead", "message": "quiero comprar"},
            {"name": "price", "event": "LeadSubmitted", "message": r"\bprecio\b"},
            {"name": "lead-form", "event": "LeadSubmitted", "template": "lead_form_v1"},
            {"name": "won", "event": "QualifiedLead", "capture": "chat.resolved", "outcome": "sale"},
            {"name": "hot", "event": "QualifiedLead", "capture": "chat.assigned", "tag": "Hot"},
        ]
    )
)
CONTACT = "5215512345678"
REFERRAL = {
    "ctwa_clid": "Aff-CLID-1",
    "source_id": "120226305854810726",
    "received_at": int(time.time()) - 3600,
}


def bus_event(name: str, **properties: Any) -> dict[str, Any]:
    return {
        "event": name,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60)),
        "properties": {"contactKey": CONTACT, **properties},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hola, QUIERO COMPRAR dos", ["wants-to-buy"]),
        ("quiéro comprár", ["wants-to-buy"]),  # accents do not matter
        ("¿Cuál es el PRECIO?", ["price"]),
        ("precios", []),  # the pattern is a regular expression: \b holds
        ("quiero ver", []),
        (None, []),
    ],
)
def test_message_rules_match_case_and_accent_insensitively(text: str | None, expected: list[str]) -> None:
    assert matched_message_rules(RULES, text) == expected


def test_an_accented_pattern_matches_text_without_accents() -> None:
    rules = parse_rules('[{"name": "r", "event": "QualifiedLead", "message": "Cotización"}]')
    assert matched_message_rules(rules, "una cotizacion por favor") == ["r"]


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ("not json", "not JSON"),
        ('{"name": "r"}', "JSON list"),
        ('[{"name": "r", "event": "Lead", "message": "x"}]', "ConversionRules[0] event"),
        ('[{"name": "r", "event": "QualifiedLead"}]', "exactly one of message, template or capture"),
        ('[{"name": "r", "event": "QualifiedLead", "message": "x", "template": "t"}]', "exactly one"),
        ('[{"name": "r", "event": "QualifiedLead", "message": "x", "outcome": "sale"}]', "go with capture"),
        ('[{"name": "r", "event": "QualifiedLead", "message": "(unclosed"}]', "not a regular expression"),
        ('[{"name": "bad name", "event": "QualifiedLead", "message": "x"}]', "ConversionRules[0] name"),
        (
            '[{"name": "r", "event": "QualifiedLead", "message": "x"},'
            ' {"name": "r", "event": "LeadSubmitted", "message": "y"}]',
            "its own name",
        ),
    ],
)
def test_a_mistaken_rule_is_refused_naming_the_problem(rules: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_rules(rules)


def names(event: dict[str, Any], referral: dict[str, Any] | None = REFERRAL) -> list[str]:
    return [c["detail"]["properties"]["ruleName"] for c in conversions_for(RULES, event, lambda _: referral)]


def test_each_trigger_kind_fires_its_rules_and_nothing_else() -> None:
    assert names(bus_event("message.received", rulesMatched=["wants-to-buy"])) == ["wants-to-buy"]
    assert names(bus_event("message.received")) == []
    assert names(bus_event("message.sent", templateId="LEAD_FORM_v1")) == ["lead-form"]
    assert names(bus_event("message.sent", templateName="welcome_v2")) == []
    assert names(bus_event("chat.resolved", resolutionType="sale")) == ["won"]
    assert names(bus_event("chat.resolved", outcome="Sale")) == ["won"]
    assert names(bus_event("chat.resolved", resolutionType="resolved")) == []
    assert names(bus_event("chat.assigned", agentId="a", tags=["vip", "hot"])) == ["hot"]
    assert names(bus_event("chat.assigned", agentId="a", tags=["vip"])) == []


def test_a_rule_fires_once_per_conversation_its_ad_click() -> None:
    first = conversions_for(
        RULES, bus_event("message.received", rulesMatched=["wants-to-buy"]), lambda _: REFERRAL
    )
    again = conversions_for(
        RULES, bus_event("message.received", rulesMatched=["wants-to-buy"]), lambda _: REFERRAL
    )
    later = conversions_for(
        RULES,
        bus_event("message.received", rulesMatched=["wants-to-buy"]),
        lambda _: {**REFERRAL, "ctwa_clid": "Aff-CLID-2"},
    )
    ids = [c[0]["detail"]["properties"]["eventId"] for c in (first, again, later)]
    assert ids[0] == ids[1] == f"rule:wants-to-buy:{CONTACT}:Aff-CLID-1"
    assert ids[2] == f"rule:wants-to-buy:{CONTACT}:Aff-CLID-2"  # a new ad-started conversation


def meta() -> MetaCapiDestination:
    settings = MetaCapiSettings.model_validate(
        {
            "TABLE_NAME": "t",
            "DELIVERY_QUEUE_URL": "q",
            "DELIVERY_DLQ_URL": "d",
            "META_DATASET_ID": "42",
            "META_WABA_ID": "102290129340398",
            # the web source never applies to what happens in the thread
            "META_WEB_ORDER_SOURCE": "website",
        }
    )
    return MetaCapiDestination(settings, lambda: httpx.Client(), lambda: "token", consent=lambda _k: None)


def planned(conversion: dict[str, Any]) -> Planned | Skip:
    return meta().plan(QueuedMessage("m", "h", json.dumps(conversion), 1, conversion))


def test_an_ad_started_contacts_rule_goes_to_meta_in_the_thread() -> None:
    [conversion] = conversions_for(
        RULES, bus_event("chat.resolved", resolutionType="sale"), lambda _: REFERRAL
    )
    decision = planned(conversion)
    assert isinstance(decision, Planned)
    request: MetaEvent = decision.request
    event = request.event
    assert (event["event_name"], event["action_source"]) == ("QualifiedLead", "business_messaging")
    assert event["user_data"]["ctwa_clid"] == "Aff-CLID-1"
    assert event["event_id"] == f"rule:won:{CONTACT}:Aff-CLID-1"


def test_an_organic_contacts_rule_is_skipped_with_the_reason() -> None:
    [conversion] = conversions_for(RULES, bus_event("chat.resolved", resolutionType="sale"), lambda _: None)
    assert conversion["detail"]["properties"]["eventId"] == f"rule:won:{CONTACT}:organic"
    decision = planned(conversion)
    assert isinstance(decision, Skip)
    assert "not attributed to a Click-to-WhatsApp ad" in decision.reason


def test_an_event_with_an_unreadable_timestamp_is_refused_with_the_reason() -> None:
    event = bus_event("chat.resolved", resolutionType="sale") | {"timestamp": "yesterday"}
    with pytest.raises(ValueError, match="timestamp"):
        conversions_for(RULES, event, lambda _: REFERRAL)
