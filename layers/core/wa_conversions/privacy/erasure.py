"""Erasing a person everywhere (GDPR Art. 17, CCPA): DELETE /contacts/{id} and Shopify's
customers/redact and shop/redact (docs/privacy.md, "Erasure").

What is the person's is found by what it holds, not by where it should be: one paginated Scan of the
table whose filter names the person's contact keys (every merged key and alias included), phones,
user ids and emails, in key attributes and inside the stored event bodies. Then:

- the person's own items (contact, merged pointers, aliases, messages, referrals, link tokens, emails,
  analytics state, idempotency answers) are deleted;
- orders, follow-ups, off-thread events and deliveries keep their amounts and the ad they are
  attributed to, and lose every value that names the person (phone, email, names, addresses, their
  SHA-256); a delivery not sent yet becomes `skipped` with the reason `erased`;
- each erased message id is kept as a tombstone (its SHA-256, in the idempotency table), so that a
  redelivered webhook of an old message is dropped (capture.service);
- the phone and user id are kept only as keyed hashes (HMAC-SHA256, a secret from SSM) that lead to
  the erasure's answer, so that erasing again answers the same.

It runs in the ErasureFunction, off the erasure queue (privacy.jobs): every step is safe to repeat,
the contact profiles go last, and an erasure cut short (a crash, or too little of the invocation left)
stays `pending` with what it planned and is finished when SQS hands the job over again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..attribution.conversions import shopify_conversion_id
from ..aws_limits import DYNAMODB_BATCH_WRITE_MAX
from ..delivery.log import ERASED_REASON
from ..store import keys
from ..store.dynamo import UpdateBuilder, batch_write, from_item, serialize, to_item
from ..store.ledger import UpdateLedger
from ..tenants import scoped_key, split_key
from .requests import (
    DONE,
    ERASURE_SK,
    FAILED,
    PENDING,
    SUBJECT_FIELDS,
    SUPPRESSION_SK,
    ErasureRequests,
    erasure_view,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from ..store.capture import CaptureRepository
    from ..tenants import TenantDirectory

# A redacted item that changed between the read and the write is read and redacted again this often.
MAX_REWRITE_ROUNDS = 4
# DynamoDB allows 100 operands in one IN; a person has a handful of keys, this only bounds the odd one.
MAX_IN_OPERANDS = 100
# A merge chain is at most this deep (store.capture.followed_key): each pass may find one more link.
MAX_PASSES = 4
# Items that keep what counts (amounts, the ad) once the person's values are taken out of them.
REDACTED_KINDS = frozenset({"order", "order_follow_up", "external_event", "delivery", "delivery_message"})
# Attributes and JSON fields that name a person whatever their value (Shopify, Meta user_data, Segment).
PERSONAL_FIELDS = frozenset(
    {
        "phone", "phone_number", "lead_phone", "email", "name", "first_name", "last_name", "firstName",
        "lastName", "username", "user_id", "userId", "parent_user_id", "contact_key", "contact", "wa_id",
        "to", "from", "address", "address1", "address2", "billing_address", "shipping_address",
        "default_address", "customer", "user_data", "traits", "ph", "em", "fn", "ln", "ct", "st", "zp",
        "external_id", "client_ip_address", "client_user_agent", "fbc", "fbp", "ip", "userAgent",
        "keys_tried", "web", "response", "last_error", "contactKey", "referral_message_id",
        "referralMessageId", "message_id", "messageId",
    }
)  # fmt: skip
# Attributes that locate an item: never scrubbed (a key holding a personal value deletes the item).
KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk")
# Seconds of the invocation kept for recording progress when an erasure is cut short.
MIN_SECONDS_LEFT = 60
# The longest an attempt holds its erasure: the ErasureFunction's timeout (template.yaml).
LEASE_SECONDS = 900
LEASE_FIELDS = ("lease_until", "lease_token")
# An export is one item: DynamoDB's limit is 400 KB, less its key and other attributes
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
EXPORT_MAX_BYTES = 390_000
_DROP = object()


class ErasureCutShort(RuntimeError):
    """Too little of the invocation is left to go on: the job fails and SQS hands it over again."""


class ErasureBusy(ErasureCutShort):
    """Another attempt runs this erasure now (SQS delivers at least once): this copy backs off, and
    SQS hands it over again later, when that attempt is done or its lease ran out."""


def tombstones(client: DynamoDBClient, idempotency_table: str, ttl_seconds: int) -> UpdateLedger:
    """The erased message ids, in the idempotency table: capture drops updates of any of them."""
    return UpdateLedger(client, idempotency_table, ttl_seconds=ttl_seconds, namespace=keys.ERASED_MESSAGES)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Person:
    """Everything that identifies one person, as found so far."""

    contact_keys: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    user_ids: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    # The tenant scope of the person's contact keys ("<tenant>~<phone>"; "" for the default tenant's):
    # the same phone at another tenant is another person (docs/tenants.md).
    scope: str = ""

    def finders(self) -> set[str]:
        """Values specific enough to find the person's items by (never a name: others share it)."""
        return {v for v in (*self.phones, *self.user_ids, *self.emails) if v}

    def needles(self) -> Needles:
        """Every value that must not survive, lower-cased, with the SHA-256 Meta and others send."""
        plain = {v.strip().lower() for v in self.finders() if len(v.strip()) >= 3}
        for phone in self.phones:
            plain.add(f"+{phone}")
        names = {name.strip().lower() for name in self.names if name.strip()}
        # A name is also matched by each of its words: Meta's user_data hashes first and last apart.
        names |= {part for name in names for part in name.split()}
        hashed = {_sha256(v) for v in plain | names}
        return Needles(inside=tuple(sorted(plain | hashed)), whole=frozenset(names))

    def size(self) -> int:
        return sum(len(s) for s in (self.contact_keys, self.phones, self.user_ids, self.emails))


