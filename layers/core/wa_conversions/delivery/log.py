"""The delivery log: one item per (destination, event id) in the single table, recording every
attempt, and the claim that keeps an event from being sent twice to a destination that accepted it.

Keys are in store/keys.py ("delivery" and "delivery reference"). The claim is one of the four dedupe
mechanisms (docs/idempotency.md, "Delivery log", for its key, expiry and replay contract).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..models.retention import DEFAULT_RETENTION, Retention
from ..store import keys
from ..store.dynamo import UpdateBuilder, from_item, serialize, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_DELIVERY_NAMESPACE = uuid.UUID("2b7e1f0c-6a43-4d59-a1a8-4cf0f9d3c5e7")


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"
    # Sent with no answer where a repeat would count twice: the operator confirms or retries it.
    AMBIGUOUS = "ambiguous"


def delivery_id_for(destination: str, event_id: str) -> str:
    """Stable: the same event to the same destination is always the same delivery."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{destination}|{event_id}"))


# The reason of a delivery whose person was erased (privacy.erasure): it is never claimed again.
ERASED_REASON = "erased"


class ClaimResult(StrEnum):
    CLAIMED = "claimed"
    ALREADY_DELIVERED = "already_delivered"
    BUSY = "busy"
    AMBIGUOUS = "ambiguous"
    # found interrupted, and recorded ambiguous just now
    INTERRUPTED = "interrupted"
    # its person was erased before it went out (docs/privacy.md): never sent
    ERASED = "erased"


class OperatorResult(StrEnum):
    DONE = "done"
    ALREADY_DELIVERED = "already_delivered"
    IN_FLIGHT = "in_flight"
    SKIPPED = "skipped"
    MISSING = "missing"
    ERASED = "erased"


# A claim never finished: its attempt stopped (a crash, the function's timeout), maybe after sending.
INTERRUPTED = "an earlier attempt stopped after claiming this delivery, maybe after sending it"


@dataclass(frozen=True, slots=True)
class Claim:
    result: ClaimResult
    delivery_id: str
    attempts: int = 0
    retry_in: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryFacts:
    """What an operator filters and reads a delivery by."""

    destination: str
    event_id: str
    event_name: str | None = None
    kind: str | None = None
    conversion_id: str | None = None
    order_id: str | None = None
    # The conversion's tenant, in a deployment with a tenant list (GET /deliveries?tenant=).
    tenant: str | None = None

    def attributes(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "destination": self.destination,
            "event_id": self.event_id,
            "event_name": self.event_name,
            "kind": self.kind,
            "conversion_id": self.conversion_id,
            "order_id": self.order_id,
        }
        if self.tenant:  # only then: a single-business deployment's records are as they were
            found["tenant"] = self.tenant
        return found


