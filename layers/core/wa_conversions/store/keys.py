"""The single table's key design and the dedupe markers' ids, in one place: no other module spells a
key prefix (tests/unit/test_store_keys.py), and docs/idempotency.md says what each marker guards.

| item             | pk                | sk                    | gsi1pk           | gsi1sk           |
|------------------|-------------------|-----------------------|------------------|------------------|
| contact          | CONTACT#<key>     | PROFILE               |                  |                  |
| user-id alias    | USER#<user id>    | ALIAS                 |                  |                  |
| message          | MSG#<wamid>       | MESSAGE               | CONTACT#<key>    | MSG#<ts>#<wamid> |
| referral (click) | CONTACT#<key>     | REFERRAL#<ts>#<wamid> | CLID#<ctwa_clid> | REFERRAL#<ts>    |
| automatic event  | AUTOEVENT#<id>    | EVENT#<event name>    | CLID#<ctwa_clid> | AUTOEVENT#<ts>   |
| delivery         | DELIVERY#<id>     | DELIVERY              | DELIVERIES#<status> | <ts>#<id>     |
| delivery message | DELIVERY#<id>     | MESSAGE               |                  |                  |
| delivery ref     | DELIVERYREF#<destination>#<key> | REF     |                  |                  |
| order            | ORDER#<shop>#<id> | ORDER                 | ORDERID#<id>     | SHOP#<shop>#ORDER |
| order follow-up  | ORDER#<shop>#<id> | FOLLOWUP#<kind>#<fid> | ORDERID#<id>     | SHOP#<shop>#FOLLOWUP#... |
| off-thread event | EXTERNAL#<id>     | EXTERNAL              |                  |                  |
| idempotency key  | IDEMPOTENCY#<scope>#<key> | IDEMPOTENCY   |                  |                  |
| link token       | LINK#<token>      | LINK                  |                  |                  |
| contact email    | EMAIL#<sha256>    | CONTACT#<key>         |                  |                  |
| erasure          | ERASURE#<id>      | ERASURE               |                  |                  |
| suppression      | SUPPRESSED#<hmac> | SUPPRESSION           |                  |                  |
| data export      | EXPORT#<shop>#<request id> | EXPORT       |                  |                  |
| reconcile cursor | RECONCILE#<shop>  | CURSOR                |                  |                  |
| ad spend day     | ADSPEND#<YYYY-MM> | DAY#<day>#<account>#<ad> |               |                  |
| ad spend read    | ADSPEND#READ      | <account id>          |                  |                  |
| analytics hour   | ANALYTICS#<YYYY-MM> | DAY#<day>T<HH>#<shard> |               |                  |
| analytics state  | ANALYTICS#CONTACT#<key> | STATE           |                  |                  |
| analytics fact   | ANALYTICS#CONTACT#<key> | FACT#<group>    |                  |                  |

The idempotency table (key `id`, TTL `expiration`) holds the dedupe markers, each "<namespace>#<key>"
(docs/idempotency.md): capture#<update key> and erased#<sha256 of a wamid> (store.ledger),
shopify-event#<shop>#<event id> (capture.shopify_ingest), analytics#<event messageId> and
analytics-gone#<sha256 of a forgotten fact's group> (store.analytics).

<key> is the contact's E.164 digits, or "uid:<user id>" for a contact known only by user id. One person
is one contact (store.capture.merge_contact): when a user-id contact turns out to have a phone, or a
phone moves to a new number, its profile becomes item_type "merged_contact" with merged_into naming the
contact that now holds its messages and clicks (its referral items stay, marked merged_into, out of the
click index), and merge_announced once contact.merged went out on the bus.
Timestamps in sort keys are zero-padded epoch seconds, so they sort as numbers.

Delivery (wa_conversions.delivery.log): one item per (destination, event id); <id> is
delivery_id_for(destination, event id), a uuid5, so the same event to the same destination is always
the same item. Attributes: destination, event_id, event_name, kind, conversion_id, order_id, status
(pending | delivered | failed | skipped), reason, attempts, last_status_code, last_error, delivered_at,
lease_until (the claim that enforces at most once), message (the queued body, for replays), queue,
response. gsi1 lists deliveries by status, newest first (<ts> = last update). A delivery reference
keeps a value a destination handed back for later events, e.g. 360dialog's external_event_id per
conversion.
Orders (attribution): <shop> is the *.myshopify.com domain, <id> Shopify's order id; a follow-up's
<kind> is order_paid, order_cancelled or refund and <fid> the order id or the refund id. gsi1 finds an
order's shop from its id alone. Off-thread events are keyed by the external_event_id we issue.
Link tokens (attribution.links): the contact, the ad click and the conversation a link handed out in
the chat stands for, valid_until (epoch seconds) and expires_at (TTL, well after valid_until so that an
order carrying an expired token is told so, not "unknown").
Contact emails (store.emails): an email the CRM gave for a contact (/v1/capture contact.created or
contact.updated), under the SHA-256 of its trimmed, lower-cased form; one item per (email, contact), so
an email known for two contacts is seen to be ambiguous. Attributes: contact_key, source, seen_at.
Erasures (privacy.erasure): what one erasure took, by kind and count; a suppression item is an erased
phone or user id as HMAC-SHA256 under the erasure-hash-key secret, naming its erasure (docs/privacy.md).
A data export is what Shopify's customers/data_request asked for (privacy.shopify), kept 30 days.
Idempotency keys (attribution.idempotency): <scope> names the route ("external-events"), <key> is the
client's Idempotency-Key header (at most 255 printable ASCII characters); the item keeps the request's
fingerprint, the id the first request chose, its answer once there is one, and expires_at for TTL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date

PROFILE = "PROFILE"
ALIAS = "ALIAS"
MESSAGE = "MESSAGE"
REFERRAL_PREFIX = "REFERRAL#"
MESSAGE_PREFIX = "MSG#"
AUTOMATIC_EVENT_PREFIX = "AUTOEVENT#"
GSI1 = "gsi1"


def ts(epoch_seconds: int) -> str:
    return f"{epoch_seconds:012d}"


def contact_pk(contact_key: str) -> str:
    return f"CONTACT#{contact_key}"


def contact_key_of(pk: str) -> str | None:
    """The contact key a CONTACT#<key> pk (or gsi1pk) names; None for any other key."""
    prefix = contact_pk("")
    return pk.removeprefix(prefix) if pk.startswith(prefix) else None


