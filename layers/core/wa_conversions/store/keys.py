"""The single table's key design, in one place.

| item             | pk                | sk                    | gsi1pk           | gsi1sk           |
|------------------|-------------------|-----------------------|------------------|------------------|
| contact          | CONTACT#<key>     | PROFILE               |                  |                  |
| user-id alias    | USER#<user id>    | ALIAS                 |                  |                  |
| message          | MSG#<wamid>       | MESSAGE               | CONTACT#<key>    | MSG#<ts>#<wamid> |
| referral (click) | CONTACT#<key>     | REFERRAL#<ts>#<wamid> | CLID#<ctwa_clid> | REFERRAL#<ts>    |
| automatic event  | AUTOEVENT#<id>    | EVENT#<event name>    | CLID#<ctwa_clid> | AUTOEVENT#<ts>   |

<key> is the contact's E.164 digits, or "uid:<user id>" for a contact known only by user id.
Timestamps in sort keys are zero-padded epoch seconds, so they sort as numbers.
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
