"""Event names for Meta's Conversions API for Business Messaging and CM.com's Meta Conversions: which
conversion kind becomes which event. The names Meta accepts, and its other rules, are in
models.meta_rules."""

from __future__ import annotations

from ..models.meta_rules import META_EVENT_NAMES

# Which Meta event a conversion kind becomes at CM.com (its own mapping: the order is the Purchase,
# so order_paid is left out). Meta's own forwarder reads MetaEventNames (parse_event_names).
KIND_TO_META_EVENT = {
    "order": "Purchase",
    "order_shipped": "OrderShipped",
    "order_delivered": "OrderDelivered",
    "order_cancelled": "OrderCanceled",
}


def parse_event_names(text: str) -> dict[str, str]:
    """MetaEventNames ("order=OrderCreated,refund=OrderReturned") -> {kind: event name}; a name
    Meta does not list for business messaging is refused, so a typo fails the first invocation."""
    names: dict[str, str] = {}
    for pair in text.split(","):
        if not pair.strip():
            continue
        kind, _, name = (part.strip() for part in pair.partition("="))
        if not kind or name not in META_EVENT_NAMES:
            raise ValueError(f"MetaEventNames: {pair.strip()!r} is not kind=<one of Meta's event names>")
        names[kind] = name
    return names


def meta_event_name(kind: str, event_name: str | None, mapping: dict[str, str] | None = None) -> str | None:
    if kind in ("external", "rule"):  # POST /conversions and ConversionRules name their own event
        return event_name if event_name in META_EVENT_NAMES else None
    return (KIND_TO_META_EVENT if mapping is None else mapping).get(kind)


def check_meta_event_name(value: str) -> str:
    """The one check of an event name for Meta, used by every request model that takes one."""
    if value not in META_EVENT_NAMES:
        raise ValueError(f"must be one of {', '.join(sorted(META_EVENT_NAMES))}")
    return value
