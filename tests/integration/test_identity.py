"""Attribution that survives WhatsApp usernames (issue 11), through the real handlers against moto:
one contact per person whichever id comes first, link tokens from POST /contacts/{id}/links to the
Shopify order, and the destinations of a conversion whose contact has no phone."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from devstack.sample_events import proxy_event
from tests.integration.conftest import CaptureHarness
from tests.integration.test_attribution import TABLE, AttributionHarness, destination_requests, only
from tests.integration.test_attribution import world as world  # the fixture
from tests.support import attribution as sc
from tests.support import webhooks as wh

UID = "US.13491208655302741918"
PHONE = "16505551234"
CLICK_AT = int(time.time()) - 3 * sc.DAY  # recent: the Meta forwarder takes only the last 7 days
SOMEONE_ELSE = "+1 212 555 0199"


def uid_click(message_id: str = "wamid.UIDCLICK", at: int = CLICK_AT, clid: str = "CLID-UID") -> bytes:
    """An ad click from a username lead: user_id only, no wa_id, no from."""
    click = {"source_type": "ad", "source_id": "120226305854810726", "ctwa_clid": clid}
    return wh.encode(
        wh.webhook(
            {
                "contacts": [wh.contact(None, name="Ana", user_id=UID)],
                "messages": [wh.text_message(message_id, None, at, from_user_id=UID, referral=click)],
            }
        )
    )


def both_ids(message_id: str = "wamid.BOTH", at: int = CLICK_AT + 600) -> bytes:
    return wh.encode(
        wh.webhook(
            {
                "contacts": [wh.contact(PHONE, name="Ana", user_id=UID)],
                "messages": [wh.text_message(message_id, PHONE, at, from_user_id=UID)],
            }
        )
    )


def phone_only(message_id: str = "wamid.PHONE", at: int = CLICK_AT - 600) -> bytes:
    return wh.encode(
        wh.webhook(
            {
                "contacts": [wh.contact(PHONE, name="Ana")],
                "messages": [wh.text_message(message_id, PHONE, at)],
            }
        )
    )


def operator(
    harness: CaptureHarness, method: str, path: str, resource: str, contact_id: str, body: Any = None
) -> tuple[int, Any]:
    encoded = quote(contact_id, safe="")
    event = proxy_event(
        method,
        path.format(id=encoded),
        resource=resource,
        headers={"X-Api-Key": harness.env["API_KEY"], "Content-Type": "application/json"},
        path_parameters={"id": encoded},
        body=json.dumps(body).encode() if body is not None else None,
    )
    response = harness.invoke("operator_api", event)
    return response["statusCode"], json.loads(response["body"])


def get_contact(harness: CaptureHarness, contact_id: str) -> tuple[int, Any]:
    return operator(harness, "GET", "/contacts/{id}", "/contacts/{id}", contact_id)


def new_link(harness: CaptureHarness, contact_id: str, url: str = "https://shop.example/products/x") -> dict:
    status, body = operator(
        harness, "POST", "/contacts/{id}/links", "/contacts/{id}/links", contact_id, {"url": url}
    )
    assert status == 201, body
    return body


def post(world: AttributionHarness, body: bytes) -> None:
    world.whatsapp(body)


class TestOneContactPerPerson:
    @pytest.mark.parametrize(
        "arrival",
        [
            ("uid", "both"),
            ("both", "uid"),
            ("uid", "both", "uid", "both"),  # redelivery of both
            ("phone", "uid", "both"),
        ],
    )
    def test_any_order_of_arrival_gives_one_contact_found_by_either_id(
        self, world: AttributionHarness, arrival: tuple[str, ...]
    ) -> None:
        bodies = {"uid": uid_click(), "both": both_ids(), "phone": phone_only()}
        for name in arrival:
            post(world, bodies[name])
        by_phone = get_contact(world.capture, PHONE)
        by_uid = get_contact(world.capture, UID)
        assert by_phone == by_uid
        status, found = by_phone
        assert status == 200
        assert found["phone"] == PHONE
        assert found["user_id"] == UID
        assert found["messages"]["inbound"] == len(set(arrival))
        assert [r["ctwa_clid"] for r in found["referrals"]] == ["CLID-UID"]
        first = min({"uid": CLICK_AT, "both": CLICK_AT + 600, "phone": CLICK_AT - 600}[n] for n in arrival)
        assert found["first_seen_at"] == sc.iso(first).replace("+00:00", ".000Z")

    def test_the_merge_announces_no_second_contact(self, world: AttributionHarness) -> None:
        post(world, uid_click())
        post(world, both_ids())
        created = [e for e in world.capture.bus_events() if e["detail-type"] == "contact.created"]
        assert len(created) == 1

    def test_the_click_index_names_the_merged_contact_once(self, world: AttributionHarness) -> None:
        import boto3

        post(world, uid_click())
        post(world, both_ids())
        items = boto3.client("dynamodb").query(
            TableName=TABLE,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "CLID#CLID-UID"}},
        )["Items"]
        assert [item["contact_key"]["S"] for item in items] == [PHONE]


class TestLinkTokens:
    def test_a_link_carries_a_short_token_in_the_same_url(self, world: AttributionHarness) -> None:
        post(world, uid_click())
        link = new_link(world.capture, UID, "https://shop.example/products/x?variant=7#reviews")
        parts = urlsplit(link["url"])
        assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
            "https",
            "shop.example",
            "/products/x",
            "reviews",
        )
        assert parse_qs(parts.query) == {"variant": ["7"], "wac": [link["token"]]}
        assert 12 <= len(link["token"]) <= 16
        assert new_link(world.capture, UID)["token"] != link["token"]

    def test_unknown_contact_is_404_and_a_bad_url_is_422_naming_it(self, world: AttributionHarness) -> None:
        status, body = operator(
            world.capture,
            "POST",
            "/contacts/{id}/links",
            "/contacts/{id}/links",
            UID,
            {"url": "https://x.test"},
        )
        assert status == 404, body
        post(world, uid_click())
        for bad in ({"url": "javascript:alert(1)"}, {"url": 7}, {}, {"url": "https://x.test", "extra": 1}):
            status, body = operator(
                world.capture, "POST", "/contacts/{id}/links", "/contacts/{id}/links", UID, bad
            )
            assert status == 422, (bad, body)
            assert "url" in json.dumps(body) or "extra" in json.dumps(body)

    def test_an_order_with_the_token_is_credited_to_the_username_leads_click(
        self, world: AttributionHarness
    ) -> None:
        post(world, uid_click())
        token = new_link(world.capture, UID)["token"]
        order = sc.order(order_id=9101, created_at=CLICK_AT + sc.DAY, phone=SOMEONE_ELSE)
        order["landing_site"] = f"/products/x?wac={token}&utm_source=whatsapp"
        world.order(order)
        status, view = world.get_order(9101)
        assert status == 200
        attribution = view["attribution"]
        assert attribution["status"] == "attributed"
        assert attribution["model"] == "link_token"
        assert attribution["ctwa_clid"] == "CLID-UID"
        assert attribution["contact_key"] == f"uid:{UID}"
        assert attribution["keys_tried"] == [{"key": "token", "outcome": "matched"}]
        event = only(world.conversion_events(), "conversion.attributed")
        requests = destination_requests(event)
        meta = requests["meta"].event
        assert meta["user_data"]["ctwa_clid"] == "CLID-UID"
        assert "ph" not in meta["user_data"]  # the order's phone is someone else's
        assert meta["user_data"]["em"]  # the order's email, hashed
        for name in ("wax", "cm", "dialog360"):
            assert isinstance(requests[name], str) and requests[name].startswith("no_phone"), requests[name]

    def test_a_token_beats_a_phone_match(self, world: AttributionHarness) -> None:
        world.whatsapp(sc.referral_webhook("12125550199", CLICK_AT, "CLID-PHONE", "wamid.OTHER"))
        post(world, uid_click())
        token = new_link(world.capture, UID)["token"]
        order = sc.order(order_id=9102, created_at=CLICK_AT + sc.DAY, phone=SOMEONE_ELSE)
        order["note_attributes"] = [{"name": "wac", "value": token}]
        world.order(order)
        attribution = world.get_order(9102)[1]["attribution"]
        assert (attribution["model"], attribution["ctwa_clid"]) == ("link_token", "CLID-UID")

    def test_a_token_issued_before_the_merge_finds_the_merged_contact(
        self, world: AttributionHarness
    ) -> None:
        post(world, uid_click())
        token = new_link(world.capture, UID)["token"]
        post(world, both_ids())
        order = sc.order(order_id=9103, created_at=CLICK_AT + sc.DAY, phone=None)
        order["note"] = f"Gift wrap please. wac={token}"
        world.order(order)
        attribution = world.get_order(9103)[1]["attribution"]
        assert attribution["contact_key"] == PHONE
        assert attribution["model"] == "link_token"
        event = only(world.conversion_events(), "conversion.attributed")
        assert destination_requests(event)["wax"].body["phone_number"] == PHONE

    def test_an_expired_or_unknown_token_is_ignored_with_the_reason(self, world: AttributionHarness) -> None:
        world.whatsapp(sc.referral_webhook(PHONE, CLICK_AT, "CLID-PHONE", "wamid.P1"))
        token = new_link(world.capture, PHONE)["token"]
        # LinkTokenDays defaults to 30: an order placed 31 days after the link was made
        late = sc.order(order_id=9104, created_at=int(time.time()) + 31 * sc.DAY, phone=SOMEONE_ELSE)
        late["landing_site"] = f"https://shop.example/?wac={token}"
        world.order(late)
        attribution = world.get_order(9104)[1]["attribution"]
        assert attribution["keys_tried"] == [
            {"key": "token", "outcome": "expired"},
            {"key": "phone", "outcome": "no_contact"},
            {"key": "email", "outcome": "no_contact"},
        ]
        assert attribution["status"] == "unattributed"
        guessed = sc.order(order_id=9105, created_at=CLICK_AT + sc.DAY, phone=PHONE)
        guessed["referring_site"] = "https://l.wl.co/l?u=https%3A%2F%2Fshop.example%2F&wac=AAAAAAAAAAAA"
        world.order(guessed)
        attribution = world.get_order(9105)[1]["attribution"]
        assert attribution["keys_tried"] == [
            {"key": "token", "outcome": "unknown"},
            {"key": "phone", "outcome": "matched"},
        ]
        assert (attribution["status"], attribution["model"]) == ("attributed", "last_touch")


def number_change(old: str, new: str, at: int, message_id: str = "wamid.SYS") -> bytes:
    """Meta's system message when a user moves to a new number (the old number in `from`)."""
    system = {"body": "Ana changed from one number to another", "wa_id": new, "type": "user_changed_number"}
    return wh.encode(
        wh.webhook(
            {
                "contacts": [wh.contact(old, name="Ana")],
                "messages": [
                    {"id": message_id, "from": old, "timestamp": str(at), "type": "system", "system": system}
                ],
            }
        )
    )