class DeliveryLog:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        clock: Any = time.time,
        *,
        retention: Retention = DEFAULT_RETENTION,
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock
        self._retention = retention

    def _now(self) -> int:
        return int(self._clock())

    def _key(self, delivery_id: str) -> dict[str, Any]:
        return {"pk": serialize(keys.delivery_pk(delivery_id)), "sk": serialize(keys.DELIVERY)}

    def _message_item(self, facts: DeliveryFacts, delivery_id: str) -> dict[str, Any]:
        now = self._now()
        return {
            "pk": keys.delivery_pk(delivery_id),
            "sk": keys.DELIVERY_MESSAGE,
            "item_type": "delivery_message",
            "delivery_id": delivery_id,
            # what shop/redact and the tenant checks find it by, as they find the delivery
            **{k: v for k, v in facts.attributes().items() if v is not None},
            "created_at": now,
            "expires_at": self._retention.delivery_expiry(now),
        }

    def _keep_message(self, facts: DeliveryFacts, delivery_id: str, message: str, queue: str) -> bool:
        """The queued message, for the operator's replay, in an item of its own without index keys:
        every claim and outcome rewrites the delivery's item and its index copy, and DynamoDB charges
        a write for the whole item, so the event (about 2 KB) is written once an attempt, not four
        times (docs/cost.md). Written before the claim, so an erasure that finds the delivery's
        person finds it; False, and nothing written, when an erasure took the person out of it."""
        item = {**self._message_item(facts, delivery_id), "message": message, "queue": queue}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(reason) OR reason <> :erased",
                ExpressionAttributeValues={":erased": serialize(ERASED_REASON)},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _forget_message(self, facts: DeliveryFacts, delivery_id: str) -> None:
        """A delivery erased before its message had an item of its own: the message just kept goes
        (overwritten by a stub marked erased), so no later attempt writes the person back."""
        stub = {**self._message_item(facts, delivery_id), "reason": ERASED_REASON}
        self._client.put_item(TableName=self._table, Item=to_item(stub))

    def message(self, delivery_id: str) -> str | None:
        """The queued message a delivery replays: its own item, or the delivery's attribute where it
        was recorded before messages had items of their own."""
        found = self._client.get_item(
            TableName=self._table,
            Key={"pk": serialize(keys.delivery_pk(delivery_id)), "sk": serialize(keys.DELIVERY_MESSAGE)},
        ).get("Item")
        if found is not None:
            return str(from_item(found).get("message") or "") or None
        legacy = self.get(delivery_id) or {}
        return str(legacy.get("message") or "") or None

    def _base(
        self, facts: DeliveryFacts, delivery_id: str, status: DeliveryStatus, now: int
    ) -> UpdateBuilder:
        update = UpdateBuilder().set("item_type", "delivery").set("delivery_id", delivery_id)
        for name, value in facts.attributes().items():
            update.set(name, value)
        return (
            update.set("status", status.value)
            .set("updated_at", now)
            .set_if_absent("created_at", now)
            .set("gsi1pk", keys.delivery_status_pk(status.value))
            .set("gsi1sk", keys.delivery_status_sk(now, delivery_id))
            .set("expires_at", self._retention.delivery_expiry(now))
        )

    def claim(
        self,
        facts: DeliveryFacts,
        *,
        message: str,
        queue: str,
        lease_seconds: int,
        resend_interrupted: bool = False,
    ) -> Claim:
        """Take the right to send this event now, unless it was delivered, is ambiguous, or someone
        else holds it.

        The lease is taken right before the request and given back (lease_until 0) when the outcome
        is recorded, so a lease that ran out means the attempt stopped in between, maybe after
        sending. Only a destination that dedupes (`resend_interrupted`) may then be sent it again;
        for any other the delivery becomes ambiguous, for the operator to decide.
        """
        now = self._now()
        delivery_id = delivery_id_for(facts.destination, facts.event_id)
        if not self._keep_message(facts, delivery_id, message, queue):
            return Claim(ClaimResult.ERASED, delivery_id)
        update = self._base(facts, delivery_id, DeliveryStatus.PENDING, now)
        update.set("lease_until", now + lease_seconds)
        # a delivery recorded before messages had items of their own sheds its copy
        update.remove("message").remove("queue")
        update.add("attempts", 1)
        zero = update.value_token(0)
        status = update.name_token("status")
        lease = update.name_token("lease_until")
        delivered = update.value_token(DeliveryStatus.DELIVERED.value)
        ambiguous = update.value_token(DeliveryStatus.AMBIGUOUS.value)
        pending = update.value_token(DeliveryStatus.PENDING.value)
        free = f"attribute_not_exists({lease}) OR {lease} = {zero}"
        reason, erased = update.name_token("reason"), update.value_token(ERASED_REASON)
        if resend_interrupted:
            free += f" OR {lease} < {update.value_token(now)}"
        update.condition(
            f"attribute_not_exists(pk) OR ({status} <> {delivered} AND {status} <> {ambiguous} AND "
            f"({status} <> {pending} OR {free}) AND (attribute_not_exists({reason}) OR {reason} <> {erased}))"
        )
        try:
            result = self._client.update_item(
                TableName=self._table, Key=self._key(delivery_id), ReturnValues="ALL_NEW", **update.kwargs()
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            refused = self._not_claimed(facts, delivery_id, now)
            if refused.result is ClaimResult.ERASED:
                self._forget_message(facts, delivery_id)
            return refused
        stored = from_item(result["Attributes"])
        return Claim(ClaimResult.CLAIMED, delivery_id, int(stored.get("attempts", 1)))

    def _not_claimed(self, facts: DeliveryFacts, delivery_id: str, now: int) -> Claim:
        current = self.get(delivery_id) or {}
        attempts = int(current.get("attempts", 0))
        status = current.get("status")
        if status == DeliveryStatus.DELIVERED.value:
            return Claim(ClaimResult.ALREADY_DELIVERED, delivery_id, attempts)
        if status == DeliveryStatus.AMBIGUOUS.value:
            return Claim(ClaimResult.AMBIGUOUS, delivery_id, attempts)
        if current.get("reason") == ERASED_REASON:
            return Claim(ClaimResult.ERASED, delivery_id, attempts)
        lease_until = int(current.get("lease_until") or 0)
        if status == DeliveryStatus.PENDING.value and 0 < lease_until < now:
            if self._interrupted(delivery_id, facts, lease_until):
                return Claim(ClaimResult.INTERRUPTED, delivery_id, attempts)
            return Claim(ClaimResult.BUSY, delivery_id, attempts, 1)
        return Claim(ClaimResult.BUSY, delivery_id, attempts, max(1, lease_until - now))

    def _interrupted(self, delivery_id: str, facts: DeliveryFacts, lease_until: int) -> bool:
        """Records an interrupted claim as ambiguous, unless someone else moved it on meanwhile."""
        update = self._base(facts, delivery_id, DeliveryStatus.AMBIGUOUS, self._now()).set("lease_until", 0)
        update.set("reason", f"sent, outcome unknown: {INTERRUPTED}").set("last_error", INTERRUPTED)
        status, lease = update.name_token("status"), update.name_token("lease_until")
        pending, held = update.value_token(DeliveryStatus.PENDING.value), update.value_token(lease_until)
        update.condition(f"{status} = {pending} AND {lease} = {held}")
        try:
            self._client.update_item(TableName=self._table, Key=self._key(delivery_id), **update.kwargs())
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _finish(
        self,
        delivery_id: str,
        facts: DeliveryFacts,
        status: DeliveryStatus,
        extra: dict[str, Any],
        *,
        unless_delivered: bool = False,
        remove: tuple[str, ...] = (),
    ) -> bool:
        """False when the delivery was left as it was: erased, or delivered with `unless_delivered`."""
        now = self._now()
        update = self._base(facts, delivery_id, status, now).set("lease_until", 0)
        for name, value in extra.items():
            update.set(name, value)
        for name in remove:
            update.remove(name)
        # An erased delivery stays as the erasure left it: no later outcome writes the person back.
        reason, erased = update.name_token("reason"), update.value_token(ERASED_REASON)
        condition = f"(attribute_not_exists({reason}) OR {reason} <> {erased})"
        if unless_delivered:
            status_name = update.name_token("status")
            delivered = update.value_token(DeliveryStatus.DELIVERED.value)
            condition += f" AND {status_name} <> {delivered}"
        update.condition(f"attribute_not_exists(pk) OR {condition}")
        # when delivered already, a skip decided later changes nothing
        try:
            self._client.update_item(TableName=self._table, Key=self._key(delivery_id), **update.kwargs())
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def mark_delivered(
        self,
        delivery_id: str,
        facts: DeliveryFacts,
        status_code: int | None,
        response: Any = None,
        *,
        note: str | None = None,
    ) -> None:
        extra: dict[str, Any] = {"delivered_at": self._now(), "last_status_code": status_code}
        if isinstance(response, dict) and response:
            extra["response"] = response
        if note:
            extra["reason"] = note
        # a reason left from an earlier failure would no longer be true
        self._finish(delivery_id, facts, DeliveryStatus.DELIVERED, extra, remove=() if note else ("reason",))

    def mark_retrying(
        self, delivery_id: str, facts: DeliveryFacts, status_code: int | None, error: str, delay: int
    ) -> None:
        self._finish(
            delivery_id,
            facts,
            DeliveryStatus.PENDING,
            {
                "last_status_code": status_code,
                "last_error": error,
                "retry_delay_seconds": delay,
                "next_attempt_at": self._now() + delay,
            },
        )

    def mark_failed(
        self, delivery_id: str, facts: DeliveryFacts, status_code: int | None, error: str
    ) -> None:
        self._finish(
            delivery_id,
            facts,
            DeliveryStatus.FAILED,
            {"last_status_code": status_code, "last_error": error, "reason": error},
        )

    def mark_ambiguous(
        self, delivery_id: str, facts: DeliveryFacts, status_code: int | None, error: str
    ) -> None:
        self._finish(
            delivery_id,
            facts,
            DeliveryStatus.AMBIGUOUS,
            {"last_status_code": status_code, "last_error": error, "reason": error},
        )

    def release(self, delivery_id: str, facts: DeliveryFacts) -> None:
        """Gives back a claim whose request was never started: as if this attempt had not been."""
        update = UpdateBuilder().set("lease_until", 0).add("attempts", -1, start=None)
        status, pending = update.name_token("status"), update.value_token(DeliveryStatus.PENDING.value)
        update.condition(f"{status} = {pending}")
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(TableName=self._table, Key=self._key(delivery_id), **update.kwargs())

    # -- the operator's decisions (POST /deliveries/{id}/confirm and /retry) -----------------------

    def _operator_update(
        self, delivery_id: str, update: UpdateBuilder, *, allow_skipped: bool
    ) -> OperatorResult:
        """Applies an operator's decision unless the delivery is delivered or in flight right now."""
        now = self._now()
        status, lease = update.name_token("status"), update.name_token("lease_until")
        delivered = update.value_token(DeliveryStatus.DELIVERED.value)
        pending = update.value_token(DeliveryStatus.PENDING.value)
        zero, now_token = update.value_token(0), update.value_token(now)
        condition = (
            f"attribute_exists(pk) AND {status} <> {delivered} AND ({status} <> {pending} OR "
            f"attribute_not_exists({lease}) OR {lease} = {zero} OR {lease} < {now_token})"
        )
        if not allow_skipped:
            condition += f" AND {status} <> {update.value_token(DeliveryStatus.SKIPPED.value)}"
        # An erased delivery is never reopened nor confirmed: its person is gone (docs/privacy.md).
        reason, erased = update.name_token("reason"), update.value_token(ERASED_REASON)
        condition += f" AND (attribute_not_exists({reason}) OR {reason} <> {erased})"
        update.condition(condition)
        try:
            self._client.update_item(TableName=self._table, Key=self._key(delivery_id), **update.kwargs())
        except self._client.exceptions.ConditionalCheckFailedException:
            current = self.get(delivery_id)
            if current is None:
                return OperatorResult.MISSING
            if current.get("reason") == ERASED_REASON:
                return OperatorResult.ERASED
            if current.get("status") == DeliveryStatus.DELIVERED.value:
                return OperatorResult.ALREADY_DELIVERED
            if current.get("status") == DeliveryStatus.SKIPPED.value:
                return OperatorResult.SKIPPED
            return OperatorResult.IN_FLIGHT
        return OperatorResult.DONE

    def confirm(self, delivery_id: str) -> OperatorResult:
        """The operator saw the event at the destination: delivered, and nothing is sent."""
        now = self._now()
        update = (
            UpdateBuilder()
            .set("status", DeliveryStatus.DELIVERED.value)
            .set("updated_at", now)
            .set("delivered_at", now)
            .set("confirmed_by_operator", True)
            .set("reason", "confirmed by the operator: not sent again")
            .set("lease_until", 0)
            .set("gsi1pk", keys.delivery_status_pk(DeliveryStatus.DELIVERED.value))
            .set("gsi1sk", keys.delivery_status_sk(now, delivery_id))
            .set("expires_at", self._retention.delivery_expiry(now))
        )
        return self._operator_update(delivery_id, update, allow_skipped=False)

    def reopen(self, delivery_id: str) -> OperatorResult:
        """The operator asked for another attempt: an ambiguous or failed delivery may be claimed
        and sent again (what the claim refuses to do on its own)."""
        now = self._now()
        update = (
            UpdateBuilder()
            .set("status", DeliveryStatus.PENDING.value)
            .set("updated_at", now)
            .set("lease_until", 0)
            .set("reason", "the operator asked for another attempt")
            .set("gsi1pk", keys.delivery_status_pk(DeliveryStatus.PENDING.value))
            .set("gsi1sk", keys.delivery_status_sk(now, delivery_id))
            .set("expires_at", self._retention.delivery_expiry(now))
        )
        return self._operator_update(delivery_id, update, allow_skipped=True)

    def mark_skipped(self, facts: DeliveryFacts, reason: str, *, message: str, queue: str) -> str:
        delivery_id = delivery_id_for(facts.destination, facts.event_id)
        if not self._keep_message(facts, delivery_id, message, queue):
            return delivery_id  # its person was erased: nothing of it is written again
        skipped = self._finish(
            delivery_id,
            facts,
            DeliveryStatus.SKIPPED,
            {"reason": reason},
            unless_delivered=True,
            remove=("message", "queue"),
        )
        if not skipped and (self.get(delivery_id) or {}).get("reason") == ERASED_REASON:
            self._forget_message(facts, delivery_id)
        return delivery_id

    # -- reads -----------------------------------------------------------------------------------

    def get(self, delivery_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=self._key(delivery_id)).get("Item")
        return from_item(item) if item else None

    def get_for(self, destination: str, event_id: str) -> dict[str, Any] | None:
        return self.get(delivery_id_for(destination, event_id))

    def list(
        self,
        *,
        status: str | None = None,
        destination: str | None = None,
        order_id: str | None = None,
        tenant: str | None = None,
        untenanted: bool = False,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Newest first. One query per status partition; the other filters narrow each page.
        `tenant`: the deliveries naming it, and with `untenanted` those naming no tenant too."""
        statuses = [status] if status else [s.value for s in DeliveryStatus]
        found: list[dict[str, Any]] = []
        for one in statuses:
            query: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": keys.GSI1,
                "KeyConditionExpression": "gsi1pk = :pk",
                "ExpressionAttributeValues": {":pk": serialize(keys.delivery_status_pk(one))},
                "ScanIndexForward": False,
            }
            filters = []
            if destination:
                filters.append("destination = :destination")
                query["ExpressionAttributeValues"][":destination"] = serialize(destination)
            if order_id:
                filters.append("order_id = :order_id")
                query["ExpressionAttributeValues"][":order_id"] = serialize(order_id)
            if tenant:
                either = "(#tenant = :tenant OR attribute_not_exists(#tenant))"
                filters.append(either if untenanted else "#tenant = :tenant")
                query["ExpressionAttributeNames"] = {"#tenant": "tenant"}
                query["ExpressionAttributeValues"][":tenant"] = serialize(tenant)
            if filters:
                query["FilterExpression"] = " AND ".join(filters)
            for page in self._client.get_paginator("query").paginate(**query):
                found.extend(from_item(item) for item in page.get("Items", []))
                if len(found) >= limit * len(statuses):
                    break
        found.sort(key=lambda item: (item.get("updated_at", 0), item.get("delivery_id", "")), reverse=True)
        return found[:limit]

    # -- references a destination hands back (360dialog's external_event_id) ---------------------

    def remember_reference(self, destination: str, key: str, value: str) -> None:
        """First writer wins: the chain's head stays the first event the destination accepted."""
        update = (
            UpdateBuilder()
            .set("item_type", "delivery_reference")
            .set_if_absent("value", value)
            .set("expires_at", self._retention.delivery_expiry(self._now()))
        )
        self._client.update_item(
            TableName=self._table,
            Key=_reference_key(destination, key),
            **update.kwargs(),
        )

    def reference(self, destination: str, key: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=_reference_key(destination, key),
        ).get("Item")
        if not item:
            return None
        value = from_item(item).get("value")
        return str(value) if value else None


def _reference_key(destination: str, key: str) -> dict[str, Any]:
    return {"pk": serialize(keys.delivery_reference_pk(destination, key)), "sk": serialize(keys.REFERENCE)}
