"""What Meta's Conversions API for Business Messaging (and CM.com's Meta Conversions, which passes
events on to it) accepts, written once: the API checks (forwarding.requests, forwarding.api), the
forwarders (forwarding.meta_capi, forwarding.cm, through forwarding.names) and the local stand-ins
(devstack.standins) all import these. docs/forwarding.md says the same rules for a reader.

The currency rule (ISO 4217, and its decimals) lives in models.money, beside the amount it qualifies.
"""

from __future__ import annotations

# Meta credits an event to a Click-to-WhatsApp ad clicked at most 7 days before it, and refuses one
# whose event_time is more than 7 days in the past (docs/forwarding.md, the skip reasons).
CLICK_WINDOW_DAYS = 7
CLICK_WINDOW_SECONDS = CLICK_WINDOW_DAYS * 86_400
MAX_EVENT_AGE_DAYS = 7
MAX_EVENT_AGE_SECONDS = MAX_EVENT_AGE_DAYS * 86_400

# CM.com's list, which includes Meta's five verified names for business messaging.
META_EVENT_NAMES = frozenset(
    {
        "Purchase",
        "LeadSubmitted",
        "InitiateCheckout",
        "AddToCart",
        "ViewContent",
        "OrderCreated",
        "OrderShipped",
        "OrderDelivered",
        "OrderCanceled",
        "OrderReturned",
        "CartAbandoned",
        "QualifiedLead",
        "RatingProvided",
        "ReviewProvided",
    }
)
# CM.com: "For Purchase, OrderCreated and OrderShipped ... mandatory to add the currency and the value".
VALUE_REQUIRED = frozenset({"Purchase", "OrderCreated", "OrderShipped"})
# Meta itself asks value and currency of a Purchase only.
META_VALUE_REQUIRED = frozenset({"Purchase"})


def click_window_problem(
    ctwa_clid: str | None, clicked_at: int | None, event_time: int, window: int = CLICK_WINDOW_SECONDS
) -> str | None:
    """Why a conversion cannot be credited to its ad click at Meta, or None when it can."""
    if not ctwa_clid:
        return "no ctwa_clid: the conversion is not attributed to a Click-to-WhatsApp ad"
    if clicked_at is None:
        return "the ad click's time is unknown"
    if event_time - clicked_at > window:
        return f"the ad click is more than {window // 86400} days before the conversion"
    return None


def too_old(event_time: int, now: float) -> bool:
    """Whether Meta refuses the event for its age (MAX_EVENT_AGE_SECONDS)."""
    return now - event_time > MAX_EVENT_AGE_SECONDS