class TestNumberChange:
    NEW = "16505559876"

    def test_the_contact_moves_to_the_new_number_and_the_old_one_still_finds_it(
        self, world: AttributionHarness
    ) -> None:
        world.whatsapp(sc.referral_webhook(PHONE, CLICK_AT, "CLID-OLD", "wamid.O1"))
        change = number_change(PHONE, self.NEW, CLICK_AT + 3600)
        post(world, change)
        post(world, change)  # redelivered
        status, moved = get_contact(world.capture, self.NEW)
        assert status == 200
        assert moved["phone"] == self.NEW
        assert moved["messages"]["inbound"] == 2
        assert [r["ctwa_clid"] for r in moved["referrals"]] == ["CLID-OLD"]
        assert get_contact(world.capture, PHONE) == (200, moved)
        # an order still typed with the old number is credited to the contact under its new one
        world.order(sc.order(order_id=9201, created_at=CLICK_AT + sc.DAY, phone=f"+{PHONE}"))
        attribution = world.get_order(9201)[1]["attribution"]
        assert (attribution["status"], attribution["contact_key"]) == ("attributed", self.NEW)


def shared_contact(phone: str, *, origin: str | None, message_id: str, at: int) -> bytes:
    """A `contacts` message from the username lead (user id only), carrying a phone."""
    card: dict[str, Any] = {
        "name": {"formatted_name": "Ana"},
        "phones": [{"phone": f"+{phone}", "type": "CELL"}],
    }
    if origin:
        card["origin"] = origin
    message = {
        "id": message_id,
        "from_user_id": UID,
        "timestamp": str(at),
        "type": "contacts",
        "contacts": [card],
    }
    return wh.encode(
        wh.webhook({"contacts": [wh.contact(None, name="Ana", user_id=UID)], "messages": [message]})
    )


