"""attribution.engine: which contact a conversion belongs to and which click gets the credit, for the
cases the scenario tests leave out: the token limit, tokens of vanished contacts, clicks known only by
their ad, the conversation window's edges, and the email fallback's outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from wa_conversions.attribution.domain import Attribution, AttributionStatus, UnmatchedReason
from wa_conversions.attribution.engine import (
    DAY_SECONDS,
    MAX_TOKENS,
    UNLIMITED,
    Windows,
    attribute,
    attribute_contact,
    attribute_order,
)
from wa_conversions.attribution.phones import ResolvedPhones

AT = 1_760_000_000
WA_ID = "5511987654321"
PHONES = ResolvedPhones(e164=WA_ID, keys=(WA_ID, "551187654321"), found_any=True)
NONE = ResolvedPhones(e164=None, keys=(), found_any=False)
WEEK = Windows.of_days(7, 7)


@dataclass
class Recorded:
    """A contact history in memory that notes which questions the engine asked."""

    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    emails: dict[str, list[str]] = field(default_factory=dict)
    clicks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    messages: dict[str, list[int]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def find_contact(self, contact_keys: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
        self.asked.append(f"contact {','.join(contact_keys)}")
        key = next((k for k in contact_keys if k in self.contacts), None)
        return (key, self.contacts[key]) if key else None

    def link_token(self, token: str) -> dict[str, Any] | None:
        self.asked.append(f"token {token}")
        return self.links.get(token)

    def contacts_with_email(self, email: str) -> list[str]:
        self.asked.append(f"email {email}")
        return self.emails.get(email, [])[:2]

    def referrals(self, contact_key: str) -> list[dict[str, Any]]:
        return sorted(self.clicks.get(contact_key, []), key=lambda r: -int(r["received_at"]))

    def inbound_between(self, contact_key: str, start: int, end: int) -> bool:
        self.asked.append(f"inbound {contact_key}")
        return any(start <= t <= end for t in self.messages.get(contact_key, []))


def profile(first_seen: int, last_inbound: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"first_seen_at": first_seen}
    if last_inbound is not None:
        found["last_inbound_at"] = last_inbound
    return found


def test_windows_are_given_in_days() -> None:
    assert Windows.of_days(7, 28) == Windows(click=7 * DAY_SECONDS, conversation=28 * DAY_SECONDS)


# -- link tokens ---------------------------------------------------------------------------------


def test_only_the_first_tokens_of_an_order_are_looked_up() -> None:
    tokens = [f"tok{n:09d}" for n in range(MAX_TOKENS + 2)]
    history = Recorded(links={tokens[-1]: {"contact_key": WA_ID, "valid_until": AT}}, contacts={WA_ID: {}})

    found = attribute_order(tokens, NONE, AT, history, WEEK)

    assert [q for q in history.asked if q.startswith("token")] == [f"token {t}" for t in tokens[:MAX_TOKENS]]
    assert found.contact_key is None
    assert found.keys_tried[:MAX_TOKENS] == (("token", "unknown"),) * MAX_TOKENS


def test_a_token_whose_contact_is_gone_is_unknown_and_the_phone_decides() -> None:
    history = Recorded(
        links={
            "Jx3k9QzLw0aB": {"contact_key": "uid:BR.77", "valid_until": AT + DAY_SECONDS, "ctwa_clid": "OLD"}
        },
        contacts={WA_ID: profile(AT - DAY_SECONDS, AT - DAY_SECONDS)},
    )

    found = attribute_order(["Jx3k9QzLw0aB"], PHONES, AT, history, WEEK)

    assert (found.contact_key, found.model, found.ctwa_clid) == (WA_ID, "last_touch", None)
    assert found.keys_tried == (("token", "unknown"), ("phone", "matched"))


def test_a_token_valid_until_the_very_second_of_the_order_still_counts() -> None:
    link = {
        "contact_key": WA_ID,
        "valid_until": AT,
        "ctwa_clid": "ARAkLkA8rmlF",
        "source_id": "120226305854810726",
        "clicked_at": AT - 30 * DAY_SECONDS,
        "referral_message_id": "wamid.HBgN",
    }
    history = Recorded(links={"Jx3k9QzLw0aB": link}, contacts={WA_ID: {}})

    found = attribute_order(["Jx3k9QzLw0aB"], NONE, AT, history, WEEK)

    # The link names the click current when it was sent, however old it is now.
    assert found == Attribution(
        AttributionStatus.ATTRIBUTED,
        None,
        WA_ID,
        ctwa_clid="ARAkLkA8rmlF",
        source_id="120226305854810726",
        clicked_at=AT - 30 * DAY_SECONDS,
        referral_message_id="wamid.HBgN",
        model="link_token",
        keys_tried=(("token", "matched"),),
    )


def test_a_token_for_a_merged_contact_credits_the_contact_it_leads_to() -> None:
    class Merged(Recorded):
        def find_contact(self, contact_keys: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
            return (WA_ID, {}) if list(contact_keys) == ["uid:BR.77"] else None

    history = Merged(
        links={"Jx3k9QzLw0aB": {"contact_key": "uid:BR.77", "valid_until": AT, "source_id": "AD"}}
    )

    found = attribute_order(["Jx3k9QzLw0aB"], NONE, AT, history, WEEK)

    assert (found.contact_key, found.status, found.source_id) == (WA_ID, AttributionStatus.ATTRIBUTED, "AD")


# -- clicks --------------------------------------------------------------------------------------


def test_a_click_known_by_its_ad_alone_gets_the_credit() -> None:
    # Some referrals carry no ctwa_clid (older ads, some placements): source_type "ad" says it was one.
    history = Recorded(
        contacts={WA_ID: profile(AT - DAY_SECONDS)},
        clicks={WA_ID: [{"received_at": AT - DAY_SECONDS, "source_type": "ad", "source_id": "AD-9"}]},
    )

    found = attribute(PHONES, AT, history, WEEK)

    assert (found.status, found.ctwa_clid, found.source_id, found.clicked_at) == (
        AttributionStatus.ATTRIBUTED,
        None,
        "AD-9",
        AT - DAY_SECONDS,
    )


def test_a_referral_from_a_post_is_no_ad_click() -> None:
    history = Recorded(
        contacts={WA_ID: profile(AT - DAY_SECONDS, AT - DAY_SECONDS)},
        clicks={WA_ID: [{"received_at": AT - DAY_SECONDS, "source_type": "post", "source_id": "POST-1"}]},
    )

    found = attribute(PHONES, AT, history, WEEK)

    assert (found.status, found.reason, found.source_id) == (
        AttributionStatus.WHATSAPP_INFLUENCED,
        UnmatchedReason.NO_REFERRAL,
        None,
    )


def test_the_newest_click_before_the_conversion_wins_even_when_outside_the_window() -> None:
    # An older click inside no window cannot win over the last touch: the reason is outside_window.
    history = Recorded(
        contacts={WA_ID: profile(AT - 30 * DAY_SECONDS)},
        clicks={
            WA_ID: [
                {"received_at": AT - 30 * DAY_SECONDS, "ctwa_clid": "FIRST"},
                {"received_at": AT - 8 * DAY_SECONDS, "ctwa_clid": "LAST"},
            ]
        },
    )

    found = attribute(PHONES, AT, history, WEEK)

    assert (found.status, found.reason, found.ctwa_clid) == (
        AttributionStatus.UNATTRIBUTED,
        UnmatchedReason.OUTSIDE_WINDOW,
        None,
    )
    assert attribute(PHONES, AT, history, Windows.of_days(9, 7)).ctwa_clid == "LAST"


@pytest.mark.parametrize(
    ("phones", "reason"),
    [
        (NONE, UnmatchedReason.NO_PHONE),
        (ResolvedPhones(e164=None, keys=(), found_any=True), UnmatchedReason.UNPARSEABLE_PHONE),
    ],
)
def test_without_a_usable_phone_no_contact_is_looked_up(
    phones: ResolvedPhones, reason: UnmatchedReason
) -> None:
    history = Recorded(contacts={WA_ID: {}})

    found = attribute(phones, AT, history, WEEK)

    assert (found.status, found.reason, found.contact_key) == (AttributionStatus.UNATTRIBUTED, reason, None)
    assert history.asked == []


def test_every_whatsapp_form_of_the_phone_is_asked_for_at_once() -> None:
    history = Recorded(contacts={"551187654321": profile(AT - 60, AT - 60)})

    found = attribute(PHONES, AT, history, WEEK)

    assert history.asked[0] == f"contact {WA_ID},551187654321"
    assert found.contact_key == "551187654321"


# -- the conversation window ---------------------------------------------------------------------


def test_a_contact_who_first_wrote_after_the_conversion_did_not_influence_it() -> None:
    history = Recorded(messages={WA_ID: [AT + 60]})

    found = attribute_contact(WA_ID, profile(AT + 60, AT + 60), AT, history, UNLIMITED)

    assert (found.status, found.reason) == (AttributionStatus.UNATTRIBUTED, UnmatchedReason.NO_REFERRAL)


def test_without_a_conversation_window_any_earlier_contact_influenced_it() -> None:
    found = attribute_contact(WA_ID, profile(AT - 400 * DAY_SECONDS), AT, Recorded(), UNLIMITED)

    assert (found.status, found.contact_key) == (AttributionStatus.WHATSAPP_INFLUENCED, WA_ID)


@pytest.mark.parametrize(
    ("last_inbound", "status"),
    [
        (AT - 7 * DAY_SECONDS, AttributionStatus.WHATSAPP_INFLUENCED),
        (AT, AttributionStatus.WHATSAPP_INFLUENCED),
        (AT - 7 * DAY_SECONDS - 1, AttributionStatus.UNATTRIBUTED),
        (None, AttributionStatus.UNATTRIBUTED),
    ],
)
def test_the_last_message_must_lie_within_the_conversation_window(
    last_inbound: int | None, status: AttributionStatus
) -> None:
    history = Recorded()

    found = attribute_contact(WA_ID, profile(AT - 30 * DAY_SECONDS, last_inbound), AT, history, WEEK)

    assert found.status is status
    assert history.asked == []  # the profile alone told


def test_a_contact_who_wrote_again_later_is_looked_up_and_found_silent_in_the_window() -> None:
    history = Recorded(messages={WA_ID: [AT - 20 * DAY_SECONDS, AT + DAY_SECONDS]})

    found = attribute_contact(WA_ID, profile(AT - 20 * DAY_SECONDS, AT + DAY_SECONDS), AT, history, WEEK)

    assert found.status is AttributionStatus.UNATTRIBUTED
    assert history.asked == [f"inbound {WA_ID}"]


# -- the email fallback --------------------------------------------------------------------------


def test_an_email_contact_with_a_click_in_the_window_is_attributed_by_email() -> None:
    history = Recorded(
        contacts={"uid:BR.77": profile(AT - DAY_SECONDS)},
        emails={"ana@example.com": ["uid:BR.77"]},
        clicks={"uid:BR.77": [{"received_at": AT - DAY_SECONDS, "ctwa_clid": "ARAkLkA8rmlF"}]},
    )

    found = attribute_order([], PHONES, AT, history, WEEK, "ana@example.com")

    assert (found.status, found.model, found.contact_key, found.ctwa_clid) == (
        AttributionStatus.ATTRIBUTED,
        "email",
        "uid:BR.77",
        "ARAkLkA8rmlF",
    )


@pytest.mark.parametrize(
    ("email", "emails", "outcome"),
    [
        ("   ", {}, "no_email"),
        (None, {}, "no_email"),
        ("ana@example.com", {}, "no_contact"),
        ("ana@example.com", {"ana@example.com": ["uid:GONE"]}, "no_contact"),
    ],
)
def test_an_email_that_names_no_contact_says_why(
    email: str | None, emails: dict[str, list[str]], outcome: str
) -> None:
    found = attribute_order([], NONE, AT, Recorded(emails=emails), WEEK, email)

    assert (found.status, found.reason) == (AttributionStatus.UNATTRIBUTED, UnmatchedReason.NO_PHONE)
    assert found.keys_tried == (("token", "not_in_order"), ("phone", "no_phone"), ("email", outcome))


def test_a_phone_contact_is_kept_even_when_unattributed_and_no_email_is_asked() -> None:
    history = Recorded(contacts={WA_ID: profile(AT - 90 * DAY_SECONDS, AT - 90 * DAY_SECONDS)})

    found = attribute_order(["Jx3k9QzLw0aB"], PHONES, AT, history, WEEK, "ana@example.com")

    assert (found.status, found.contact_key) == (AttributionStatus.UNATTRIBUTED, WA_ID)
    assert found.keys_tried == (("token", "unknown"), ("phone", "matched"))
    assert not any(q.startswith("email") for q in history.asked)
