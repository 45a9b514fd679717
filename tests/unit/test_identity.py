"""Issue 11's pure parts: link tokens (URL tagging, finding them on an order), the token-first
attribution, and the identity fields read from Meta's and CM.com's webhooks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from tests.support import webhooks as wh
from wa_conversions.analytics.track import ItemError, TrackItem, phone_property, to_event, validate_item
from wa_conversions.attribution.engine import Windows, attribute_order
from wa_conversions.attribution.links import LinkRequest, new_token, tag_url
from wa_conversions.attribution.phones import ResolvedPhones
from wa_conversions.models.contact_state import ContactState
from wa_conversions.models.domain import ContactRef, InboundMessage
from wa_conversions.models.link_tokens import tokens_in
from wa_conversions.providers import cm, meta, shopify

TOKEN = "Jx3k9QzLw0aB"
AT = 1_780_000_000
WINDOWS = Windows.of_days(7, 7)


class TestLinks:
    def test_the_token_is_short_url_safe_and_fresh_each_time(self) -> None:
        tokens = {new_token() for _ in range(200)}
        assert len(tokens) == 200
        assert all(len(t) == 12 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)

    def test_the_url_keeps_its_query_and_fragment_and_gets_one_wac(self) -> None:
        tagged = tag_url("https://shop.example/p/x?variant=7&wac=OLDOLDOLDOLD#top", TOKEN)
        parts = urlsplit(tagged)
        assert parts.fragment == "top"
        assert parse_qs(parts.query) == {"variant": ["7"], "wac": [TOKEN]}

    @pytest.mark.parametrize("url", ["shop.example/x", "ftp://shop.example/x", "javascript:alert(1)", ""])
    def test_only_absolute_web_urls_are_taken(self, url: str) -> None:
        with pytest.raises(ValidationError, match="url"):
            LinkRequest.model_validate({"url": url})

    def test_tokens_are_found_in_urls_notes_and_the_wac_attribute(self) -> None:
        assert tokens_in([f"/products/x?utm=a&wac={TOKEN}"], {}) == (TOKEN,)
        assert tokens_in([f"Please gift wrap. wac: {TOKEN}"], {}) == (TOKEN,)
        assert tokens_in([None], {"wac": f" {TOKEN} "}) == (TOKEN,)
        assert tokens_in(["https://x.test/?wac=short"], {"colour": "green"}) == ()
        assert tokens_in(["https://x.test/?nowac=AAAAAAAAAAAA"], {}) == ()

    def test_a_shopify_order_gives_its_tokens_wherever_the_storefront_kept_them(self) -> None:
        from devstack.shopify_samples import fixture_order

        order = fixture_order()
        assert shopify.order_facts(shopify.parse_order(json.dumps(order))).link_tokens == ()
        order["referring_site"] = f"https://l.wl.co/l?wac={TOKEN}"
        order["note_attributes"] = [{"name": "WAC", "value": "Kx3k9QzLw0aB"}]
        facts = shopify.order_facts(shopify.parse_order(json.dumps(order)))
        assert facts.link_tokens == ("Kx3k9QzLw0aB", TOKEN)


class History:
    def __init__(self, links: dict[str, dict[str, Any]], contacts: dict[str, dict[str, Any]]) -> None:
        self.links = links
        self.contacts = contacts

    def find_contact(self, contact_keys: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
        return next(((k, self.contacts[k]) for k in contact_keys if k in self.contacts), None)

    def link_token(self, token: str) -> dict[str, Any] | None:
        return self.links.get(token)

    def contacts_with_email(self, email: str) -> list[str]:
        return [k for k, profile in self.contacts.items() if email in profile.get("emails", ())][:2]

    def referrals(self, contact_key: str) -> list[dict[str, Any]]:
        return []

    def inbound_between(self, contact_key: str, start: int, end: int) -> bool:
        return False


NO_PHONE = ResolvedPhones(e164=None, keys=(), found_any=False)
PHONE = ResolvedPhones(e164="16505551234", keys=("16505551234",), found_any=True)


class TestTokenFirst:
    link = {"contact_key": "uid:US.1", "ctwa_clid": "CLID", "source_id": "AD", "clicked_at": AT - 60}

    def test_a_live_token_names_the_contact_and_its_click(self) -> None:
        history = History({TOKEN: {**self.link, "valid_until": AT + 1}}, {"uid:US.1": {}, "16505551234": {}})
        found = attribute_order((TOKEN,), PHONE, AT, history, WINDOWS)
        assert (found.status.value, found.model, found.contact_key, found.ctwa_clid) == (
            "attributed",
            "link_token",
            "uid:US.1",
            "CLID",
        )
        assert found.keys_tried == (("token", "matched"),)

    def test_an_expired_then_an_unknown_token_fall_back_to_the_phone(self) -> None:
        history = History({TOKEN: {**self.link, "valid_until": AT - 1}}, {})
        found = attribute_order((TOKEN, "Zx3k9QzLw0aB"), PHONE, AT, history, WINDOWS)
        assert found.model == "last_touch"
        assert found.keys_tried == (
            ("token", "expired"),
            ("token", "unknown"),
            ("phone", "no_contact"),
            ("email", "no_email"),
        )

    def test_an_order_without_token_or_phone_says_so(self) -> None:
        found = attribute_order((), NO_PHONE, AT, History({}, {}), WINDOWS)
        assert found.keys_tried == (("token", "not_in_order"), ("phone", "no_phone"), ("email", "no_email"))
        assert found.as_record()["keys_tried"] == [
            {"key": "token", "outcome": "not_in_order"},
            {"key": "phone", "outcome": "no_phone"},
            {"key": "email", "outcome": "no_email"},
        ]

    def test_an_email_known_for_exactly_one_contact_attributes_when_nothing_better_matched(self) -> None:
        contact = {"emails": ["ana@example.com"], "last_inbound_at": AT - 60}
        history = History({}, {"uid:US.1": contact})
        found = attribute_order((), PHONE, AT, history, WINDOWS, "ana@example.com")
        assert (found.model, found.contact_key, found.status.value) == (
            "email",
            "uid:US.1",
            "whatsapp_influenced",
        )
        assert found.keys_tried[-2:] == (("phone", "no_contact"), ("email", "matched"))
        twice = History({}, {"uid:US.1": contact, "16505550000": contact})
        ambiguous = attribute_order((), PHONE, AT, twice, WINDOWS, "ana@example.com")
        assert (ambiguous.contact_key, ambiguous.keys_tried[-1]) == (None, ("email", "ambiguous"))

    def test_a_phone_match_beats_an_email_match(self) -> None:
        history = History({}, {"16505551234": {}, "uid:US.1": {"emails": ["ana@example.com"]}})
        found = attribute_order((), PHONE, AT, history, WINDOWS, "ana@example.com")
        assert (found.contact_key, found.model) == ("16505551234", "last_touch")
        assert [key for key, _ in found.keys_tried] == ["token", "phone"]

    def test_a_token_for_a_contact_without_a_click_is_whatsapp_influenced(self) -> None:
        history = History({TOKEN: {"contact_key": "16505551234", "valid_until": AT + 1}}, {"16505551234": {}})
        found = attribute_order((TOKEN,), NO_PHONE, AT, history, WINDOWS)
        assert (found.status.value, found.reason and found.reason.value) == (
            "whatsapp_influenced",
            "no_referral",
        )


class TestIdentityFields:
    def test_user_changed_number_names_the_new_number(self) -> None:
        message = {
            "id": "wamid.SYS",
            "from": "16505551234",
            "timestamp": "1780000000",
            "type": "system",
            "system": {"body": "changed", "wa_id": "16505559876", "type": "user_changed_number"},
        }
        document = wh.webhook({"contacts": [wh.contact("16505551234")], "messages": [message]})
        [update] = meta.normalize(meta.parse_webhook(json.dumps(document)))
        assert isinstance(update, InboundMessage)
        assert update.moved_to == ContactRef(phone="16505559876")

    def test_other_system_messages_move_nobody(self) -> None:
        message = {
            "id": "wamid.SYS2",
            "from": "16505551234",
            "timestamp": "1780000000",
            "type": "system",
            "system": {"body": "identity changed", "type": "customer_identity_changed"},
        }
        document = wh.webhook({"contacts": [wh.contact("16505551234")], "messages": [message]})
        [update] = meta.normalize(meta.parse_webhook(json.dumps(document)))
        assert isinstance(update, InboundMessage)
        assert update.moved_to is None

    def test_cm_from_user_id_is_the_business_scoped_user_id(self) -> None:
        [update] = cm.parse_webhook(
            json.dumps(
                {
                    "from": {
                        "number": "",
                        "userId": "US.1349",
                        "parentUserId": "US.ENT.1",
                        "username": "ana",
                    },
                    "to": {"number": "+31600000000"},
                    "message": {"text": "hola"},
                    "reference": "ref-1",
                    "timeUtc": "2026-05-01T10:00:00",
                    "channel": "WhatsApp",
                }
            )
        )
        assert isinstance(update, InboundMessage)
        assert update.contact == ContactRef(
            phone=None, user_id="US.1349", parent_user_id="US.ENT.1", name=None, username="ana"
        )
        assert update.contact.key == "uid:US.1349"


class TestUnattributedReasons:
    def unattributed(self, update_key: str, attribution: dict[str, Any]) -> Any:
        from wa_conversions.models.events import LifecycleEvent

        return LifecycleEvent.build(
            update_key=update_key,
            event="conversion.unattributed",
            user_id=None,
            epoch_seconds=AT,
            provider="shopify",
            properties={"kind": "order", "value": 10, "attribution": attribution},
        )

    def test_metrics_split_unattributed_orders_by_key_tried(self) -> None:
        from datetime import date

        from wa_conversions.analytics.aggregator import conversion_deltas
        from wa_conversions.analytics.metrics import MetricsQuery, compute

        expired = {
            "status": "unattributed",
            "reason": "no_contact",
            "keysTried": [{"key": "token", "outcome": "expired"}, {"key": "phone", "outcome": "no_contact"}],
        }
        no_click = {
            "status": "unattributed",
            "reason": "no_referral",
            "keysTried": [
                {"key": "token", "outcome": "not_in_order"},
                {"key": "phone", "outcome": "matched"},
            ],
        }
        legacy = {"status": "unattributed", "reason": "no_phone"}  # stored before keys were recorded
        days: dict[str, dict[str, float]] = {}
        for key, attribution in (("a", expired), ("b", no_click), ("c", legacy), ("d", expired)):
            for name, amount in conversion_deltas(self.unattributed(key, attribution)).items():
                day, _, counter = name.partition("|")
                days.setdefault(day, {}).setdefault(counter, 0)
                days[day][counter] += amount
        [day] = days
        on = date.fromisoformat(day[:10])  # counters may be kept per hour ("YYYY-MM-DDTHH")
        metrics = compute(MetricsQuery(start=on, end=on), days)
        assert metrics.unattributed_reasons == {
            "phone:no_contact": 2,
            "phone:no_phone": 1,
            "phone:no_referral": 1,
            "token:expired": 2,
            "token:not_in_order": 1,
        }
        assert metrics.orders == 4


class TestCrmIdentity:
    NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)

    def item(self, user_id: str, **properties: Any) -> dict[str, Any]:
        return {
            "type": "track",
            "event": "contact.updated",
            "userId": user_id,
            "timestamp": "2026-06-01T10:00:00Z",
            "context": {"channel": "whatsapp"},
            "properties": properties,
        }

    @pytest.mark.parametrize(
        ("raw", "digits"),
        [
            ("+16505551234", "16505551234"),
            ("+1 (650) 555-1234", "16505551234"),
            ("447700900123", "447700900123"),
        ],
    )
    def test_a_crm_phone_is_read_as_e164_digits(self, raw: str, digits: str) -> None:
        assert phone_property(raw) == digits

    @pytest.mark.parametrize("raw", ["call me", "+0123456789", "123", "+1234567890123456", 16505551234])
    def test_anything_else_is_not_a_phone(self, raw: Any) -> None:
        assert phone_property(raw) is None

    def test_a_user_id_names_the_contact_known_by_it_alone(self) -> None:
        checked = validate_item(0, self.item("US.13491208655302741918"), self.NOW)
        assert isinstance(checked, TrackItem)
        event = to_event(checked, self.item("US.13491208655302741918"))
        assert (event.user_id, event.properties["contactKey"]) == (
            "US.13491208655302741918",
            "uid:US.13491208655302741918",
        )

    def test_a_phone_that_is_not_one_is_an_item_error_naming_it(self) -> None:
        checked = validate_item(3, self.item("+16505551234", phone="call me"), self.NOW)
        assert isinstance(checked, ItemError)
        assert (checked.index, checked.field) == (3, "properties.phone")


class TestMergedCounters:
    def test_what_two_contacts_counted_for_one_person_is_taken_back_once_merged(self) -> None:
        phone, uid = ContactState(contact="16505551234"), ContactState(contact="uid:US.1")
        for state, at, message in ((phone, AT, "w1"), (uid, AT + 3600, "w2")):
            state.note_contact_created(at)
            state.note_click(message, at, "AD1")
            state.note_inbound(message, at, None)
            state.settle()
        phone.absorb(uid)
        deltas = phone.settle()
        assert {k.partition("|")[2]: v for k, v in deltas.items()} == {
            "new_contacts": -1,
            "ad#AD1#conversations": -1,
        }
        assert len(phone.clicks) == len(phone.inbound) == 2
