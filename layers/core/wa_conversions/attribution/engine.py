"""Last-touch attribution: which WhatsApp contact a conversion belongs to, and which ad click gets the
credit.

The contact's most recent Click-to-WhatsApp click before the conversion wins when it lies within the
click window (Meta's Conversions API refuses events more than 7 days after the click). A contact who
messaged within the conversation window without a click in range still makes the conversion
WhatsApp-influenced. Anything else is unattributed, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .domain import EMAIL, LINK_TOKEN, Attribution, AttributionStatus, TokenOutcome, UnmatchedReason
from .phones import ResolvedPhones

DAY_SECONDS = 86_400


class ContactHistory(Protocol):
    def find_contact(self, contact_keys: Sequence[str]) -> tuple[str, dict[str, Any]] | None: ...

    def link_token(self, token: str) -> dict[str, Any] | None: ...

    def contacts_with_email(self, email: str) -> list[str]: ...

    def referrals(self, contact_key: str) -> list[dict[str, Any]]: ...

    def inbound_between(self, contact_key: str, start: int, end: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class Windows:
    """Seconds before the conversion; None means no limit (off-thread events go to the last
    conversation however old)."""

    click: int | None
    conversation: int | None

    @classmethod
    def of_days(cls, click_days: int, conversation_days: int) -> Windows:
        return cls(click=click_days * DAY_SECONDS, conversation=conversation_days * DAY_SECONDS)


UNLIMITED = Windows(click=None, conversation=None)
# An order carrying more tokens than this is not a customer's: the rest are not looked up.
MAX_TOKENS = 3


def attribute_order(
    tokens: Sequence[str],
    phones: ResolvedPhones,
    at: int,
    history: ContactHistory,
    windows: Windows,
    email: str | None = None,
) -> Attribution:
    """A link token the business handed out in the chat beats any phone on the order (docs/shopify.md,
    "Link tokens"): it names the contact and the ad click current when the link was sent. An unknown
    or expired token is passed over, and said so in keys_tried."""
    tried: list[tuple[str, str]] = []
    for token in tokens[:MAX_TOKENS]:
        link = history.link_token(token)
        if link is None:
            tried.append(("token", TokenOutcome.UNKNOWN.value))
            continue
        if int(link.get("valid_until", 0)) < at:
            tried.append(("token", TokenOutcome.EXPIRED.value))
            continue
        found = history.find_contact([str(link["contact_key"])])
        if found is None:
            tried.append(("token", TokenOutcome.UNKNOWN.value))
            continue
        tried.append(("token", TokenOutcome.MATCHED.value))
        clicked = link.get("clicked_at")
        has_click = bool(link.get("ctwa_clid") or link.get("source_id"))
        return Attribution(
            AttributionStatus.ATTRIBUTED if has_click else AttributionStatus.WHATSAPP_INFLUENCED,
            None if has_click else UnmatchedReason.NO_REFERRAL,
            found[0],
            ctwa_clid=link.get("ctwa_clid"),
            source_id=link.get("source_id"),
            clicked_at=int(clicked) if clicked is not None else None,
            referral_message_id=link.get("referral_message_id"),
            model=LINK_TOKEN,
            keys_tried=tuple(tried),
        )
    if not tokens:
        tried.append(("token", TokenOutcome.NOT_IN_ORDER.value))
    by_phone = attribute(phones, at, history, windows)
    phone_outcome = (
        "matched" if by_phone.contact_key else (by_phone.reason or UnmatchedReason.NO_CONTACT).value
    )
    tried.append(("phone", phone_outcome))
    if by_phone.contact_key is None:
        # Nothing better matched: an email the CRM gave for exactly one contact names the buyer.
        by_email, outcome = _by_email(email, at, history, windows)
        tried.append(("email", outcome))
        if by_email is not None:
            return replace(by_email, keys_tried=tuple(tried))
    return replace(by_phone, keys_tried=tuple(tried))


def _by_email(
    email: str | None, at: int, history: ContactHistory, windows: Windows
) -> tuple[Attribution | None, str]:
    if not email or not email.strip():
        return None, "no_email"
    keys = history.contacts_with_email(email)
    if len(keys) > 1:
        return None, "ambiguous"
    found = history.find_contact(keys) if keys else None
    if found is None:
        return None, UnmatchedReason.NO_CONTACT.value
    return replace(attribute_contact(found[0], found[1], at, history, windows), model=EMAIL), "matched"


def attribute(phones: ResolvedPhones, at: int, history: ContactHistory, windows: Windows) -> Attribution:
    if not phones.found_any:
        return Attribution(AttributionStatus.UNATTRIBUTED, UnmatchedReason.NO_PHONE, None)
    if not phones.keys:
        return Attribution(AttributionStatus.UNATTRIBUTED, UnmatchedReason.UNPARSEABLE_PHONE, None)
    found = history.find_contact(phones.keys)
    if found is None:
        return Attribution(AttributionStatus.UNATTRIBUTED, UnmatchedReason.NO_CONTACT, None)
    contact_key, profile = found
    return attribute_contact(contact_key, profile, at, history, windows)


def attribute_contact(
    contact_key: str, profile: dict[str, Any], at: int, history: ContactHistory, windows: Windows
) -> Attribution:
    earlier = [r for r in history.referrals(contact_key) if int(r.get("received_at", 0)) <= at]
    clicks = [r for r in earlier if r.get("ctwa_clid") or r.get("source_type") == "ad"]
    if clicks:
        click = clicks[0]  # newest first: last touch
        clicked_at = int(click["received_at"])
        if windows.click is None or at - clicked_at <= windows.click:
            return Attribution(
                AttributionStatus.ATTRIBUTED,
                None,
                contact_key,
                ctwa_clid=click.get("ctwa_clid"),
                source_id=click.get("source_id"),
                clicked_at=clicked_at,
                referral_message_id=click.get("message_id"),
            )
    reason = UnmatchedReason.OUTSIDE_WINDOW if clicks else UnmatchedReason.NO_REFERRAL
    if _messaged_within(contact_key, profile, at, history, windows.conversation):
        return Attribution(AttributionStatus.WHATSAPP_INFLUENCED, reason, contact_key)
    return Attribution(AttributionStatus.UNATTRIBUTED, reason, contact_key)


def _messaged_within(
    contact_key: str, profile: dict[str, Any], at: int, history: ContactHistory, window: int | None
) -> bool:
    first_seen = profile.get("first_seen_at")
    if first_seen is not None and int(first_seen) > at:
        return False  # the contact wrote only after the conversion
    if window is None:
        return first_seen is not None or profile.get("last_inbound_at") is not None
    last_inbound = profile.get("last_inbound_at")
    if last_inbound is None:
        return False
    if at - window <= int(last_inbound) <= at:
        return True  # the common case, without a query
    if int(last_inbound) < at - window:
        return False
    # The contact wrote again after the conversion: look for a message inside the window.
    return history.inbound_between(contact_key, at - window, at)