class TestPhoneSharedInTheChat:
    def test_the_phone_asked_for_in_the_chat_joins_the_contact_and_orders_with_it_match(
        self, world: AttributionHarness
    ) -> None:
        post(world, uid_click())
        post(world, shared_contact(PHONE, origin="contact_request", message_id="wamid.CR", at=CLICK_AT + 60))
        status, found = get_contact(world.capture, PHONE)
        assert status == 200
        assert (found["user_id"], found["phone_source"]) == (UID, "contact_request")
        assert get_contact(world.capture, UID) == (200, found)
        world.order(sc.order(order_id=9301, created_at=CLICK_AT + sc.DAY, phone=f"+{PHONE}"))
        attribution = world.get_order(9301)[1]["attribution"]
        assert (attribution["status"], attribution["ctwa_clid"]) == ("attributed", "CLID-UID")

    def test_a_contact_card_the_user_merely_shares_is_not_taken_as_theirs(
        self, world: AttributionHarness
    ) -> None:
        post(world, uid_click())
        post(world, shared_contact(PHONE, origin=None, message_id="wamid.CARD", at=CLICK_AT + 60))
        assert get_contact(world.capture, PHONE)[0] == 404
        assert get_contact(world.capture, UID)[1]["phone"] is None


def crm_event(event: str, phone: str, message_id: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "userId": f"+{phone}",
        "timestamp": "2026-06-01T10:00:00Z",
        "messageId": message_id,
        "context": {"channel": "whatsapp"},
        "properties": properties,
    }


