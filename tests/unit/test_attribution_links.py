"""attribution.links: POST /contacts/{id}/links against the table in moto. The token is bound to the
contact's current ad click and conversation, stored with its validity and how long it stays readable,
and the order side reads it back to credit that click."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import ValidationError

from tests.support import attribution_store as shared
from tests.support.attribution_store import Store
from wa_conversions.attribution.engine import Windows, attribute_order
from wa_conversions.attribution.links import (
    DAY_SECONDS,
    EXPIRED_KEPT_SECONDS,
    LinkRequest,
    current_click,
    issue_link,
    tag_url,
)
from wa_conversions.attribution.phones import ResolvedPhones
from wa_conversions.errors import NotFoundError
from wa_conversions.store import keys

NOW = 1_760_000_000  # 2025-10-09T08:53:20Z
WA_ID = "16505551234"
PRODUCT = "https://wa-conversions-dev.myshopify.com/products/ipod-nano?variant=39072856"


# the helper's fixtures: one moto table for the file, emptied for each test
attribution_moto = shared.attribution_moto
store = shared.store


def stored_link(store: Store, token: str) -> dict[str, Any]:
    item = store.attribution.link_token(token)
    assert item is not None
    return item


def test_a_link_carries_a_fresh_token_and_says_until_when_it_is_valid(store: Store) -> None:
    store.contact(WA_ID, first_seen=NOW - DAY_SECONDS)

    view = issue_link(store.capture, WA_ID, {"url": PRODUCT}, now=NOW, valid_days=30)

    parts = urlsplit(view.url)
    assert (parts.netloc, parts.path) == ("wa-conversions-dev.myshopify.com", "/products/ipod-nano")
    assert parse_qsl(parts.query) == [("variant", "39072856"), ("wac", view.token)]
    assert view.expires_at == "2025-11-08T08:53:20.000Z"


def test_the_token_is_bound_to_the_contacts_newest_ad_click_and_conversation(store: Store) -> None:
    store.contact(WA_ID, first_seen=NOW - 9 * DAY_SECONDS, last_inbound=NOW - 60)
    store.click(WA_ID, NOW - 9 * DAY_SECONDS, "CLID-OLD")
    store.click(WA_ID, NOW - 2 * DAY_SECONDS, "CLID-NEW", source_id="120226305854810999")

    view = issue_link(store.capture, WA_ID, {"url": PRODUCT}, now=NOW, valid_days=7)

    link = stored_link(store, view.token)
    assert {
        k: link[k] for k in ("contact_key", "ctwa_clid", "source_id", "clicked_at", "referral_message_id")
    } == {
        "contact_key": WA_ID,
        "ctwa_clid": "CLID-NEW",
        "source_id": "120226305854810999",
        "clicked_at": NOW - 2 * DAY_SECONDS,
        "referral_message_id": "wamid.CLID-NEW",
    }
    assert (link["conversation_at"], link["issued_at"]) == (NOW - 60, NOW)
    assert link["valid_until"] == NOW + 7 * DAY_SECONDS
    # kept readable past its validity, so a late order is told "expired", not "unknown"
    assert link["expires_at"] == NOW + 7 * DAY_SECONDS + EXPIRED_KEPT_SECONDS


def test_a_contact_who_never_clicked_an_ad_gets_a_link_without_a_click(store: Store) -> None:
    store.contact("uid:US.13491208655302741918", first_seen=NOW - 60, user_id="US.13491208655302741918")

    view = issue_link(store.capture, "uid:US.13491208655302741918", {"url": PRODUCT}, now=NOW, valid_days=7)

    link = stored_link(store, view.token)
    assert (link["contact_key"], link["user_id"]) == (
        "uid:US.13491208655302741918",
        "US.13491208655302741918",
    )
    assert "ctwa_clid" not in link and "clicked_at" not in link


@pytest.mark.parametrize("contact_key", ["19995550000", None])
def test_an_unknown_contact_is_a_404_and_nothing_is_stored(store: Store, contact_key: str | None) -> None:
    with pytest.raises(NotFoundError, match="No such contact") as refused:
        issue_link(store.capture, contact_key, {"url": PRODUCT}, now=NOW, valid_days=7)

    assert refused.value.status_code == 404
    assert store.items() == []


@pytest.mark.parametrize(
    "body", [None, {}, {"url": "/products/x"}, {"url": PRODUCT, "utm": "x"}, {"url": ["https://a.test/"]}]
)
def test_a_body_that_is_not_one_absolute_url_is_refused(store: Store, body: Any) -> None:
    store.contact(WA_ID, first_seen=NOW)

    with pytest.raises(ValidationError):
        issue_link(store.capture, WA_ID, body, now=NOW, valid_days=7)
    assert [i["item_type"] for i in store.items()] == ["contact"]


def test_the_issued_token_credits_its_click_to_an_order_placed_with_another_phone(store: Store) -> None:
    store.contact(WA_ID, first_seen=NOW - DAY_SECONDS)
    store.click(WA_ID, NOW - DAY_SECONDS, "CLID-LINK")
    view = issue_link(store.capture, WA_ID, {"url": PRODUCT}, now=NOW, valid_days=7)
    someone_else = ResolvedPhones(e164="12125550199", keys=("12125550199",), found_any=True)

    found = attribute_order(
        [view.token], someone_else, NOW + DAY_SECONDS, store.attribution, Windows.of_days(7, 7)
    )
    late = attribute_order(
        [view.token], someone_else, NOW + 8 * DAY_SECONDS, store.attribution, Windows.of_days(7, 7)
    )

    assert (found.contact_key, found.ctwa_clid, found.model) == (WA_ID, "CLID-LINK", "link_token")
    assert late.keys_tried[0] == ("token", "expired")


def test_the_token_is_stored_under_its_own_key(store: Store) -> None:
    store.contact(WA_ID, first_seen=NOW)
    view = issue_link(store.capture, WA_ID, {"url": PRODUCT}, now=NOW, valid_days=1)

    [link] = [i for i in store.items() if i["item_type"] == "link_token"]
    assert (link["pk"], link["sk"]) == (keys.link_token_pk(view.token), keys.LINK)


def test_the_newest_referral_that_was_an_ad_is_the_current_click() -> None:
    referrals = [
        {"source_type": "post", "source_id": "POST", "received_at": 30},
        {"source_type": "ad", "source_id": "AD-2", "received_at": 20},
        {"ctwa_clid": "CLID-1", "received_at": 10},
    ]
    assert current_click(referrals) == referrals[1]
    assert current_click(referrals[:1]) is None
    assert current_click([]) is None


def test_a_url_is_taken_trimmed() -> None:
    assert LinkRequest.model_validate({"url": f"  {PRODUCT}\n"}).url == PRODUCT


def test_a_url_longer_than_a_browser_takes_is_refused() -> None:
    with pytest.raises(ValidationError, match="url"):
        LinkRequest.model_validate({"url": "https://a.test/?q=" + "x" * 2048})


def test_tagging_keeps_blank_parameters_and_tags_a_url_without_a_query() -> None:
    assert (
        tag_url("https://a.test/p?gift=&ref=wa", "Jx3k9QzLw0aB")
        == "https://a.test/p?gift=&ref=wa&wac=Jx3k9QzLw0aB"
    )
    assert tag_url("https://a.test/p#reviews", "Jx3k9QzLw0aB") == "https://a.test/p?wac=Jx3k9QzLw0aB#reviews"