def user_alias_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def user_id_of_alias(pk: str) -> str | None:
    prefix = user_alias_pk("")
    return pk.removeprefix(prefix) if pk.startswith(prefix) else None


def message_pk(message_id: str) -> str:
    return f"{MESSAGE_PREFIX}{message_id}"


def message_id_of(pk: str) -> str | None:
    return pk.removeprefix(MESSAGE_PREFIX) if pk.startswith(MESSAGE_PREFIX) else None


def message_gsi1sk(epoch_seconds: int, message_id: str) -> str:
    return f"{MESSAGE_PREFIX}{ts(epoch_seconds)}#{message_id}"


def message_gsi1sk_between(start: int, end: int) -> tuple[str, str]:
    """The gsi1sk range of a contact's messages sent from `start` to `end` (epoch seconds, inclusive)."""
    return f"{MESSAGE_PREFIX}{ts(max(start, 0))}", f"{MESSAGE_PREFIX}{ts(end)}#\uffff"


def referral_sk(epoch_seconds: int, message_id: str) -> str:
    return f"{REFERRAL_PREFIX}{ts(epoch_seconds)}#{message_id}"


def click_gsi1sk(epoch_seconds: int) -> str:
    """A referral's sort key in the click index: clicks of one ctwa_clid by time."""
    return f"{REFERRAL_PREFIX}{ts(epoch_seconds)}"


