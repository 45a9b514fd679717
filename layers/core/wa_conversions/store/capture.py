"""Storage of what WhatsApp webhooks tell: contacts, messages with their status lifecycle, ad clicks
and Meta's automatic events. Every write is safe to repeat: first-writer-wins for facts, and
conditional writes for the values that only move one way (status, last inbound time)."""

from __future__ import annotations

import contextlib
import copy as copy_module
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..models.domain import (
    AdReferral,
    AutomaticEvent,
    ContactRef,
    Direction,
    ErrorDetail,
    MessageStatus,
    user_contact_key,
    user_id_of_key,
)
from ..models.retention import DEFAULT_RETENTION, Retention
from . import keys
from .dynamo import UpdateBuilder, batch_get, from_item, serialize, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


# The keys and the one-way times are not copied as they are when one contact is merged into another.
_NOT_MERGED = frozenset(
    {"pk", "sk", "item_type", "merged_into", "phone", "first_seen_at", "last_inbound_at", "expires_at"}
)
# The item_type of a contact profile folded into another: it keeps only the pointer (merged_into).
MERGED = "merged_contact"


def _followed(profile: dict[str, Any] | None) -> str | None:
    """The contact a merged profile points to; None for a live contact or none at all."""
    if profile and profile.get("item_type") == MERGED and isinstance(profile.get("merged_into"), str):
        return str(profile["merged_into"])
    return None


def _unannounced(source: dict[str, Any], target_key: str) -> bool:
    """A merged profile whose contact.merged never went out (CaptureRepository.mark_announced)."""
    return source.get("merged_into") == target_key and not source.get("merge_announced")


def followed_key(repository: CaptureRepository, contact_key: str, hops: int = 3) -> str | None:
    """The live contact a key names, following merges; None when there is none."""
    for _ in range(hops):
        profile = repository.get_contact(contact_key)
        if profile is None:
            return None
        target = _followed(profile)
        if target is None:
            return contact_key
        contact_key = target
    return None


@dataclass(frozen=True, slots=True)
class ContactWrite:
    contact_key: str
    created: bool


@dataclass(slots=True)
class KnownContacts:
    """What resolve_contact_keys read of a batch's contacts: the live profiles, by contact key, and
    the user-id aliases, by user id. upsert_contact leaves unwritten what a webhook would not change."""

    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    aliases: dict[str, dict[str, Any]] = field(default_factory=dict)


