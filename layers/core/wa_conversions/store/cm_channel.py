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
from .dynamo import UpdateBuilder, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class CmChannelRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _conditional(self, pk: str, sk: str, update: UpdateBuilder) -> bool:
        try:
            self._client.update_item(
                TableName=self._table, Key={"pk": serialize(pk), "sk": serialize(sk)}, **update.kwargs()
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def request_read(self, message_id: str, now: int) -> None:
        """Remember the first request only: repeats change nothing."""
        update = UpdateBuilder().set("read_requested_at", now)
        requested = update.name_token("read_requested_at")
        update.condition(f"attribute_exists(pk) AND attribute_not_exists({requested})")
        self._conditional(keys.message_pk(message_id), keys.MESSAGE, update)

    def mark_read(self, message_id: str, now: int) -> None:
        update = UpdateBuilder().set("read_marked_at", now).set_if_absent("read_requested_at", now)
        marked = update.name_token("read_marked_at")
        update.condition(f"attribute_exists(pk) AND attribute_not_exists({marked})")
        self._conditional(keys.message_pk(message_id), keys.MESSAGE, update)

    def block(self, contact_key: str, now: int, generation: str) -> bool:
        """False when the contact is already blocked (or unknown): nothing changed."""
        update = (
            UpdateBuilder().set("blocked", True).set("blocked_at", now).set("block_generation", generation)
        )
        blocked, false = update.name_token("blocked"), update.value_token(False)
        update.condition(f"attribute_exists(pk) AND (attribute_not_exists({blocked}) OR {blocked} = {false})")
        return self._conditional(keys.contact_pk(contact_key), keys.PROFILE, update)

    def unblock(self, contact_key: str, now: int, generation: str) -> bool:
        """False when the contact is not blocked: nothing changed."""
        update = (
            UpdateBuilder().set("blocked", False).set("unblocked_at", now).set("block_generation", generation)
        )
        blocked, true = update.name_token("blocked"), update.value_token(True)
        update.condition(f"{blocked} = {true}")
        return self._conditional(keys.contact_pk(contact_key), keys.PROFILE, update)

    def restore_block_state(self, contact_key: str, generation: str, *, blocked: bool) -> None:
        """Undo a state change whose event could not be queued, unless another change followed it."""
        update = UpdateBuilder().set("blocked", blocked)
        update.condition(f"{update.name_token('block_generation')} = {update.value_token(generation)}")
        self._conditional(keys.contact_pk(contact_key), keys.PROFILE, update)