def click_pk(ctwa_clid: str) -> str:
    return f"CLID#{ctwa_clid}"


def automatic_event_pk(event_id: str) -> str:
    return f"{AUTOMATIC_EVENT_PREFIX}{event_id}"


def automatic_event_sk(event_name: str) -> str:
    return f"EVENT#{event_name}"


def automatic_event_gsi1sk(epoch_seconds: int) -> str:
    return f"{AUTOMATIC_EVENT_PREFIX}{ts(epoch_seconds)}"


# -- attribution -------------------------------------------------------------------------------

ORDER = "ORDER"
FOLLOW_UP_PREFIX = "FOLLOWUP#"
EXTERNAL_EVENT = "EXTERNAL"


def order_pk(shop: str, order_id: str) -> str:
    return f"ORDER#{shop}#{order_id}"


def order_id_pk(order_id: str) -> str:
    return f"ORDERID#{order_id}"


def order_shop_sk(shop: str, sk: str) -> str:
    return f"SHOP#{shop}#{sk}"


def follow_up_sk(kind: str, follow_up_id: str) -> str:
    return f"{FOLLOW_UP_PREFIX}{kind}#{follow_up_id}"


def external_event_pk(external_event_id: str) -> str:
    return f"EXTERNAL#{external_event_id}"


IDEMPOTENCY = "IDEMPOTENCY"
LINK = "LINK"


def email_pk(email: str) -> str:
    """An email as a key: hashed, so that no address sits in a key (or a log line naming one)."""
    import hashlib

    return f"EMAIL#{hashlib.sha256(email.strip().lower().encode()).hexdigest()}"


def link_token_pk(token: str) -> str:
    return f"LINK#{token}"


def idempotency_key_pk(scope: str, key: str) -> str:
    return f"IDEMPOTENCY#{scope}#{key}"


DELIVERY = "DELIVERY"
# The queued message a delivery replays (POST /deliveries/{id}/retry), beside the delivery's item.
DELIVERY_MESSAGE = "MESSAGE"
REFERENCE = "REF"


def delivery_pk(delivery_id: str) -> str:
    return f"DELIVERY#{delivery_id}"


def delivery_id_of(pk: str) -> str | None:
    prefix = delivery_pk("")
    return pk.removeprefix(prefix) if pk.startswith(prefix) else None


def delivery_status_pk(status: str) -> str:
    return f"DELIVERIES#{status}"


def delivery_status_sk(epoch_seconds: int, delivery_id: str) -> str:
    return f"{ts(epoch_seconds)}#{delivery_id}"


def delivery_reference_pk(destination: str, key: str) -> str:
    return f"DELIVERYREF#{destination}#{key}"


ERASURE = "ERASURE"
SUPPRESSION = "SUPPRESSION"


def erasure_pk(erasure_id: str) -> str:
    return f"ERASURE#{erasure_id}"


def suppression_pk(identity_hash: str) -> str:
    return f"SUPPRESSED#{identity_hash}"


EXPORT = "EXPORT"


def data_export_pk(shop: str, request_id: str) -> str:
    return f"EXPORT#{shop}#{request_id}"


# -- shop reconciliation and ad spend ----------------------------------------------------------

CURSOR = "CURSOR"


def reconcile_cursor_pk(shop: str) -> str:
    return f"RECONCILE#{shop}"


def ad_spend_pk(month: str) -> str:
    return f"ADSPEND#{month}"


def months(start: date, end: date) -> list[str]:
    """The "YYYY-MM" of every month from `start`'s to `end`'s: the monthly partitions
    (ad_spend_pk, analytics_month_pk) a date range spans."""
    found: list[str] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


# When each ad account's spend was last read: one item per account under this partition.
AD_SPEND_READ_PK = ad_spend_pk("READ")


def day_sk(day: str) -> str:
    """The start of a day's sort keys ("DAY#<YYYY-MM-DD>"), which a range query bounds."""
    return f"DAY#{day}"