@dataclass(frozen=True)
class Needles:
    """What names the person in a stored value: `inside` anywhere in it (phones, ids, emails and every
    SHA-256, specific enough), `whole` only as the whole value (names: "Ted" is inside "attributed")."""

    inside: tuple[str, ...]
    whole: frozenset[str] = frozenset()

    def held_by(self, text: str) -> bool:
        lowered = text.strip().lower()
        return lowered in self.whole or any(needle in lowered for needle in self.inside)

    def locate(self, text: str) -> bool:
        """Whether a key holds the person: names never count (a shop or an id may contain one)."""
        lowered = text.lower()
        return any(needle in lowered for needle in self.inside)


@dataclass(frozen=True)
class Plan:
    """What one erasure changes: items to delete (profiles last) and items rewritten without PII."""

    deletes: list[dict[str, Any]]
    rewrites: list[dict[str, Any]]
    message_ids: set[str]
    erased: dict[str, int]
    redacted: dict[str, int]
    # the capture ledger's entries of the erased messages: their keys hold the wamid, which holds the phone
    ledger_ids: set[str] = field(default_factory=set)
    # what the rewrites were made with: one that changed since it was read is redacted again
    needles: Needles | None = None


def kind_of(item: dict[str, Any]) -> str:
    kind = item.get("item_type")
    if isinstance(kind, str) and kind:
        return kind
    pk = str(item.get("pk", ""))
    if keys.analytics_state_contact_of(pk) is not None:
        return "analytics_state"
    return pk.split("#", 1)[0].lower() or "item"


