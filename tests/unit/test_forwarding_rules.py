"""forwarding.rules beyond what tests/unit/test_conversion_rules.py covers: folding, the fields a rule
may have, how each trigger reads its event, and the queued conversion's own shape, as the Meta
forwarder reads it (forwarding.conversion)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from wa_conversions.forwarding.conversion import parse_conversion
from wa_conversions.forwarding.rules import (
    KIND_RULE,
    RULE_CONVERSION_EVENT,
    ConversionRule,
    conversion_message,
    conversions_for,
    fold,
    matched_message_rules,
    parse_rules,
)
from wa_conversions.models.events import iso_timestamp

PHONE = "447700900123"
CLICK_AT = 1_750_276_200  # the CM sample's ad click (events/payloads/cm_constructed_mo_raw_referral.json)
CLICK = {"ctwa_clid": "Aff-n8ZTODiE79d22KtAwQ", "source_id": "120226305854810726", "received_at": CLICK_AT}


def rule(**fields: Any) -> ConversionRule:
    return ConversionRule.model_validate({"name": "r1", "event": "QualifiedLead", **fields})


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Quiéro COMPRÁR", "quiero comprar"), ("Çà Ñandú", "ca nandu"), ("Straße", "strasse"), ("ﬁn", "fin")],
)
def test_fold_drops_accents_and_case(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_a_pattern_keeps_its_case_sensitive_escapes() -> None:
    one_word = rule(message=r"^\S+$")

    assert one_word.matches_text("Presupuesto")
    assert not one_word.matches_text("un presupuesto")


def test_nothing_configured_is_no_rules_and_an_empty_text_matches_none() -> None:
    assert parse_rules("") == ()
    assert parse_rules("[]") == ()
    assert (
        matched_message_rules(parse_rules('[{"name": "r", "event": "QualifiedLead", "message": "x"}]'), "")
        == []
    )


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (
            {"name": "r", "event": "QualifiedLead", "message": "x", "colour": "red"},
            "ConversionRules[0] colour:",
        ),
        ({"name": "r", "event": "QualifiedLead", "message": ""}, "ConversionRules[0] message:"),
        ({"name": "r", "event": "QualifiedLead", "message": "x" * 501}, "ConversionRules[0] message:"),
        ({"name": "r" * 65, "event": "QualifiedLead", "message": "x"}, "ConversionRules[0] name:"),
        ({"name": "r", "event": "QualifiedLead", "template": "t", "tag": "vip"}, "go with capture"),
        ("wants-to-buy", "ConversionRules[0] rule:"),
    ],
)
def test_a_rule_with_a_field_it_may_not_have_is_refused_naming_it(item: Any, problem: str) -> None:
    import json

    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_rules(json.dumps([item]))


def test_a_message_rule_reads_only_received_messages_that_capture_matched() -> None:
    wants = rule(message="quiero")

    assert wants.matches_event("message.received", {"rulesMatched": ["other", "r1"]})
    assert not wants.matches_event("message.received", {"rulesMatched": None})
    assert not wants.matches_event("message.sent", {"rulesMatched": ["r1"]})


def test_a_template_rule_matches_the_template_sent_by_id_or_name_ignoring_case() -> None:
    form = rule(template="Lead_Form_V1")

    assert form.matches_event("message.sent", {"templateName": "lead_form_v1"})
    assert form.matches_event("message.sent", {"templateId": "LEAD_FORM_V1", "templateName": "other"})
    assert not form.matches_event("message.sent", {"templateId": 17})
    assert not form.matches_event("message.received", {"templateName": "lead_form_v1"})


def test_a_capture_rule_needs_its_event_and_every_condition_it_names() -> None:
    won = rule(capture="chat.resolved", outcome="Venta", tag="VIP")

    assert won.matches_event("chat.resolved", {"outcome": "venta", "tag": "vip"})
    assert won.matches_event("chat.resolved", {"resolutionType": "VENTA", "tags": ["x", "Vip"]})
    assert not won.matches_event("chat.resolved", {"outcome": "venta"})
    assert not won.matches_event("chat.resolved", {"outcome": "venta", "tags": "vip"})  # tags is a list
    assert not won.matches_event("chat.resolved", {"outcome": 1, "tag": "vip"})
    assert not won.matches_event("chat.closed", {"outcome": "venta", "tag": "vip"})
    assert rule(capture="chat.resolved").matches_event("chat.resolved", {})


def test_the_queued_conversion_of_an_ad_started_contact() -> None:
    message = conversion_message(
        rule(capture="chat.resolved"), contact_key=PHONE, referral=CLICK, event_time=CLICK_AT + 600
    )

    assert (message["source"], message["detail-type"]) == ("wa-conversions.rules", RULE_CONVERSION_EVENT)
    detail = message["detail"]
    assert detail["userId"] == f"+{PHONE}"
    assert detail["timestamp"] == iso_timestamp(CLICK_AT + 600)
    properties = detail["properties"]
    assert properties["eventId"] == properties["conversionId"] == f"rule:r1:{PHONE}:{CLICK['ctwa_clid']}"
    assert (properties["kind"], properties["eventName"], properties["ruleName"]) == (
        KIND_RULE,
        "QualifiedLead",
        "r1",
    )
    assert (properties["ctwaClid"], properties["sourceId"]) == (CLICK["ctwa_clid"], CLICK["source_id"])
    assert properties["clickedAt"] == iso_timestamp(CLICK_AT)
    assert properties["attribution"] == {"status": "attributed", "model": "rule", "reason": None}
    assert "tenant" not in properties


def test_an_organic_contacts_conversion_says_so_and_a_user_id_contact_has_no_phone() -> None:
    message = conversion_message(
        rule(message="x"), contact_key="uid:US.13491208655302741918", referral=None, event_time=CLICK_AT
    )

    detail = message["detail"]
    assert detail["userId"] is None
    assert detail["properties"]["phone"] is None
    assert detail["properties"]["clickedAt"] is None
    assert detail["properties"]["attribution"]["status"] == "unattributed"
    assert detail["properties"]["eventId"].endswith(":organic")


def test_the_message_id_is_the_same_for_the_same_event_id_only() -> None:
    def message_id(clid: str, event_time: int) -> str:
        referral = {**CLICK, "ctwa_clid": clid}
        found = conversion_message(
            rule(message="x"), contact_key=PHONE, referral=referral, event_time=event_time
        )
        return str(found["detail"]["messageId"])

    assert message_id("A", CLICK_AT) == message_id("A", CLICK_AT + 99)
    assert message_id("A", CLICK_AT) != message_id("B", CLICK_AT)


def test_the_meta_forwarder_reads_the_queued_conversion_with_its_tenant() -> None:
    message = conversion_message(
        rule(capture="chat.resolved"),
        contact_key=f"south~{PHONE}",
        referral=CLICK,
        event_time=CLICK_AT + 60,
        tenant="south",
    )

    event = parse_conversion(message)

    assert event.name == RULE_CONVERSION_EVENT
    assert event.event_time == CLICK_AT + 60
    assert event.clicked_at_epoch == CLICK_AT
    assert (event.properties.kind, event.properties.event_name) == ("rule", "QualifiedLead")
    assert (event.properties.phone, event.properties.tenant) == (PHONE, "south")


def bus_event(name: str, **properties: Any) -> dict[str, Any]:
    return {"event": name, "timestamp": "2026-11-30T10:00:00.000Z", "properties": properties}


def test_an_event_without_a_contact_or_properties_triggers_nothing_and_reads_no_referral() -> None:
    rules = parse_rules('[{"name": "won", "event": "QualifiedLead", "capture": "chat.resolved"}]')
    looked_up: list[str] = []

    def referral_of(key: str) -> dict[str, Any] | None:
        looked_up.append(key)
        return CLICK

    assert conversions_for(rules, bus_event("chat.resolved"), referral_of) == []
    assert conversions_for(rules, bus_event("chat.resolved", contactKey=""), referral_of) == []
    assert conversions_for(rules, {"event": "chat.resolved", "properties": "x"}, referral_of) == []
    assert conversions_for(rules, bus_event("chat.assigned", contactKey=PHONE), referral_of) == []
    assert looked_up == []

    [queued] = conversions_for(rules, bus_event("chat.resolved", contactKey=PHONE, tenant=7), referral_of)
    assert looked_up == [PHONE]
    assert queued["detail"]["timestamp"] == "2026-11-30T10:00:00.000Z"
    assert "tenant" not in queued["detail"]["properties"]  # only a tenant's name is carried


def test_every_rule_an_event_matches_queues_its_own_conversion() -> None:
    rules = parse_rules(
        '[{"name": "won", "event": "QualifiedLead", "capture": "chat.resolved"},'
        ' {"name": "sale", "event": "Purchase", "capture": "chat.resolved", "outcome": "sale"}]'
    )

    queued = conversions_for(
        rules, bus_event("chat.resolved", contactKey=PHONE, outcome="sale"), lambda _: CLICK
    )

    assert [q["detail"]["properties"]["eventId"] for q in queued] == [
        f"rule:won:{PHONE}:{CLICK['ctwa_clid']}",
        f"rule:sale:{PHONE}:{CLICK['ctwa_clid']}",
    ]
