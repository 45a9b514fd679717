"""Applying WhatsApp updates: store them, then announce them on the bus.

Updates are applied a queued webhook at a time. Already-applied updates are skipped (the ledger), each
contact is written once however many updates name it, the per-message writes run in parallel, the
events are counted into the analytics here (a hop through the bus and a queue fewer, docs/analytics.md)
and go out ten per PutEvents call. Only then is the batch marked applied: if anything fails, the
batch is retried whole, its writes and counts repeat harmlessly, and its events go out then. A crash
between publishing and marking can repeat an event; events carry stable ids for consumers to drop repeats.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..models.domain import AutomaticEvent, ContactRef, InboundMessage, StatusUpdate, Update
from ..models.events import LifecycleEvent, contact_merged
from ..publishing.eventbridge import EventPublisher
from ..store.capture import CaptureRepository, KnownContacts
from ..store.keys import erased_message_key
from ..store.ledger import UpdateLedger
from . import events as bus

if TYPE_CHECKING:
    from ..tenants import TenantDirectory

DAY_SECONDS = 86_400
WRITE_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class BatchResult:
    received: int
    applied: int
    events: int


@dataclass
class _ContactPlan:
    """Everything a batch says about one contact, folded into a single write."""

    contact: ContactRef
    first_seen: int
    creator_key: str
    last_inbound: int | None = None
    update_keys: set[str] = field(default_factory=set)

    def absorb(self, update: InboundMessage | StatusUpdate, contact: ContactRef) -> None:
        self.update_keys.add(update.idempotency_key)
        if update.timestamp < self.first_seen:
            self.first_seen = update.timestamp
            self.creator_key = update.idempotency_key
        if isinstance(update, InboundMessage) and (
            self.last_inbound is None or update.timestamp > self.last_inbound
        ):
            self.last_inbound = update.timestamp
            self.contact = _merge(self.contact, contact)
        elif contact.name and not self.contact.name:
            self.contact = _merge(self.contact, contact)


def _merge(known: ContactRef, newer: ContactRef) -> ContactRef:
    return ContactRef(
        phone=known.phone or newer.phone,
        user_id=known.user_id or newer.user_id,
        parent_user_id=newer.parent_user_id or known.parent_user_id,
        name=newer.name or known.name,
        username=newer.username or known.username,
        phone_source=known.phone_source if known.phone else newer.phone_source,
    )


class CaptureService:
    def __init__(
        self,
        repository: CaptureRepository,
        publisher: EventPublisher,
        ledger: UpdateLedger,
        *,
        retention_days: int,
        concurrency: int = WRITE_CONCURRENCY,
        text_rules: Callable[[str | None], list[str]] | None = None,
        tenants: Callable[[], TenantDirectory] | None = None,
        erased: UpdateLedger | None = None,
        counter: Callable[[Sequence[LifecycleEvent]], set[str]] | None = None,
    ) -> None:
        self._repository = repository
        # Counts events into the analytics (analytics.aggregator.count_batch), returning the ids it
        # counted: those go on the bus marked, and the aggregator's rule skips them.
        self._counter = counter
        # The erased message ids (privacy.erasure): an erased person's old messages never come back.
        self._erased = erased
        # The deployment's tenants (wa_conversions.tenants), read per batch through a cache.
        self._tenants = tenants
        self._tenant_id: str | None = None
        self._publisher = publisher
        self._ledger = ledger
        # The names of the ConversionRules an inbound text matches (forwarding.rules); the text stays here.
        self._text_rules = text_rules
        self._retention_seconds = retention_days * DAY_SECONDS
        self._concurrency = concurrency

    def apply_batch(self, updates: Sequence[Update]) -> BatchResult:
        directory = self._tenants() if self._tenants is not None else None
        if directory is None or not directory.listed:
            return self._apply_batch(updates)
        # Each tenant's updates go to its contacts (docs/tenants.md): one pass per tenant.
        groups: dict[str, tuple[str | None, list[Update]]] = {}
        for update in updates:
            tenant = directory.for_account(
                update.account.phone_number_id, update.account.display_phone_number, update.account.waba_id
            )
            scope = directory.scope(tenant)
            groups.setdefault(scope, (tenant.id if tenant else None, []))[1].append(update)
        results = [
            self._for_tenant(scope, tenant_id)._apply_batch(group)
            for scope, (tenant_id, group) in groups.items()
        ]
        return BatchResult(
            received=len(updates),
            applied=sum(r.applied for r in results),
            events=sum(r.events for r in results),
        )

    def _for_tenant(self, scope: str, tenant_id: str | None) -> CaptureService:
        if not scope and tenant_id == self._tenant_id:
            return self
        service = copy.copy(self)
        service._repository = self._repository.scoped(scope) if scope else self._repository
        service._tenant_id = tenant_id
        return service

    def _apply_batch(self, updates: Sequence[Update]) -> BatchResult:
        done, erased = self._already_seen(updates)
        fresh = [
            u
            for u in {u.idempotency_key: u for u in updates if u.idempotency_key not in done}.values()
            if erased_message_key(_message_id_of(u)) not in erased
        ]
        if not fresh:
            return BatchResult(received=len(updates), applied=0, events=0)
        merges: list[tuple[str, str]] = []
        fresh = self._move_numbers(fresh, merges)
        known = KnownContacts()
        contact_keys = self._resolve_contacts(fresh, merges, known)
        created = self._write_contacts(fresh, contact_keys, known)
        # Updates of one message go to one worker, in time order: its writes then never race.
        by_message: dict[str, list[Update]] = {}
        for update in sorted(fresh, key=lambda u: u.timestamp):
            by_message.setdefault(_message_id_of(update), []).append(update)

        def apply_group(group: list[Update]) -> list[LifecycleEvent]:
            return [event for update in group for event in self._apply(update, contact_keys, created)]

        with ThreadPoolExecutor(max_workers=self._concurrency) as pool:
            per_group = list(pool.map(apply_group, by_message.values()))
        events = [event for group_events in per_group for event in group_events]
        # The aggregator folds a merged contact's counts into the survivor's (docs/events.md).
        if merges:
            at = min(u.timestamp for u in fresh)
            provider = next((u.channel.value for u in fresh if not isinstance(u, AutomaticEvent)), "meta")
            events += [contact_merged(source, target, at, provider) for source, target in merges]
        if self._tenant_id is not None:
            for event in events:
                event.properties["tenant"] = self._tenant_id
        if self._counter is not None and events:
            counted = self._counter(events)
            events = [event.as_counted() if event.message_id in counted else event for event in events]
        self._publisher.publish(events)
        if merges:
            self._repository.mark_announced(source for source, _ in merges)
        self._ledger.mark_applied(u.idempotency_key for u in fresh)
        return BatchResult(received=len(updates), applied=len(fresh), events=len(events))

    def _already_seen(self, updates: Sequence[Update]) -> tuple[set[str], set[str]]:
        """The updates' keys already applied, and the erased among their messages' (privacy.erasure:
        an erased person's old messages never come back, a redelivered webhook's included), in one read."""
        keys = [u.idempotency_key for u in updates]
        if self._erased is None:
            return self._ledger.applied(keys), set()
        erased = [erased_message_key(_message_id_of(u)) for u in updates]
        done, gone = self._ledger.applied_together([(self._ledger, keys), (self._erased, erased)])
        return done, gone

    # -- contacts --------------------------------------------------------------------------------

    def _move_numbers(self, updates: list[Update], merges: list[tuple[str, str]]) -> list[Update]:
        """A user_changed_number moves the contact to its new number first (the old one stays an
        alias); the system message itself then belongs to the contact under its new number."""
        moved: list[Update] = []
        for update in updates:
            if isinstance(update, InboundMessage) and update.moved_to and update.moved_to.phone:
                if update.contact.phone and update.contact.phone != update.moved_to.phone:
                    self._repository.move_contact(update.contact.phone, update.moved_to.phone, merges)
                update = update._replace(contact=_merge(update.moved_to, update.contact._replace(phone=None)))
            moved.append(update)
        return moved

    def _resolve_contacts(
        self, updates: Sequence[Update], merges: list[tuple[str, str]], known: KnownContacts
    ) -> dict[ContactRef, str | None]:
        refs = [contact for u in updates if (contact := _contact_of(u)) is not None]
        return self._repository.resolve_contact_keys(refs, merges, known)

    def _write_contacts(
        self, updates: Sequence[Update], keys: dict[ContactRef, str | None], known: KnownContacts
    ) -> set[str]:
        """Write each contact once, and only if the batch changes it (a status of a known contact
        does not); returns the keys of the updates that created a contact."""
        plans: dict[str, _ContactPlan] = {}
        for update in updates:
            contact = _contact_of(update)
            if contact is None or not (key := keys.get(contact)):
                continue
            assert isinstance(update, InboundMessage | StatusUpdate)
            plan = plans.get(key)
            if plan is None:
                plan = plans[key] = _ContactPlan(
                    contact=contact, first_seen=update.timestamp, creator_key=update.idempotency_key
                )
            plan.absorb(update, contact)
        creators: set[str] = set()
        for key, plan in plans.items():
            written = self._repository.upsert_contact(
                plan.contact,
                key,
                first_seen=plan.first_seen,
                last_inbound=plan.last_inbound,
                update_key=plan.creator_key,
                known=known,
            )
            if written.created:
                creators.add(plan.creator_key)
        return creators

    # -- one update ------------------------------------------------------------------------------

    def _apply(
        self, update: Update, keys: dict[ContactRef, str | None], creators: set[str]
    ) -> list[LifecycleEvent]:
        if isinstance(update, InboundMessage):
            return self._inbound(update, keys.get(update.contact), update.idempotency_key in creators)
        if isinstance(update, StatusUpdate):
            key = keys.get(update.contact) if update.contact else None
            return self._status(update, key, update.idempotency_key in creators)
        return self._automatic_event(update)

    def _inbound(
        self, update: InboundMessage, contact_key: str | None, created: bool
    ) -> list[LifecycleEvent]:
        events: list[LifecycleEvent] = []
        provider = update.channel.value
        if created and contact_key:
            source = "ad" if update.referral else "organic"
            events.append(bus.contact_created(update, update.contact, contact_key, source))
        self._repository.record_inbound_message(
            message_id=update.message_id,
            contact_key=contact_key,
            message_type=update.type.value,
            raw_type=update.raw_type,
            timestamp=update.timestamp,
            channel=provider,
            phone_number_id=update.account.phone_number_id,
            has_referral=update.referral is not None,
            expires_at=update.timestamp + self._retention_seconds,
        )
        referral = update.referral
        if referral and contact_key:
            self._repository.record_referral(
                contact_key=contact_key,
                referral=referral,
                message_id=update.message_id,
                timestamp=update.timestamp,
                channel=provider,
            )
            events.append(bus.referral_captured(update, contact_key))
        events.append(bus.message_received(update, contact_key, self._rules_matched(update)))
        return events

    def _rules_matched(self, update: InboundMessage) -> list[str]:
        if self._text_rules is None or update.backfill:
            return []
        return self._text_rules(update.text)

    def _status(self, update: StatusUpdate, contact_key: str | None, created: bool) -> list[LifecycleEvent]:
        events: list[LifecycleEvent] = []
        if created and contact_key and update.contact:
            events.append(bus.contact_created(update, update.contact, contact_key, "outbound"))
        self._repository.record_status(
            message_id=update.message_id,
            status=update.status,
            raw_status=update.raw_status,
            timestamp=update.timestamp,
            contact_key=contact_key,
            channel=update.channel.value,
            phone_number_id=update.account.phone_number_id,
            errors=update.errors,
            conversation_id=update.conversation_id,
            pricing_category=update.pricing_category,
            expires_at=update.timestamp + self._retention_seconds,
        )
        event = bus.message_status(update, contact_key)
        return [*events, event] if event is not None else events

    def _automatic_event(self, update: AutomaticEvent) -> list[LifecycleEvent]:
        self._repository.record_automatic_event(update)
        return [bus.automatic_event_received(update)]


def _message_id_of(update: Update) -> str:
    return update.event_id if isinstance(update, AutomaticEvent) else update.message_id


def _contact_of(update: Update) -> ContactRef | None:
    if isinstance(update, InboundMessage):
        return update.contact if update.contact.key else None
    if isinstance(update, StatusUpdate):
        return update.contact if update.contact and update.contact.key else None
    return None
