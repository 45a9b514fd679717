"""The single table's key design, in one place.

| item             | pk                | sk                    | gsi1pk           | gsi1sk           |
|------------------|-------------------|-----------------------|------------------|------------------|
| contact          | CONTACT#<key>     | PROFILE               |                  |                  |
| user-id alias    | USER#<user id>    | ALIAS                 |                  |                  |
| message          | MSG#<wamid>       | MESSAGE               | CONTACT#<key>    | MSG#<ts>#<wamid> |
| referral (click) | CONTACT#<key>     | REFERRAL#<ts>#<wamid> | CLID#<ctwa_clid> | REFERRAL#<ts>    |
| automatic event  | AUTOEVENT#<id>    | EVENT#<event name>    | CLID#<ctwa_clid> | AUTOEVENT#<ts>   |
| delivery         | DELIVERY#<id>     | DELIVERY              | DELIVERIES#<status> | <ts>#<id>     |
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

PROFILE = "PROFILE"
ALIAS = "ALIAS"
MESSAGE = "MESSAGE"
REFERRAL_PREFIX = "REFERRAL#"
MESSAGE_PREFIX = "MSG#"
GSI1 = "gsi1"


def ts(epoch_seconds: int) -> str:
    return f"{epoch_seconds:012d}"


def contact_pk(contact_key: str) -> str:
    return f"CONTACT#{contact_key}"


def user_alias_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def message_pk(message_id: str) -> str:
    return f"MSG#{message_id}"


def message_gsi1sk(epoch_seconds: int, message_id: str) -> str:
    return f"{MESSAGE_PREFIX}{ts(epoch_seconds)}#{message_id}"


def referral_sk(epoch_seconds: int, message_id: str) -> str:
    return f"{REFERRAL_PREFIX}{ts(epoch_seconds)}#{message_id}"


def click_pk(ctwa_clid: str) -> str:
    return f"CLID#{ctwa_clid}"


def automatic_event_pk(event_id: str) -> str:
    return f"AUTOEVENT#{event_id}"


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
REFERENCE = "REF"


def delivery_pk(delivery_id: str) -> str:
    return f"DELIVERY#{delivery_id}"


def delivery_status_pk(status: str) -> str:
    return f"DELIVERIES#{status}"


def delivery_status_sk(epoch_seconds: int, delivery_id: str) -> str:
    return f"{ts(epoch_seconds)}#{delivery_id}"


def delivery_reference_pk(destination: str, key: str) -> str:
    return f"DELIVERYREF#{destination}#{key}"


def erasure_pk(erasure_id: str) -> str:
    return f"ERASURE#{erasure_id}"


def suppression_pk(identity_hash: str) -> str:
    return f"SUPPRESSED#{identity_hash}"


EXPORT = "EXPORT"


def data_export_pk(shop: str, request_id: str) -> str:
    return f"EXPORT#{shop}#{request_id}"


# The idempotency table's namespace of erased message ids (privacy.erasure): capture drops their updates.
ERASED_MESSAGES = "erased"


def erased_message_key(message_id: str) -> str:
    """An erased message id as the tombstone keeps it: its SHA-256 (a wamid carries the phone, base64)."""
    import hashlib

    return hashlib.sha256(message_id.encode()).hexdigest()