class CaptureRepository:
    def __init__(
        self, client: DynamoDBClient, table_name: str, *, retention: Retention = DEFAULT_RETENTION
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention = retention
        # A listed tenant's contacts live under keys scoped to it (wa_conversions.tenants); "" for none.
        self._scope = ""

    def scoped(self, scope: str) -> CaptureRepository:
        """The same table, with contact keys scoped to one tenant (docs/tenants.md)."""
        copy = copy_module.copy(self)
        copy._scope = scope
        return copy

    def _scoped(self, key: str) -> str:
        return f"{self._scope}~{key}" if self._scope else key

    def own_key(self, key: str) -> str:
        """A phone's or user-id key as this repository's tenant stores it (unchanged without one)."""
        return self._scoped(key)

    def _alias_pk(self, user_id: str) -> str:
        # User ids are business-scoped: tenants of one business portfolio see the same id, so each
        # tenant keeps its own alias, as it keeps its own contact keys (docs/tenants.md).
        return keys.user_alias_pk(self._scoped(user_id))

    def _in_scope(self, key: str) -> bool:
        scope, separator, _ = key.partition("~")
        return scope == self._scope if separator else not self._scope

    # -- contacts --------------------------------------------------------------------------------

    def contact_key_of_user(self, user_id: str) -> str:
        """Where a contact named by its user id alone is: the phone contact it was merged into, else
        its own user-id key. A read, never a merge (the operator API)."""
        found = self._get(self._alias_pk(user_id), keys.ALIAS)
        if found and self._in_scope(str(found["contact_key"])):
            return str(found["contact_key"])
        return self._scoped(user_contact_key(user_id))

    def resolve_contact_keys(
        self,
        contacts: Iterable[ContactRef],
        merges: list[tuple[str, str]] | None = None,
        known: KnownContacts | None = None,
    ) -> dict[ContactRef, str | None]:
        """Where each contact is stored: one person is one contact, under the phone once it is known.

        A webhook with only a user id finds the phone contact through the alias written when both
        were seen together. A webhook with both folds a contact first seen by user id alone into the
        phone one (merge_contact), so the order in which the ids arrive never matters. A phone that
        moved to a new number (move_contact) leads to the new one. One BatchGetItem answers the batch.
        `merges` gets each (merged, surviving) pair not yet announced on the bus (mark_announced);
        `known` what was read of the contacts that no merge touched, and of their aliases."""
        refs = list(dict.fromkeys(contacts))
        wanted: list[tuple[str, str]] = []
        for ref in refs:
            if ref.phone:
                wanted.append((keys.contact_pk(self._scoped(ref.phone)), keys.PROFILE))
                if ref.user_id:
                    wanted.append(
                        (keys.contact_pk(self._scoped(user_contact_key(ref.user_id))), keys.PROFILE)
                    )
                    if known is not None:  # half a read unit, against the write of an unchanged alias
                        wanted.append((self._alias_pk(ref.user_id), keys.ALIAS))
            elif ref.user_id:
                wanted.append((self._alias_pk(ref.user_id), keys.ALIAS))
                if known is not None:  # the contact's own profile, while no phone has claimed it
                    wanted.append(
                        (keys.contact_pk(self._scoped(user_contact_key(ref.user_id))), keys.PROFILE)
                    )
        found = self._batch_get(wanted)
        rewritten: set[str] = set()  # both sides of a merge here: their profiles changed after the read
        answer: dict[ContactRef, str | None] = {}
        merged: set[str] = set()
        for ref in refs:
            key = self._scoped(ref.key) if ref.key else None
            if ref.phone:
                phone_key = self._scoped(ref.phone)
                key = _followed(found.get(keys.contact_pk(phone_key))) or phone_key
                source_key = self._scoped(user_contact_key(ref.user_id)) if ref.user_id else None
                source = found.get(keys.contact_pk(source_key)) if source_key else None
                if source_key and source and source_key not in merged:
                    merged.add(source_key)
                    if source.get("item_type") != MERGED:
                        self.merge_contact(source_key, key, source=source)
                        rewritten |= {key, source_key}
                        if merges is not None:
                            merges.append((source_key, key))
                    elif merges is not None and _unannounced(source, key):
                        merges.append((source_key, key))  # merged, then a crash before the event
            elif (
                ref.user_id
                and (alias := found.get(self._alias_pk(ref.user_id)))
                and self._in_scope(str(alias["contact_key"]))
            ):
                key = str(alias["contact_key"])
            answer[ref] = key
        if known is not None:
            for ref, key in answer.items():
                profile = found.get(keys.contact_pk(key)) if key else None
                if key and key not in rewritten and profile and profile.get("item_type") == "contact":
                    known.profiles[key] = profile
                if ref.user_id and (alias := found.get(self._alias_pk(ref.user_id))):
                    known.aliases[ref.user_id] = alias
        return answer

    def move_contact(
        self, old_phone: str, new_phone: str, merges: list[tuple[str, str]] | None = None
    ) -> bool:
        """WhatsApp's user_changed_number: the contact moves to its new number, and the old number stays
        a pointer to it (GET /contacts/{old phone} and order phones still find it). `merges` as in
        resolve_contact_keys."""
        source_key, target_key = self._scoped(old_phone), self._scoped(new_phone)
        source = self.get_contact(source_key)
        moved = self.merge_contact(source_key, target_key, source=source)
        if merges is not None and source is not None and (moved or _unannounced(source, target_key)):
            merges.append((source_key, target_key))
        return moved

    def mark_announced(self, merged_keys: Iterable[str]) -> None:
        """contact.merged went out for these merged profiles: a redelivery need not announce it again."""
        for merged_key in dict.fromkeys(merged_keys):
            # Never a new stub: a profile erased meanwhile (docs/privacy.md) stays gone.
            with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
                update = UpdateBuilder().set("merge_announced", True).condition("attribute_exists(pk)")
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(keys.contact_pk(merged_key), keys.PROFILE),
                    **update.kwargs(),
                )

    def add_phone(
        self, contact_key: str, phone: str, source: str, merges: list[tuple[str, str]] | None = None
    ) -> str | None:
        """A phone given for a contact from outside the webhook's ids (the CRM): a contact known by
        user id alone gets it, merged into that phone's contact exactly as when a webhook names both,
        with `phone_source` saying where it came from. A contact that has a phone keeps its own (the
        CRM's other number may be anyone's). Returns the contact's key afterwards; None if unknown.
        `merges` as in resolve_contact_keys."""
        named = self.get_contact(contact_key)
        if named is None and (user_id := user_id_of_key(contact_key)) is not None:
            # first seen with its phone: the user id is only an alias of the phone's contact
            contact_key = self.contact_key_of_user(user_id)
        elif (target := _followed(named)) and merges is not None and _unannounced(named or {}, target):
            merges.append((contact_key, target))  # merged by an earlier try that never announced it
        key = followed_key(self, contact_key)
        profile = self.get_contact(key) if key else None
        if key is None or profile is None:
            return None
        if profile.get("phone") or not profile.get("user_id"):
            return key
        contact = ContactRef(phone=phone, user_id=str(profile["user_id"]), phone_source=source)
        # A phone contact seen on WhatsApp already has its phone from its own webhooks.
        known = (self.get_contact(followed_key(self, phone) or phone) or {}).get("phone")
        target = self.resolve_contact_keys([contact], merges)[contact] or phone
        update = (
            UpdateBuilder()
            .set("item_type", "contact")
            .set_if_absent("phone", phone)
            .set_if_absent("phone_source", None if known else source)
            .set_if_absent("user_id", contact.user_id)
        )
        self._client.update_item(
            TableName=self._table, Key=self._key(keys.contact_pk(target), keys.PROFILE), **update.kwargs()
        )
        return target

    def merge_contact(
        self, source_key: str, target_key: str, *, source: dict[str, Any] | None = None
    ) -> bool:
        """Fold contact `source_key` into `target_key`: its profile, messages and ad clicks; then its
        user id leads to the target and the source profile only points there. Every step is safe to
        repeat, and the source profile changes last, so a crash midway is finished by the retry."""
        source = source if source is not None else self.get_contact(source_key)
        if source is None or source.get("item_type") == MERGED or source_key == target_key:
            return False
        target_pk = keys.contact_pk(target_key)
        profile = (
            UpdateBuilder().set("item_type", "contact").set("expires_at", self._retention.contact_expiry())
        )
        for attribute, value in source.items():
            if attribute not in _NOT_MERGED:
                profile.set_if_absent(attribute, value)
        self._client.update_item(
            TableName=self._table, Key=self._key(target_pk, keys.PROFILE), **profile.kwargs()
        )
        for attribute, earlier in (("first_seen_at", True), ("last_inbound_at", False)):
            if source.get(attribute) is not None:
                self._move_one_way(target_key, attribute, int(source[attribute]), earlier=earlier)
        for message in self._query_all(
            IndexName=keys.GSI1,
            KeyConditionExpression="gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": serialize(keys.contact_pk(source_key)),
                ":prefix": serialize(keys.MESSAGE_PREFIX),
            },
            ProjectionExpression="pk, sk",
        ):
            moved = (
                UpdateBuilder()
                .set("contact_key", target_key)
                .set("gsi1pk", target_pk)
                .condition("attribute_exists(pk)")  # a message expired meanwhile stays gone
            )
            with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
                self._client.update_item(
                    TableName=self._table, Key=self._key(message["pk"], message["sk"]), **moved.kwargs()
                )
        for referral in self.list_referrals(source_key):
            if referral.get("merged_into"):
                continue
            self._client.put_item(
                TableName=self._table,
                Item=to_item({**referral, "pk": target_pk, "contact_key": target_key}),
            )
            # The copy now stands for the click in the click index; the original only records the move.
            moved = UpdateBuilder().set("merged_into", target_key).remove("gsi1pk").remove("gsi1sk")
            self._client.update_item(
                TableName=self._table, Key=self._key(referral["pk"], referral["sk"]), **moved.kwargs()
            )
        if source.get("user_id"):
            self._remember_alias(str(source["user_id"]), target_key)
        # Last: while the source still reads as a contact, a retry finishes the merge. It stays as a
        # pointer (never deleted), for whatever still names the old key (a link token, an order).
        pointer = (
            UpdateBuilder()
            .set("item_type", MERGED)
            .set("merged_into", target_key)
            .set("expires_at", self._retention.contact_expiry())
        )
        self._client.update_item(
            TableName=self._table,
            Key=self._key(keys.contact_pk(source_key), keys.PROFILE),
            **pointer.kwargs(),
        )
        return True

    def upsert_contact(
        self,
        contact: ContactRef,
        contact_key: str,
        *,
        first_seen: int,
        last_inbound: int | None,
        update_key: str,
        known: KnownContacts | None = None,
    ) -> ContactWrite:
        """Create or refresh a contact. `update_key` names the update that creates it, so that the
        same update, retried, still knows it was the creator. A profile in `known` that the update
        would not change, its expiry recent (Retention.contact_kept), is not written again."""
        update = (
            UpdateBuilder()
            .set("item_type", "contact")
            .set_if_absent("phone", contact.phone)
            .set_if_absent("phone_source", contact.phone_source)
            .set_if_absent("user_id", contact.user_id)
            .set("parent_user_id", contact.parent_user_id)
            .set("name", contact.name)
            .set("username", contact.username)
            .set_if_absent("first_seen_at", first_seen)
            .set_if_absent("created_by", update_key)
            .set_if_absent("tenant", self._scope or None)
        )
        stored = known.profiles.get(contact_key) if known is not None else None
        kept = stored is not None and self._retention.contact_kept(stored.get("expires_at"))
        if stored is None or not kept or update.changes(stored):
            # Every webhook naming the contact is activity: a contact that keeps talking is kept.
            update.set("expires_at", self._retention.contact_expiry())
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
            alias = known.aliases.get(contact.user_id) if known is not None else None
            if alias is None or not self._retention.contact_kept(alias.get("expires_at")):
                self._remember_alias(contact.user_id, contact_key)
        return ContactWrite(contact_key=contact_key, created=stored.get("created_by") == update_key)

    def _move_one_way(self, contact_key: str, attribute: str, value: int, *, earlier: bool) -> None:
        comparison = ">" if earlier else "<"
        update = UpdateBuilder().set(attribute, value)
        name, token = update.name_token(attribute), update.value_token(value)
        # never a new stub: a profile erased since it was read (docs/privacy.md) stays gone
        update.condition(
            f"attribute_exists(pk) AND (attribute_not_exists({name}) OR {name} {comparison} {token})"
        )
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(
                TableName=self._table,
                Key=self._key(keys.contact_pk(contact_key), keys.PROFILE),
                **update.kwargs(),
            )

    def _remember_alias(self, user_id: str, contact_key: str) -> None:
        # The first contact named wins; each sighting keeps the alias as long as its contact.
        update = (
            UpdateBuilder()
            .set("item_type", "alias")
            .set_if_absent("contact_key", contact_key)
            .set("expires_at", self._retention.contact_expiry())
        )
        self._client.update_item(
            TableName=self._table, Key=self._key(self._alias_pk(user_id), keys.ALIAS), **update.kwargs()
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
                self._scope or None,
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
                self._scope or None,
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
            advancing.condition(f"attribute_not_exists({rank_name}) OR {rank_name} < {rank}")
            try:
                self._client.update_item(TableName=self._table, Key=key, **advancing.kwargs())
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
            "tenant": self._scope or None,
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
            "expires_at": self._retention.referral_expiry(timestamp),
        }
        if referral.ctwa_clid:
            attributes["gsi1pk"] = keys.click_pk(referral.ctwa_clid)
            attributes["gsi1sk"] = keys.click_gsi1sk(timestamp)
        self._client.put_item(TableName=self._table, Item=to_item(attributes))

    def record_automatic_event(self, event: AutomaticEvent) -> None:
        attributes: dict[str, Any] = {
            "pk": keys.automatic_event_pk(event.event_id),
            "sk": keys.automatic_event_sk(event.event_name),
            "item_type": "automatic_event",
            "event_id": event.event_id,
            "event_name": event.event_name,
            "timestamp": event.timestamp,
            "ctwa_clid": event.ctwa_clid,
            "custom_data": event.custom_data or None,
            "waba_id": event.account.waba_id,
            "phone_number_id": event.account.phone_number_id,
            "expires_at": self._retention.referral_expiry(event.timestamp),
        }
        if event.ctwa_clid:
            attributes["gsi1pk"] = keys.click_pk(event.ctwa_clid)
            attributes["gsi1sk"] = keys.automatic_event_gsi1sk(event.timestamp)
        self._client.put_item(TableName=self._table, Item=to_item(attributes))

    # -- link tokens (attribution.links) ---------------------------------------------------------

    def put_link_token(self, item: dict[str, Any]) -> None:
        # A fresh random token: the condition only guards against the impossible collision.
        self._client.put_item(
            TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
        )

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

    def _batch_get(self, wanted: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        """The items found among (pk, sk) pairs, by pk."""
        item_keys = [self._key(pk, sk) for pk, sk in dict.fromkeys(wanted)]
        found: dict[str, dict[str, Any]] = {}
        for raw in batch_get(self._client, self._table, item_keys, what="contact reads"):
            plain = from_item(raw)
            found[str(plain["pk"])] = plain
        return found

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
    tenant: str | None,
) -> UpdateBuilder:
    """What every message record holds, written once: whichever update creates it sets these; `tenant`
    is a listed tenant's id other than the default's (docs/tenants.md), inbound and outbound alike."""
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
        .set_if_absent("tenant", tenant)
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