def post_capture(harness: CaptureHarness, *items: dict[str, Any]) -> int:
    event = proxy_event(
        "POST",
        "/v1/capture",
        body=json.dumps({"batch": list(items)}).encode(),
        headers={"Content-Type": "application/json", "X-Api-Key": harness.env["API_KEY"]},
    )
    status: int = harness.invoke("capture_api", event)["statusCode"]
    return status


class TestEmail:
    def test_an_order_whose_email_the_crm_gave_for_one_contact_is_attributed_by_email(
        self, world: AttributionHarness
    ) -> None:
        world.whatsapp(sc.referral_webhook(PHONE, CLICK_AT, "CLID-MAIL", "wamid.M1"))
        assert (
            post_capture(
                world.capture, crm_event("contact.updated", PHONE, "crm-1", email="Bob.Norman@hostmail.com ")
            )
            == 200
        )
        # the fixture order's email is bob.norman@hostmail.com; its phone is someone else's
        world.order(sc.order(order_id=9401, created_at=CLICK_AT + sc.DAY, phone=SOMEONE_ELSE))
        attribution = world.get_order(9401)[1]["attribution"]
        assert (attribution["status"], attribution["model"], attribution["ctwa_clid"]) == (
            "attributed",
            "email",
            "CLID-MAIL",
        )
        assert attribution["keys_tried"][-2:] == [
            {"key": "phone", "outcome": "no_contact"},
            {"key": "email", "outcome": "matched"},
        ]

    def test_an_email_known_for_two_contacts_matches_neither(self, world: AttributionHarness) -> None:
        world.whatsapp(sc.referral_webhook(PHONE, CLICK_AT, "CLID-MAIL", "wamid.M1"))
        assert (
            post_capture(
                world.capture,
                crm_event("contact.created", PHONE, "crm-1", email="bob.norman@hostmail.com"),
                crm_event("contact.updated", "16505550000", "crm-2", email="bob.norman@hostmail.com"),
            )
            == 200
        )
        world.order(sc.order(order_id=9402, created_at=CLICK_AT + sc.DAY, phone=SOMEONE_ELSE))
        attribution = world.get_order(9402)[1]["attribution"]
        assert attribution["status"] == "unattributed"
        assert attribution["keys_tried"][-1] == {"key": "email", "outcome": "ambiguous"}


def crm_item(event: str, user_id: str, message_id: str, **properties: Any) -> dict[str, Any]:
    return {**crm_event(event, PHONE, message_id), "userId": user_id, "properties": properties}