class Eraser:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        idempotency_table_name: str,
        *,
        hash_key: str,
        tombstone_ttl_seconds: int,
        clock: Callable[[], float] = time.time,
        tenants: Callable[[], TenantDirectory] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sleep = sleep
        self._client = client
        self._table = table_name
        self._tenants = tenants
        self.requests = ErasureRequests(
            client, table_name, hash_key=hash_key, ttl_seconds=tombstone_ttl_seconds, clock=clock
        )
        self._tombstones = tombstones(client, idempotency_table_name, tombstone_ttl_seconds)
        # store.ledger's entries of webhook updates (capture.pipeline's namespace); never written here
        self._capture_ledger = UpdateLedger(
            client, idempotency_table_name, ttl_seconds=0, namespace=keys.CAPTURE_UPDATES
        )
        # The erasure's answer and its marks last as long as the tombstones: a message kept no longer
        # than that can no longer come back (docs/privacy.md, "Retention").
        self._ttl = tombstone_ttl_seconds
        self._clock = clock
        self._seconds_left: Callable[[], float] = lambda: float("inf")
        # The items the last collect() read, as stored: a rewrite changes them only if they are still so.
        self._snapshots: dict[tuple[str, str], dict[str, Any]] = {}

    def within(self, seconds_left: Callable[[], float]) -> Eraser:
        """Check the invocation's remaining time (seconds) between pages and batches from now on."""
        self._seconds_left = seconds_left
        return self

    def tenant_directory(self) -> TenantDirectory:
        """The deployment's tenants (wa_conversions.tenants); the implicit one without a loader."""
        from ..tenants import TenantDirectory

        return self._tenants() if self._tenants is not None else TenantDirectory(None)

    def _record_tenants(self, scope: str) -> frozenset[str | None]:
        """The `tenant` a record of this scope holds: its tenant's id, or none or the default's id
        for the default scope (store.capture and attribution.orders write it so)."""
        if scope:
            return frozenset({scope})
        directory = self.tenant_directory()
        return frozenset({None, *(t.id for t in directory.tenants if not directory.scope(t))})

    def _go_on(self) -> None:
        if self._seconds_left() < MIN_SECONDS_LEFT:
            raise ErasureCutShort("too little time left; the job is retried and goes on from here")

    # -- erasing -------------------------------------------------------------------------------------

    def erase(
        self, person: Person, *, reason: str, seed: str = "", erasure_id: str | None = None
    ) -> dict[str, Any]:
        """Erase everything of `person` under `erasure_id` (or the id `seed` makes: the same contact,
        asked twice, one id)."""
        erasure_id = erasure_id or self.requests.erasure_id(seed)
        record = self._leased(self._started(erasure_id, reason))
        try:
            return self._erase(record, person)
        except Exception:
            self._release(record)
            raise

    def _erase(self, record: dict[str, Any], person: Person) -> dict[str, Any]:
        erasure_id = str(record["erasure_id"])
        plan = self.plan(self.collect(person), person, int(self._clock()))
        now = int(self._clock())
        # The suppression marks first: whatever happens next, asking again leads here.
        marks = [
            {
                "pk": keys.suppression_pk(self.requests.identity_hash(kind, scoped_key(person.scope, value))),
                "sk": SUPPRESSION_SK,
                "item_type": "suppression",
                "erasure_id": erasure_id,
                "erased_at": now,
                "expires_at": now + self._ttl,
            }
            for kind, values in (("phone", person.phones), ("user", person.user_ids))
            for value in sorted(values)
        ]
        return self._apply(record, plan, marks)

    def erase_shop(self, shop: str, *, seed: str) -> dict[str, Any]:
        """shop/redact: every order, follow-up, delivery and export of the shop, deleted."""
        record = self._leased(self._started(self.requests.erasure_id(seed), "shopify:shop/redact"))
        try:
            return self._erase_shop(record, shop)
        except Exception:
            self._release(record)
            raise

    def _erase_shop(self, record: dict[str, Any], shop: str) -> dict[str, Any]:
        found = list(
            self._paged_scan(
                "#shop = :shop OR begins_with(#conversion, :conversions) OR begins_with(#pk, :exports)",
                {"#shop": "shop", "#conversion": "conversion_id", "#pk": "pk"},
                {
                    ":shop": serialize(shop),
                    ":conversions": serialize(shopify_conversion_id(shop, "")),
                    ":exports": serialize(keys.data_export_pk(shop, "")),
                },
            )
        )
        erased = Counter(kind_of(item) for item in found)
        plan = Plan(found, [], set(), dict(sorted(erased.items())), {})
        return self._apply(record, plan, [])

    def _leased(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record, held by this attempt until its invocation ends; ErasureBusy if another holds it."""
        now = int(self._clock())
        until = now + int(min(self._seconds_left(), LEASE_SECONDS)) + 1
        token = uuid.uuid4().hex
        update = UpdateBuilder().set("lease_until", until).set("lease_token", token)
        held, now_token = update.name_token("lease_until"), update.value_token(now)
        update.condition(f"attribute_exists(pk) AND (attribute_not_exists({held}) OR {held} < {now_token})")
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": serialize(record["pk"]), "sk": serialize(record["sk"])},
                **update.kwargs(),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            raise ErasureBusy("another attempt runs this erasure; the job is retried later") from None
        return {**record, "lease_until": until, "lease_token": token}

    def _release(self, record: dict[str, Any]) -> None:
        """Give the lease back at once (a cut-short attempt's retry need not wait for it to run out)."""
        update = UpdateBuilder().remove("lease_until").remove("lease_token")
        update.condition(f"{update.name_token('lease_token')} = {update.value_token(record['lease_token'])}")
        # done meanwhile (its answer holds no lease), or another attempt holds it now: nothing to give
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.update_item(
                TableName=self._table,
                Key={"pk": serialize(record["pk"]), "sk": serialize(record["sk"])},
                **update.kwargs(),
            )

    def _started(self, erasure_id: str, reason: str) -> dict[str, Any]:
        """The erasure's record as it is, or a new pending one: GET /erasures/{id} says `pending`."""
        record = self.requests.record(erasure_id)
        if record is None:
            now = int(self._clock())
            record = {
                "pk": keys.erasure_pk(erasure_id),
                "sk": ERASURE_SK,
                "item_type": "erasure",
                "erasure_id": erasure_id,
                "status": PENDING,
                "reason": reason,
                "requested_at": now,
                "expires_at": now + self._ttl,
            }
            self._put(record)
        return record

    def _apply(self, record: dict[str, Any], plan: Plan, marks: list[dict[str, Any]]) -> dict[str, Any]:
        if record.get("status") == DONE:
            if not (plan.deletes or plan.rewrites):
                return erasure_view(record)  # asked again, nothing new: the same answer
            # Asked again after more arrived (a redelivered redact, a new order): both counted.
            plan = _with_counts(
                plan,
                _summed(record.get("erased"), plan.erased),
                _summed(record.get("redacted"), plan.redacted),
            )
        elif "planned_erased" in record:
            # An earlier attempt was cut short after planning: what it already took is not found again.
            plan = _with_counts(
                plan,
                _widest(record.get("planned_erased"), plan.erased),
                _widest(record.get("planned_redacted"), plan.redacted),
            )
        # Progress: what this attempt is about to do, kept should it be cut short.
        progress = {
            **record,
            "status": PENDING,
            "planned_erased": plan.erased,
            "planned_redacted": plan.redacted,
            "attempts": int(record.get("attempts", 0)) + 1,
        }
        self._put(progress)
        self._write([{"PutRequest": {"Item": to_item(mark)}} for mark in marks])
        self._tombstones.mark_applied(keys.erased_message_key(m) for m in sorted(plan.message_ids))
        # The tombstones now drop the messages' redeliveries: the ledger entries naming them can go.
        self._capture_ledger.forget(sorted(plan.ledger_ids))
        for index, rewritten in enumerate(plan.rewrites):
            if index % DYNAMODB_BATCH_WRITE_MAX == 0:
                self._go_on()
            self._rewrite(rewritten, plan.needles)
        profiles = [item for item in plan.deletes if item.get("sk") == keys.PROFILE]
        others = [item for item in plan.deletes if item.get("sk") != keys.PROFILE]
        # A contact's analytics head goes first: a commit racing the erasure is conditioned on its
        # version, so fails; its partition is then read again for fact items written since the scan.
        heads = [i for i in others if kind_of(i) == "analytics_state" and i.get("sk") == keys.ANALYTICS_STATE]
        rest = {(str(i["pk"]), str(i["sk"])): i for i in others if i not in heads}
        self._delete(heads)
        for pk in sorted({str(i["pk"]) for i in others if kind_of(i) == "analytics_state"}):
            rest.update({(str(i["pk"]), str(i["sk"])): i for i in self._partition(pk)})
        for group in (list(rest.values()), profiles):
            self._delete(group)
        # The answer holds none of what the erasure started from (the subject) nor its progress.
        done = {
            k: v
            for k, v in progress.items()
            if k not in {*SUBJECT_FIELDS, *LEASE_FIELDS, "planned_erased", "planned_redacted", "attempts"}
        }
        done.update(status=DONE, completed_at=int(self._clock()), erased=plan.erased, redacted=plan.redacted)
        self._put(done)
        return erasure_view(done)

    # -- what Shopify's compliance webhooks read and write (privacy.shopify) ------------------------

    def contacts_with_email(self, email: str) -> set[str]:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": serialize(keys.email_pk(email))},
            ProjectionExpression="contact_key",
        )
        return {str(from_item(item)["contact_key"]) for item in response.get("Items", [])}

    def orders(self, shop: str, order_ids: list[str]) -> list[dict[str, Any]]:
        found = (
            self._get(keys.order_pk(shop, order_id), keys.ORDER) for order_id in dict.fromkeys(order_ids)
        )
        return [order for order in found if order is not None]

    def put_export(self, pk: str, document: str, expires_at: int) -> bool:
        """The data request's export at `pk`; False when it is too large, and its record says so."""
        export = {"pk": pk, "sk": keys.EXPORT, "item_type": "data_export", "expires_at": expires_at}
        if reason := too_large(document):
            self._put({**export, "status": FAILED, "reason": reason})
            return False
        self._put({**export, "document": document})
        return True

    def finish_export(self, request: dict[str, Any], person: Person) -> str:
        """GET /contacts/{id}/export's document, written into its request, which is then `done`."""
        document = json.dumps(
            {"held": export_document(self.collect(person))}, separators=(",", ":"), default=str
        )
        done = {k: v for k, v in request.items() if k not in SUBJECT_FIELDS}
        if reason := too_large(document):
            done.update(status=FAILED, completed_at=int(self._clock()), reason=reason)
        else:
            done.update(status=DONE, completed_at=int(self._clock()), document=document)
        self._put(done)
        return str(done["status"])

    def collect(self, person: Person) -> dict[tuple[str, str], dict[str, Any]]:
        """Every item that names the person, widening the person with what each pass finds (a merged
        pointer's old phone, an order's email) until nothing new turns up."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        self._snapshots = {}
        tenants = self._record_tenants(person.scope)
        for _ in range(MAX_PASSES):
            before = person.size()
            for item in self._scan(person):
                if not in_scope(item, person.scope, tenants):
                    continue  # another tenant's contact that shares a value: not this person
                found[(str(item["pk"]), str(item["sk"]))] = item
                _learn(person, item)
            if person.size() == before:
                break
        self._add_deliveries_of_messages(found)
        return found

    def _add_deliveries_of_messages(self, found: dict[tuple[str, str], dict[str, Any]]) -> None:
        """The delivery of each queued message found: the message names the person, the delivery's
        own item may not, and a delivery not yet sent must become skipped (redact) all the same."""
        for pk, _ in [key for key, item in found.items() if kind_of(item) == "delivery_message"]:
            if (pk, keys.DELIVERY) in found:
                continue
            raw = self._client.get_item(
                TableName=self._table,
                Key={"pk": serialize(pk), "sk": serialize(keys.DELIVERY)},
                ConsistentRead=True,
            ).get("Item")
            if raw is not None:
                self._snapshots[(pk, keys.DELIVERY)] = raw  # rewritten as read, like a scanned item
                found[(pk, keys.DELIVERY)] = from_item(raw)

    def plan(self, found: dict[tuple[str, str], dict[str, Any]], person: Person, now: int) -> Plan:
        needles = person.needles()
        deletes: list[dict[str, Any]] = []
        rewrites: list[dict[str, Any]] = []
        message_ids: set[str] = set()
        ledger_ids: set[str] = set()
        erased: Counter[str] = Counter()
        redacted: Counter[str] = Counter()
        for item in found.values():
            kind = kind_of(item)
            if kind in {"erasure", "suppression"}:
                continue
            if kind == "message":
                message_id = str(item["pk"]).removeprefix(keys.message_pk(""))
                message_ids.add(message_id)
                ledger_ids.update(_ledger_ids(message_id, item))
            if kind == "referral" and item.get("message_id"):
                message_ids.add(str(item["message_id"]))
            located_by_person = any(needles.locate(str(item.get(k, ""))) for k in ("pk", "sk"))
            if kind in REDACTED_KINDS and not located_by_person:
                rewrites.append(redact(item, needles, now))
                redacted[kind] += 1
            else:
                deletes.append(item)
                erased[kind] += 1
        return Plan(
            deletes,
            rewrites,
            message_ids,
            dict(sorted(erased.items())),
            dict(sorted(redacted.items())),
            ledger_ids,
            needles,
        )

    # -- the scan --------------------------------------------------------------------------------

    def _scan(self, person: Person) -> Iterator[dict[str, Any]]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}

        def name(attribute: str) -> str:
            token = f"#n{len(names)}"
            names[token] = attribute
            return token

        def value(text: str) -> str:
            token = f":v{len(values)}"
            values[token] = serialize(text)
            return token

        def among(path: tuple[str, ...], candidates: Iterable[str]) -> str | None:
            listed = sorted(set(candidates))[:MAX_IN_OPERANDS]
            if not listed:
                return None
            attribute = ".".join(name(part) for part in path)
            return f"{attribute} IN ({', '.join(value(c) for c in listed)})"

        contact_keys = sorted(person.contact_keys)
        partitions = [keys.contact_pk(k) for k in contact_keys]
        partitions += [keys.analytics_state_pk(k) for k in contact_keys]
        partitions += [keys.user_alias_pk(scoped_key(person.scope, u)) for u in person.user_ids]
        partitions += [keys.email_pk(e) for e in person.emails]
        phones = person.phones | {f"+{p}" for p in person.phones}
        clauses = [
            among(("pk",), partitions),
            among(("gsi1pk",), [keys.contact_pk(k) for k in contact_keys]),
            among(("contact_key",), contact_keys),
            among(("merged_into",), contact_keys),
            among(("attribution", "contact_key"), contact_keys),
            among(("phone",), phones),
            among(("lead_phone",), phones),
            among(("email",), person.emails),
            among(("user_id",), person.user_ids),
        ]
        finders = sorted(person.finders())
        bodies = (
            [
                name(a)
                for a in ("message", "event_detail", "response", "state", "head", "fact", "facts", "document")
            ]
            if finders
            else []
        )
        for finder in finders:
            token = value(finder)
            clauses.extend(f"contains({body}, {token})" for body in bodies)
        expression = " OR ".join(c for c in clauses if c)
        if not expression:
            return
        yield from self._paged_scan(expression, names, values)

    def _paged_scan(
        self, expression: str, names: dict[str, str], values: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self._table,
            FilterExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        ):
            for raw in page.get("Items", []):
                self._snapshots[(str(raw["pk"].get("S")), str(raw["sk"].get("S")))] = raw
                yield from_item(raw)
            self._go_on()

    # -- writes ----------------------------------------------------------------------------------

    def _write(self, requests: list[dict[str, Any]]) -> None:
        # Unfinished (UnprocessedError), the erasure is asked for again and goes on where it stopped.
        batch_write(
            self._client,
            self._table,
            requests,
            what="erasure writes",
            sleep=self._sleep,
            before_call=self._go_on,
        )

    def _delete(self, items: list[dict[str, Any]]) -> None:
        self._write([{"DeleteRequest": {"Key": {k: serialize(i[k]) for k in ("pk", "sk")}}} for i in items])

    def _partition(self, pk: str) -> Iterator[dict[str, Any]]:
        """The keys of every item under pk, read strongly consistent."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": serialize(pk)},
            "ProjectionExpression": "pk, sk",
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**kwargs)
            yield from (from_item(raw) for raw in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _rewrite(self, rewritten: dict[str, Any], needles: Needles | None) -> None:
        """Write a redaction as changes to the item as it was read, never the whole item: a refund
        written since the scan is kept, and an item changed since is read and redacted again."""
        key = {k: serialize(rewritten[k]) for k in ("pk", "sk")}
        stored = self._snapshots.get((str(rewritten["pk"]), str(rewritten["sk"])))
        for _ in range(MAX_REWRITE_ROUNDS):
            if stored is None:
                stored = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get(
                    "Item"
                )
                if stored is None:
                    return  # gone meanwhile (its expiry, a shop/redact): nothing of the person is left in it
                if needles is None:
                    raise RuntimeError("an item changed under the erasure; the job is retried")
                rewritten = redact(from_item(stored), needles, int(self._clock()))
            changes = _changes(stored, rewritten)
            if changes is None:
                return
            try:
                self._client.update_item(TableName=self._table, Key=key, **changes)
            except self._client.exceptions.ConditionalCheckFailedException:
                stored = None  # changed since it was read: read it again
            else:
                return
        raise RuntimeError("an item kept changing under the erasure; the job is retried")

    def _put(self, item: dict[str, Any]) -> None:
        self._write([{"PutRequest": {"Item": to_item(item)}}])

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": serialize(pk), "sk": serialize(sk)}, ConsistentRead=True
        ).get("Item")
        return from_item(item) if item else None


