"""Storage of what WhatsApp webhooks tell: contacts, messages with their status lifecycle, ad clicks
and Meta's automatic events. Every write is safe to repeat: first-writer-wins for facts, and
conditional writes for the values that only move one way (status, last inbound time)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..models.domain import (
    AdReferral,
    AutomaticEvent,
    ContactRef,
    Direction,
    ErrorDetail,
    MessageStatus,
)
from . import keys
from .dynamo import UpdateBuilder, from_item, serialize, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True, slots=True)
class ContactWrite:
    contact_key: str
    created: bool


class CaptureRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # -- contacts --------------------------------------------------------------------------------

    def resolve_contact_key(self, contact: ContactRef) -> str | None:
        """A contact known by phone keeps its phone key even when a later webhook carries only its
        user id: the alias written when both were seen together leads back to it."""
        if contact.phone or not contact.user_id:
            return contact.key
        found = self._client.get_item(
            TableName=self._table,
            Key={"pk": serialize(keys.user_alias_pk(contact.user_id)), "sk": serialize(keys.ALIAS)},
        ).get("Item")
        if found:
            return str(from_item(found)["contact_key"])
        return contact.key

    def upsert_contact(
        self,
        contact: ContactRef,
        contact_key: str,
        *,
        first_seen: int,
        last_inbound: int | None,
        update_key: str,
    ) -> ContactWrite:
        """Create or refresh a contact. `update_key` names the update that creates it, so that the
        same update, retried, still knows it was the creator."""
        update = (
            UpdateBuilder()
            .set("item_type", "contact")
            .set_if_absent("phone", contact.phone)
            .set_if_absent("user_id", contact.user_id)
            .set("parent_user_id", contact.parent_user_id)
            .set("name", contact.name)
            .set("username", contact.username)
            .set_if_absent("first_seen_at", first_seen)
            .set_if_absent("created_by", update_key)
        )
        result = self._client.update_item(
            TableName=self._table,
            Key=self._key(keys.contact_pk(contact_key), keys.PROFILE),
            ReturnValues="ALL_NEW",
            **update.kwargs(),
        )
        stored = from_item(result["Attributes"])
        # Webhooks arrive out of order: first_seen is the earliest time, whatever came first.
        if stored.get("first_seen_at", first_seen) > first_seen:
            self._move_one_way(contact_key, "first_seen_at", first_seen, earlier=True)
        if last_inbound is not None and stored.get("last_inbound_at", -1) < last_inbound:
            self._move_one_way(contact_key, "last_inbound_at", last_inbound, earlier=False)
        if contact.phone and contact.user_id:
            self._remember_alias(contact.user_id, contact_key)
        return ContactWrite(contact_key=contact_key, created=stored.get("created_by") == update_key)

    def _move_one_way(self, contact_key: str, attribute: str, value: int, *, earlier: bool) -> None:
        comparison = ">" if earlier else "<"
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.contact_pk(contact_key), keys.PROFILE),
                UpdateExpression="SET #t = :t",
                ConditionExpression=f"attribute_not_exists(#t) OR #t {comparison} :t",
                ExpressionAttributeNames={"#t": attribute},
                ExpressionAttributeValues={":t": serialize(value)},
            )

    def _remember_alias(self, user_id: str, contact_key: str) -> None:
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        "pk": keys.user_alias_pk(user_id),
                        "sk": keys.ALIAS,
                        "item_type": "alias",
                        "contact_key": contact_key,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )

    # -- messages --------------------------------------------------------------------------------

    def record_inbound_message(
        self,
        *,
        message_id: str,
        contact_key: str | None,
        message_type: str,
        raw_type: str,
        timestamp: int,
        channel: str,
        phone_number_id: str | None,
        has_referral: bool,
        expires_at: int,
    ) -> None:
        update = (
            _message_header(
                message_id,
                Direction.INBOUND,
                message_type,
                contact_key,
                channel,
                phone_number_id,
                timestamp,
                expires_at,
            )
            .set_if_absent("raw_type", raw_type if raw_type != message_type else None)
            .set_if_absent("status", MessageStatus.RECEIVED.value)
            .set_if_absent("status_rank", MessageStatus.RECEIVED.rank)
            .set_if_absent("at_received", timestamp)
            .set_if_absent("has_referral", has_referral)
        )
        self._client.update_item(
            TableName=self._table, Key=self._key(keys.message_pk(message_id), keys.MESSAGE), **update.kwargs()
        )

    def record_status(
        self,
        *,
        message_id: str,
        status: MessageStatus,
        raw_status: str,
        timestamp: int,
        contact_key: str | None,
        channel: str,
        phone_number_id: str | None,
        errors: tuple[ErrorDetail, ...],
        conversation_id: str | None,
        pricing_category: str | None,
        expires_at: int,
    ) -> None:
        """Record that a message reached a status. A status for a message never seen before creates it:
        other systems (the business's CRM, an agent inbox) send the business's messages."""
        update = (
            _message_header(
                message_id,
                Direction.OUTBOUND,
                "unknown",
                contact_key,
                channel,
                phone_number_id,
                timestamp,
                expires_at,
            )
            .set_if_absent(f"at_{_attribute_safe(raw_status)}", timestamp)
            .set_if_absent("conversation_id", conversation_id)
            .set_if_absent("pricing_category", pricing_category)
        )
        if errors:
            update.set_if_absent("errors", [_error_attributes(error) for error in errors])
        key = self._key(keys.message_pk(message_id), keys.MESSAGE)
        if status is not MessageStatus.UNKNOWN:
            advancing = update.copy().set("status", status.value).set("status_rank", status.rank)
            rank = advancing.value_token(status.rank)
            rank_name = advancing.name_token("status_rank")
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    ConditionExpression=f"attribute_not_exists({rank_name}) OR {rank_name} < {rank}",
                    **advancing.kwargs(),
                )
                return
            except self._client.exceptions.ConditionalCheckFailedException:
                pass  # a later status is already recorded: keep it, record only this one's time
        self._client.update_item(TableName=self._table, Key=key, **update.kwargs())

    # -- referrals and automatic events ----------------------------------------------------------

    def record_referral(
        self, *, contact_key: str, referral: AdReferral, message_id: str, timestamp: int, channel: str
    ) -> None:
        attributes: dict[str, Any] = {
            "pk": keys.contact_pk(contact_key),
            "sk": keys.referral_sk(timestamp, message_id),
            "item_type": "referral",
            "contact_key": contact_key,
            "message_id": message_id,
            "received_at": timestamp,
            "channel": channel,
            "ctwa_clid": referral.ctwa_clid,
            "source_id": referral.source_id,
            "source_type": referral.source_type,
            "source_url": referral.source_url,
            "headline": referral.headline,
            "body": referral.body,
            "media_type": referral.media_type,
        }
        if referral.ctwa_clid:
            attributes["gsi1pk"] = keys.click_pk(referral.ctwa_clid)
            attributes["gsi1sk"] = f"{keys.REFERRAL_PREFIX}{keys.ts(timestamp)}"
        self._client.put_item(TableName=self._table, Item=to_item(attributes))

    def record_automatic_event(self, event: AutomaticEvent) -> None:
        attributes: dict[str, Any] = {
            "pk": keys.automatic_event_pk(event.event_id),
            "sk": f"EVENT#{event.event_name}",
            "item_type": "automatic_event",
            "event_id": event.event_id,
            "event_name": event.event_name,
            "timestamp": event.timestamp,
            "ctwa_clid": event.ctwa_clid,
            "custom_data": event.custom_data or None,
            "waba_id": event.account.waba_id,
            "phone_number_id": event.account.phone_number_id,
        }
        if event.ctwa_clid:
            attributes["gsi1pk"] = keys.click_pk(event.ctwa_clid)
            attributes["gsi1sk"] = f"AUTOEVENT#{keys.ts(event.timestamp)}"
        self._client.put_item(TableName=self._table, Item=to_item(attributes))

    # -- reads -----------------------------------------------------------------------------------

    def get_contact(self, contact_key: str) -> dict[str, Any] | None:
        return self._get(keys.contact_pk(contact_key), keys.PROFILE)

    def get_message(self, message_id: str) -> dict[str, Any] | None:
        return self._get(keys.message_pk(message_id), keys.MESSAGE)

    def list_referrals(self, contact_key: str, *, newest_first: bool = True) -> list[dict[str, Any]]:
        return self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": serialize(keys.contact_pk(contact_key)),
                ":prefix": serialize(keys.REFERRAL_PREFIX),
            },
            ScanIndexForward=not newest_first,
        )

    def count_messages(self, contact_key: str) -> dict[str, int]:
        counts = {Direction.INBOUND.value: 0, Direction.OUTBOUND.value: 0}
        for item in self._query_all(
            IndexName=keys.GSI1,
            KeyConditionExpression="gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": serialize(keys.contact_pk(contact_key)),
                ":prefix": serialize(keys.MESSAGE_PREFIX),
            },
            ProjectionExpression="direction",
        ):
            direction = item.get("direction")
            if direction in counts:
                counts[direction] += 1
        return counts

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=self._key(pk, sk)).get("Item")
        return from_item(item) if item else None

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(TableName=self._table, **kwargs):
            items.extend(from_item(item) for item in page.get("Items", []))
        return items

    @staticmethod
    def _key(pk: str, sk: str) -> dict[str, Any]:
        return {"pk": serialize(pk), "sk": serialize(sk)}


def _message_header(
    message_id: str,
    direction: Direction,
    message_type: str,
    contact_key: str | None,
    channel: str,
    phone_number_id: str | None,
    timestamp: int,
    expires_at: int,
) -> UpdateBuilder:
    """What every message record holds, written once: whichever update creates it sets these."""
    update = (
        UpdateBuilder()
        .set("item_type", "message")
        .set_if_absent("direction", direction.value)
        .set_if_absent("message_type", message_type)
        .set_if_absent("contact_key", contact_key)
        .set_if_absent("channel", channel)
        .set_if_absent("phone_number_id", phone_number_id)
        .set_if_absent("timestamp", timestamp)
        .set_if_absent("expires_at", expires_at)
    )
    if contact_key:
        update.set_if_absent("gsi1pk", keys.contact_pk(contact_key))
        update.set_if_absent("gsi1sk", keys.message_gsi1sk(timestamp, message_id))
    return update


def _attribute_safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name.lower())[:40] or "unknown"


def _error_attributes(error: ErrorDetail) -> dict[str, Any]:
    return {
        k: v
        for k, v in {
            "code": error.code,
            "title": error.title,
            "message": error.message,
            "details": error.details,
        }.items()
        if v is not None
    }
