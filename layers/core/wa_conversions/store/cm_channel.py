"""CM.com channel state on the capture items: a message's read-marking and a contact's block state.

Both live as attributes of the items capture already writes (MSG#<id>/MESSAGE and
CONTACT#<key>/PROFILE, see keys.py), so the operator views read them with everything else.
Message: read_requested_at (an operator or the auto rule asked), read_marked_at (CM.com accepted).
Contact: blocked (bool), blocked_at, unblocked_at, block_generation (a new id per state change, the
at-most-once key of the Block/UnBlock event it causes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import keys
from .dynamo import serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class CmChannelRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _conditional(self, pk: str, sk: str, update: str, condition: str, values: dict[str, object]) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": serialize(pk), "sk": serialize(sk)},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues={name: serialize(value) for name, value in values.items()},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def request_read(self, message_id: str, now: int) -> None:
        """Remember the first request only: repeats change nothing."""
        self._conditional(
            keys.message_pk(message_id),
            keys.MESSAGE,
            "SET read_requested_at = :now",
            "attribute_exists(pk) AND attribute_not_exists(read_requested_at)",
            {":now": now},
        )

    def mark_read(self, message_id: str, now: int) -> None:
        self._conditional(
            keys.message_pk(message_id),
            keys.MESSAGE,
            "SET read_marked_at = :now, read_requested_at = if_not_exists(read_requested_at, :now)",
            "attribute_exists(pk) AND attribute_not_exists(read_marked_at)",
            {":now": now},
        )

    def block(self, contact_key: str, now: int, generation: str) -> bool:
        """False when the contact is already blocked (or unknown): nothing changed."""
        return self._conditional(
            keys.contact_pk(contact_key),
            keys.PROFILE,
            "SET blocked = :true, blocked_at = :now, block_generation = :g",
            "attribute_exists(pk) AND (attribute_not_exists(blocked) OR blocked = :false)",
            {":true": True, ":false": False, ":now": now, ":g": generation},
        )

    def unblock(self, contact_key: str, now: int, generation: str) -> bool:
        """False when the contact is not blocked: nothing changed."""
        return self._conditional(
            keys.contact_pk(contact_key),
            keys.PROFILE,
            "SET blocked = :false, unblocked_at = :now, block_generation = :g",
            "blocked = :true",
            {":true": True, ":false": False, ":now": now, ":g": generation},
        )

    def restore_block_state(self, contact_key: str, generation: str, *, blocked: bool) -> None:
        """Undo a state change whose event could not be queued, unless another change followed it."""
        self._conditional(
            keys.contact_pk(contact_key),
            keys.PROFILE,
            "SET blocked = :blocked",
            "block_generation = :g",
            {":blocked": blocked, ":g": generation},
        )