def too_large(document: str) -> str | None:
    """Why an export cannot be written into one item (DynamoDB's 400 KB, its other attributes
    included), or None when it fits."""
    size = len(document.encode())
    if size <= EXPORT_MAX_BYTES:
        return None
    return (
        f"The export is {size} bytes, more than one table item holds ({EXPORT_MAX_BYTES}): "
        'read the person\'s items off the table instead (docs/privacy.md, "Answering a data request")'
    )


def _ledger_ids(message_id: str, message: dict[str, Any]) -> set[str]:
    """The capture ledger's ids of a message's updates (providers: msg:<id>, status:<id>:<status>),
    its statuses read from the times it recorded (at_<status>)."""
    statuses = {name.removeprefix("at_") for name in message if name.startswith("at_")}
    return {f"msg:{message_id}", *(f"status:{message_id}:{status}" for status in statuses)}


def _with_counts(plan: Plan, erased: dict[str, int], redacted: dict[str, int]) -> Plan:
    return Plan(
        plan.deletes, plan.rewrites, plan.message_ids, erased, redacted, plan.ledger_ids, plan.needles
    )


def _changes(stored: dict[str, Any], rewritten: dict[str, Any]) -> dict[str, Any] | None:
    """UpdateItem arguments that SET and REMOVE only the attributes the redaction changed, on condition
    each is still as read (`stored`, as DynamoDB holds it); None when nothing changed."""
    before = from_item(stored)
    update = UpdateBuilder()
    conditions = [f"attribute_exists({update.name_token('pk')})"]
    for attribute in sorted((set(before) | set(rewritten)) - {"pk", "sk"}):
        new = rewritten.get(attribute)
        if attribute in before and new == before[attribute]:
            continue
        if attribute not in before and new is None:
            continue
        if new is None:
            update.remove(attribute)
        else:
            update.set(attribute, new)
        name = update.name_token(attribute)
        if attribute in stored:
            conditions.append(f"{name} = {update.stored_value_token(stored[attribute])}")
        else:
            conditions.append(f"attribute_not_exists({name})")
    if not update.expression:
        return None
    return update.condition(" AND ".join(conditions)).kwargs()