class TestCrmGivesThePhone:
    def test_a_phone_the_crm_gives_for_a_username_lead_joins_the_contact_marked_crm(
        self, world: AttributionHarness
    ) -> None:
        post(world, uid_click())
        item = crm_item("contact.updated", UID, "crm-p1", phone=f"+1 (650) 555-{PHONE[-4:]}")
        assert post_capture(world.capture, item) == 200
        assert post_capture(world.capture, item) == 200  # redelivered: the same contact
        status, found = get_contact(world.capture, PHONE)
        assert status == 200
        assert (found["phone"], found["user_id"], found["phone_source"]) == (PHONE, UID, "crm")
        assert [r["ctwa_clid"] for r in found["referrals"]] == ["CLID-UID"]
        assert get_contact(world.capture, UID) == (200, found)
        world.order(sc.order(order_id=9501, created_at=CLICK_AT + sc.DAY, phone=f"+{PHONE}"))
        attribution = world.get_order(9501)[1]["attribution"]
        assert (attribution["status"], attribution["ctwa_clid"]) == ("attributed", "CLID-UID")

    def test_a_contact_with_a_phone_keeps_its_own(self, world: AttributionHarness) -> None:
        post(world, both_ids())
        item = crm_item("contact.updated", UID, "crm-p2", phone="+16505550000")
        assert post_capture(world.capture, item) == 200
        assert get_contact(world.capture, UID)[1]["phone"] == PHONE
        assert get_contact(world.capture, "16505550000")[0] == 404

    def test_an_email_the_crm_gives_for_a_username_lead_attributes_its_orders(
        self, world: AttributionHarness
    ) -> None:
        post(world, uid_click())
        item = crm_item("contact.created", UID, "crm-e1", email="bob.norman@hostmail.com")
        assert post_capture(world.capture, item) == 200
        world.order(sc.order(order_id=9502, created_at=CLICK_AT + sc.DAY, phone=SOMEONE_ELSE))
        attribution = world.get_order(9502)[1]["attribution"]
        assert (attribution["status"], attribution["model"], attribution["ctwa_clid"]) == (
            "attributed",
            "email",
            "CLID-UID",
        )

    def test_a_phone_that_is_not_one_is_rejected_naming_it(self, world: AttributionHarness) -> None:
        event = proxy_event(
            "POST",
            "/v1/capture",
            body=json.dumps({"batch": [crm_item("contact.updated", UID, "crm-p3", phone="me")]}).encode(),
            headers={"Content-Type": "application/json", "X-Api-Key": world.capture.env["API_KEY"]},
        )
        response = world.capture.invoke("capture_api", event)
        assert response["statusCode"] == 422
        assert json.loads(response["body"])["errors"][0]["field"] == "properties.phone"


class TestTheMergeCarriesOrdersAndCounters:
    def test_the_merge_is_announced_once_for_the_aggregator(self, world: AttributionHarness) -> None:
        post(world, uid_click())
        world.capture.bus_events()
        post(world, both_ids())
        post(world, both_ids(message_id="wamid.BOTH2", at=CLICK_AT + 900))  # both ids again: no new merge
        merged = [e for e in world.capture.bus_events() if e["detail-type"] == "contact.merged"]
        expected = {"contactKey": PHONE, "mergedFrom": f"uid:{UID}"}
        assert [e["detail"]["properties"] for e in merged] == [expected]

    def test_an_order_credited_before_the_merge_follows_the_contact_and_its_phone(
        self, world: AttributionHarness
    ) -> None:
        post(world, uid_click())
        token = new_link(world.capture, UID)["token"]
        placed = sc.order(order_id=9601, created_at=CLICK_AT + sc.DAY, phone=SOMEONE_ELSE)
        placed["landing_site"] = f"/products/x?wac={token}"
        world.order(placed)
        assert world.get_order(9601)[1]["attribution"]["contact_key"] == f"uid:{UID}"
        post(world, both_ids())
        world.conversion_events()
        world.order(placed, "orders/paid")
        paid = only(world.conversion_events(), "order.paid")
        properties = paid["detail"]["properties"]
        assert (properties["contactKey"], properties["phone"]) == (PHONE, PHONE)
        assert world.get_order(9601)[1]["attribution"]["contact_key"] == PHONE