def ad_spend_sk(day: str, account_id: str, ad_id: str) -> str:
    return f"{day_sk(day)}#{account_id}#{ad_id}"


# -- analytics (store.analytics) -----------------------------------------------------------------

ANALYTICS_STATE = "STATE"
ANALYTICS_FACT_PREFIX = "FACT#"
# A part of a commit's counter updates parked on the state item: "pending#<version>#<n>".
ANALYTICS_PENDING_PREFIX = "pending#"


def analytics_month_pk(month: str) -> str:
    return f"ANALYTICS#{month}"


def analytics_day_sk(day: str, shard: int) -> str:
    return f"{day_sk(day)}#{shard}"


def analytics_days_between(first: str, last: str) -> tuple[str, str]:
    """The sk range of the counter items from UTC day `first` to `last` (YYYY-MM-DD, inclusive) in
    their month's partition: "~" sorts after both "T<HH>#<shard>" (hours) and "#<shard>" (older days)."""
    return day_sk(first), f"{day_sk(last)}~"


def analytics_fact_sk(group: str) -> str:
    return f"{ANALYTICS_FACT_PREFIX}{group}"


def analytics_fact_group_of(sk: str) -> str | None:
    """The fact group a FACT#<group> sk names; None for any other sort key."""
    return sk.removeprefix(ANALYTICS_FACT_PREFIX) if sk.startswith(ANALYTICS_FACT_PREFIX) else None


def analytics_pending_attribute(version: int, number: int) -> str:
    return f"{ANALYTICS_PENDING_PREFIX}{version}#{number}"


def analytics_state_pk(contact_key: str) -> str:
    return f"ANALYTICS#CONTACT#{contact_key}"


def analytics_state_contact_of(pk: str) -> str | None:
    """The contact key an ANALYTICS#CONTACT#<key> pk names; None for any other key."""
    prefix = analytics_state_pk("")
    return pk.removeprefix(prefix) if pk.startswith(prefix) else None


# -- the idempotency table's dedupe markers (docs/idempotency.md) ----------------------------------

CAPTURE_UPDATES = "capture"
# Erased message ids (privacy.erasure): capture drops their updates.
ERASED_MESSAGES = "erased"
SHOPIFY_EVENTS = "shopify-event"
ANALYTICS_EVENTS = "analytics"
# A fact the aggregator forgot (store.analytics): a redelivery of its event must not count it again.
ANALYTICS_FORGOTTEN = "analytics-gone"
MARKER_NAMESPACES = (CAPTURE_UPDATES, ERASED_MESSAGES, SHOPIFY_EVENTS, ANALYTICS_EVENTS, ANALYTICS_FORGOTTEN)


def marker_id(namespace: str, key: str) -> str:
    """A marker's id in the idempotency table: "<namespace>#<key>"."""
    return f"{namespace}#{key}"


def marker_key_of(marker: str) -> str:
    """The key a marker id was made from (marker_id's inverse)."""
    return marker.split("#", 1)[1]


def shopify_event_marker_id(shop: str, event_id: str) -> str:
    return marker_id(SHOPIFY_EVENTS, f"{shop}#{event_id}")


def analytics_marker_id(event_id: str) -> str:
    return marker_id(ANALYTICS_EVENTS, event_id)


def analytics_forgotten_id(group: str) -> str:
    """A forgotten fact's tombstone: the SHA-256 of its group ("out:<wamid>"), since a wamid carries
    the phone (erased_message_key)."""
    import hashlib

    return marker_id(ANALYTICS_FORGOTTEN, hashlib.sha256(group.encode()).hexdigest())


def erased_message_key(message_id: str) -> str:
    """An erased message id as the tombstone keeps it: its SHA-256 (a wamid carries the phone, base64)."""
    import hashlib

    return hashlib.sha256(message_id.encode()).hexdigest()