def _widest(before: Any, now: dict[str, int]) -> dict[str, int]:
    """Per kind, the larger count: a rerun finds only what the attempt before it left."""
    total: Counter[str] = Counter({str(k): int(v) for k, v in (before or {}).items()})
    for kind, count in now.items():
        total[kind] = max(total[kind], count)
    return dict(sorted(total.items()))


def _summed(before: Any, now: dict[str, int]) -> dict[str, int]:
    total: Counter[str] = Counter({str(k): int(v) for k, v in (before or {}).items()})
    total.update(now)
    return dict(sorted(total.items()))


def _contact_keys_named(item: dict[str, Any]) -> Iterator[str]:
    """The contact keys an item is located by or credited to."""
    for attribute, prefix in (
        ("pk", keys.contact_pk("")),
        ("pk", keys.analytics_state_pk("")),
        ("gsi1pk", keys.contact_pk("")),
    ):
        if isinstance(located := item.get(attribute), str) and located.startswith(prefix):
            yield located.removeprefix(prefix)
    attribution = item.get("attribution")
    credited = attribution.get("contact_key") if isinstance(attribution, dict) else None
    for named in (item.get("contact_key"), item.get("merged_into"), credited):
        if isinstance(named, str) and named:
            yield named


def in_scope(item: dict[str, Any], scope: str, tenants: frozenset[str | None]) -> bool:
    """Whether a found item is of the person's tenant: the contact keys it names say so (a scoped
    key is "<tenant>~<phone>"), else the `tenant` it records (docs/tenants.md)."""
    named = list(_contact_keys_named(item))
    if named:
        return all(split_key(key)[0] == scope for key in named)
    return (item.get("tenant") or None) in tenants


def _learn(person: Person, item: dict[str, Any]) -> None:
    """Widen the person with the identifiers an item of theirs holds."""
    kind = kind_of(item)
    pk = str(item.get("pk", ""))
    if kind in {"contact", "merged_contact"} and pk.startswith(keys.contact_pk("")):
        person.contact_keys.add(pk.removeprefix(keys.contact_pk("")))
    for attribute in ("contact_key", "merged_into"):
        if kind in {"contact", "merged_contact", "alias", "message", "referral", "link_token"} and (
            isinstance(found := item.get(attribute), str) and found
        ):
            person.contact_keys.add(found)
    profile = kind in {"contact", "merged_contact"}
    if profile and isinstance(phone := item.get("phone"), str) and phone.lstrip("+").isdigit():
        person.phones.add(phone.lstrip("+"))
    attribution = item.get("attribution")
    attributed = isinstance(attribution, dict) and attribution.get("contact_key") in person.contact_keys
    # Only an order credited to the person says their email: another one may merely share a value.
    email = item.get("email")
    if kind in {"order", "order_follow_up"} and attributed and isinstance(email, str) and "@" in email:
        person.emails.update({email.strip(), email.strip().lower()})
    if profile:
        for attribute in ("user_id", "parent_user_id"):
            if isinstance(user_id := item.get(attribute), str) and user_id:
                person.user_ids.add(user_id)
        for attribute in ("name", "username"):
            if isinstance(name := item.get(attribute), str) and name.strip():
                person.names.add(name.strip())
    if kind == "alias" and pk.startswith(keys.user_alias_pk("")):
        person.user_ids.add(pk.removeprefix(keys.user_alias_pk("")))


def _scrub(value: Any, needles: Needles) -> Any:
    """The value without what names the person: personal fields go, and so does any string that
    holds one of the person's values; JSON held in a string is scrubbed inside."""
    if isinstance(value, dict):
        kept = {k: _scrub(v, needles) for k, v in value.items() if k not in PERSONAL_FIELDS}
        return {k: v for k, v in kept.items() if v is not _DROP}
    if isinstance(value, list):
        return [s for s in (_scrub(v, needles) for v in value) if s is not _DROP]
    if isinstance(value, str):
        if value[:1] in ("{", "["):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict | list):
                return json.dumps(_scrub(parsed, needles), separators=(",", ":"))
        return _DROP if needles.held_by(value) else value
    return value


def redact(item: dict[str, Any], needles: Needles, now: int) -> dict[str, Any]:
    """An order, follow-up, off-thread event or delivery without the person in it; a delivery not yet
    sent is not sent afterwards."""
    located = {k: item[k] for k in KEY_ATTRIBUTES if k in item}
    scrubbed = _scrub({k: v for k, v in item.items() if k not in KEY_ATTRIBUTES}, needles)
    rewritten: dict[str, Any] = {**scrubbed, **located, "erased_at": now}
    if kind_of(item) == "delivery_message":
        rewritten["reason"] = ERASED_REASON  # no later attempt writes the message back (delivery.log)
    if kind_of(item) == "delivery" and item.get("status") in {"pending", "failed"}:
        delivery_id = str(item.get("delivery_id") or str(item["pk"]).removeprefix(keys.delivery_pk("")))
        rewritten.update(
            status="skipped",
            reason=ERASED_REASON,
            lease_until=0,
            updated_at=now,
            gsi1pk=keys.delivery_status_pk("skipped"),
            gsi1sk=keys.delivery_status_sk(now, delivery_id),
        )
    return rewritten


# -- from an erasure's or an export's request (privacy.requests) -------------------------------------


def person_of(repository: CaptureRepository, request: dict[str, Any]) -> Person:
    """The person a pending request names: the contact key and the identifier it was asked with,
    widened with the contact while it is still there (a rerun after the profile went still has both)."""
    key = str(request["subject_contact_key"])
    person = Person(contact_keys={key}, scope=str(request.get("subject_scope") or split_key(key)[0]))
    if contact := repository.get_contact(key):
        _learn(person, contact)
    if phone := request.get("subject_phone"):
        person.phones.add(str(phone))
    if user_id := request.get("subject_user_id"):
        person.user_ids.add(str(user_id))
    return person


def export_document(found: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """GET /contacts/{id}/export (Art. 15): every item held about the person, by kind, as stored
    less the table's own keys."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for item in found.values():
        kind = kind_of(item)
        if kind in {"erasure", "suppression"}:
            continue
        by_kind.setdefault(kind, []).append({k: v for k, v in item.items() if k not in KEY_ATTRIBUTES})
    return {kind: by_kind[kind] for kind in sorted(by_kind)}
