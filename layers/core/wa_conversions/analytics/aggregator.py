"""Counting bus events into per-day counters, each event once, whatever the order they arrive in."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from aws_lambda_powertools import Logger

from ..errors import StateConflictError, failure_fields
from ..models.contact_state import Activity, ContactState, bucket_of_time, merge_deltas
from ..models.domain import user_contact_key, user_id_of_key
from ..models.events import LifecycleEvent
from ..phones import country_of
from .tenancy import tenant_of, with_tenant

SHARDS = 8
MAX_ATTEMPTS = 6
# Contacts counted side by side in a batch (count_batch): each is a Query and a transaction.
BATCH_CONCURRENCY = 8

logger = Logger()

STAGES = {
    "message.sent": "sent",
    "message.delivered": "delivered",
    "message.read": "read",
    "message.failed": "failed",
}
ACTIVITIES = {"chat.assigned": "assigned", "chat.resolved": "resolved", "agent.handoff": "handoff"}
CONTACT_EVENTS = frozenset({"message.received", "contact.created", "referral.captured", *STAGES, *ACTIVITIES})
CONVERSION_EVENTS = frozenset({"conversion.attributed", "conversion.unattributed", "refund.created"})
# Capture folded one contact into another (store.capture.merge_contact): so do their states.
CONTACT_MERGED = "contact.merged"
# What the aggregator counts: the bus rule feeding it (template.yaml, AnalyticsEventsRule) takes these
# alone, so an event it would ignore (order.paid, contact.updated) costs no delivery or invocation.
COUNTED_EVENTS = CONTACT_EVENTS | CONVERSION_EVENTS | {CONTACT_MERGED}

type Outcome = Literal["counted", "duplicate", "ignored"]


class AnalyticsStore(Protocol):
    def load_state(self, contact: str) -> ContactState: ...

    def commit(
        self,
        event_id: str,
        deltas: dict[str, float],
        shard: int,
        *,
        state: ContactState | None = None,
        expected_version: int | None = None,
        retired: tuple[ContactState, int] | None = None,
    ) -> bool:
        """Add the deltas and save the state (and a tombstone for each fact it forgot), atomically;
        without a state, or with a retired one, with the event's counted marker. False when the
        marker was there already (the event was counted); StateConflictError when the state's
        version moved. `retired`: a merged contact's emptied state and the version it was loaded
        at, written in the same transaction."""
        ...

    def forgotten(self, groups: set[str], event_id: str) -> bool:
        """Whether any of these facts was forgotten, or the event counted before that was recorded."""
        ...


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    event: str


def epoch_of(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp())


def shard_of(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:2], "big") % SHARDS


def contact_of(event: LifecycleEvent) -> str | None:
    """The contact's key as capture writes it: E.164 digits, or uid:<business-scoped user id>."""
    key = event.properties.get("contactKey")
    if isinstance(key, str) and key:
        return key
    user = event.user_id
    if not user:
        return None
    digits = user.removeprefix("+")
    if digits.isdigit():
        return digits
    return user if user_id_of_key(user) is not None else user_contact_key(user)


def _state_key(event: LifecycleEvent) -> str:
    """The key of the state a contact event folds into: its contact's, else (a status without a
    recipient) its message's own, so that it still counts."""
    return contact_of(event) or f"msg:{event.properties.get('messageId') or event.message_id}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float:
    try:
        return float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def fold(state: ContactState, event: LifecycleEvent) -> None:
    """Merge one event's fact into the contact's state."""
    props = event.properties
    ts = epoch_of(event.timestamp)
    message_id = _text(props.get("messageId")) or event.message_id
    name = event.event
    if name == "message.received":
        country = _text(props.get("countryCode"))
        if country is None and state.contact.isdigit():
            country = country_of(state.contact)
        state.note_inbound(message_id, ts, country.upper() if country else None)
    elif name in STAGES:
        mode = _text(props.get("serviceMode"))
        state.note_outbound(
            message_id,
            STAGES[name],
            ts,
            agent=_text(props.get("agentId")),
            # "app": sent from the WhatsApp Business app (coexistence, docs/events.md)
            mode=mode if mode in ("bot", "agent", "app") else None,
        )
    elif name == "contact.created":
        state.note_contact_created(ts)
    elif name == "referral.captured":
        source_id = _text(props.get("sourceId"))
        if source_id:
            state.note_click(message_id, ts, source_id)
    elif name in ACTIVITIES:
        kind = ACTIVITIES[name]
        mode = _text(props.get("toMode" if kind == "handoff" else "serviceMode"))
        state.note_activity(
            event.message_id,
            Activity(kind=kind, ts=ts, agent=_text(props.get("agentId")), mode=mode),
        )


def conversion_deltas(event: LifecycleEvent) -> dict[str, float]:
    props = event.properties
    if props.get("test"):
        return {}
    day = bucket_of_time(epoch_of(event.timestamp))  # the UTC hour, like every counter
    value = _number(props.get("value"))
    attribution = props.get("attribution") if isinstance(props.get("attribution"), dict) else {}
    source_id = _text(props.get("sourceId"))
    attributed = source_id is not None and (attribution or {}).get("status", "attributed") == "attributed"
    currency = _text(props.get("currency"))
    # per currency too, so ROAS never sums two currencies (analytics.ads)
    per_currency = f"{day}|ad#{source_id}#revenue:{currency.upper()}" if currency else None
    deltas: dict[str, float] = {}
    if event.event == "refund.created":
        if value:
            deltas[f"{day}|refunds"] = value
            deltas[f"{day}|revenue"] = -value
            if attributed:
                deltas[f"{day}|ad#{source_id}#revenue"] = -value
                if per_currency:
                    deltas[per_currency] = -value
        return deltas
    if props.get("kind", "order") != "order" and not value:
        return deltas  # a lead or booking without value is not an order
    deltas[f"{day}|orders"] = 1
    if value:
        deltas[f"{day}|revenue"] = value
    if event.event == "conversion.attributed" and attributed:
        deltas[f"{day}|ad#{source_id}#orders"] = 1
        if value:
            deltas[f"{day}|ad#{source_id}#revenue"] = value
            if per_currency:
                deltas[per_currency] = value
    elif event.event == "conversion.unattributed":
        for reason in unattributed_reasons(attribution or {}):
            deltas[f"{day}|unattributed#{reason}"] = 1
    return deltas


def unattributed_reasons(attribution: dict[str, Any]) -> list[str]:
    """Why an order found no ad click, per key tried (docs/shopify.md): "token:expired",
    "phone:no_contact"; a key that found a contact counts under the attribution's own reason
    ("phone:no_referral"). Orders from before keys were recorded count under "phone:<reason>"."""
    reason = _text(attribution.get("reason")) or "unknown"
    tried = attribution.get("keysTried")
    if not isinstance(tried, list) or not tried:
        return [f"phone:{reason}"]
    found: list[str] = []
    for item in tried:
        if isinstance(item, dict) and (key := _text(item.get("key"))):
            outcome = _text(item.get("outcome")) or "unknown"
            found.append(f"{key}:{reason if outcome == 'matched' else outcome}")
    return found


class Aggregator:
    def __init__(self, store: AnalyticsStore) -> None:
        self._store = store

    def apply(self, event: LifecycleEvent) -> Result:
        name = event.event
        if name not in COUNTED_EVENTS:
            return Result("ignored", name)
        # No marker per contact event: the state's facts, or a forgotten fact's tombstone, tell a
        # redelivery; a conversion's conditional marker tells its own (store.analytics).
        if name == CONTACT_MERGED:
            return self._merge(event)
        if name in CONVERSION_EVENTS:
            deltas = with_tenant(conversion_deltas(event), tenant_of(event.properties))
            fresh = self._store.commit(event.message_id, deltas, shard_of(event.message_id))
            return Result("counted" if fresh else "duplicate", name)
        return Result(self._count_contact(_state_key(event), [event]), name)

    def count_batch(
        self, events: Sequence[LifecycleEvent], *, concurrency: int = BATCH_CONCURRENCY
    ) -> set[str]:
        """Count a producer's batch where it is made (the WhatsApp processor's, docs/analytics.md):
        each contact's events in one load and one commit, contacts side by side, then conversions,
        then merges. Returns the ids of the events now counted or found counted before. An event
        whose count failed is left out: it goes on the bus unmarked, and the aggregator's queue
        counts it (a commit that did land is then a duplicate there), so a slow or failing count
        neither loses an event nor holds up capture."""
        by_contact: dict[str, list[LifecycleEvent]] = {}
        others: list[LifecycleEvent] = []
        for event in events:
            if event.event in CONTACT_EVENTS:
                by_contact.setdefault(_state_key(event), []).append(event)
            elif event.event in COUNTED_EVENTS:
                others.append(event)  # conversions (a marker each), then merges, one at a time

        def count_contact(item: tuple[str, list[LifecycleEvent]]) -> list[str]:
            contact, group = item
            try:
                self._count_contact(contact, group)
            except Exception as error:  # left to the aggregator's queue, which retries and parks
                extra = {"events": len(group), **failure_fields(error)}
                logger.warning("Events left to the analytics queue", extra=extra)
                return []
            return [event.message_id for event in group]

        contacts = list(by_contact.items())
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(contacts) or 1))) as pool:
            done = {event_id for ids in pool.map(count_contact, contacts) for event_id in ids}
        others.sort(key=lambda event: event.event == CONTACT_MERGED)
        for event in others:
            try:
                self.apply(event)
            except Exception as error:
                logger.warning(
                    "Event left to the analytics queue", extra={"event": event.event, **failure_fields(error)}
                )
            else:
                done.add(event.message_id)
        return done

    def _count_contact(self, contact: str, events: list[LifecycleEvent]) -> Outcome:
        """One contact's events, in one load of its state and one commit: their facts folded, then
        settled once (what is counted depends on the facts held, not on the order they came in)."""
        for _ in range(MAX_ATTEMPTS):
            try:  # a load that keeps meeting a commit half applied is retried like a commit
                state = self._store.load_state(contact)
                for _hop in range(3):  # a late event of a contact merged since counts for the survivor
                    if not state.merged_into:
                        break
                    contact = state.merged_into
                    state = self._store.load_state(contact)
            except StateConflictError:
                continue
            expected = state.version
            # what was counted before the contact's tenant was known is counted for it now too
            before = merge_deltas(state.counted.values()) if state.tenant is None else {}
            held = state.groups()
            for event in events:
                if not self._forgotten(state, held, event):
                    fold(state, event)
            tenant = state.tenant or tenant_of(events[0].properties)
            deltas = with_tenant(state.settle(), tenant, before)
            state.tenant = tenant
            if not deltas and not state.changed():
                # a fact already known: this event again, or its copy from another source (the CRM)
                # an event whose cut-short commit this load finished counts as counted
                finished = any(e.message_id in state.stored.finished for e in events)
                return "counted" if finished else "duplicate"
            state.version = expected + 1
            try:
                fresh = self._store.commit(
                    events[0].message_id,
                    deltas,
                    shard_of(contact),
                    state=state,
                    expected_version=expected,
                )
            except StateConflictError:
                continue
            return "counted" if fresh else "duplicate"
        raise StateConflictError(f"contact state kept changing over {MAX_ATTEMPTS} attempts")

    def _forgotten(self, state: ContactState, held: set[str], event: LifecycleEvent) -> bool:
        """Whether the event brings a fact the state lacks because it forgot it: a redelivery. Asked
        of the store only for a contact that ever forgot a fact, and only for a fact not held."""
        if not state.forgotten_facts:
            return False
        alone = ContactState(contact=state.contact)
        fold(alone, event)
        new = alone.groups() - held
        return bool(new) and self._store.forgotten(new, event.message_id)

    def _merge(self, event: LifecycleEvent) -> Result:
        """contact.merged: the merged contact's facts and counted contributions move to the survivor,
        and what both had counted for one fact (two contact.created, one ad conversation twice) is
        taken back, in one transaction; the merged state keeps only a pointer for late events."""
        target = _text(event.properties.get("contactKey"))
        source = _text(event.properties.get("mergedFrom"))
        if not target or not source or target == source:
            return Result("ignored", event.event)
        for _ in range(MAX_ATTEMPTS):
            try:  # a load that keeps meeting a commit half applied is retried like a commit
                merged = self._store.load_state(source)
                if merged.merged_into:
                    # a redelivery after a crash: loading the survivor finishes a commit parked on it
                    self._store.load_state(merged.merged_into)
                    return Result("duplicate", event.event)
                state = self._store.load_state(target)
                for _hop in range(3):  # the survivor may have been merged on since (a new number)
                    if not state.merged_into or state.merged_into == source:
                        break
                    target = state.merged_into
                    state = self._store.load_state(target)
            except StateConflictError:
                continue
            expected = state.version
            # each side's contributions not yet counted for the tenant (its tenant was unknown) are now
            unscoped = [s.counted.values() for s in (state, merged) if s.tenant is None]
            before = merge_deltas(part for parts in unscoped for part in parts)
            tenant = state.tenant or merged.tenant or tenant_of(event.properties)
            state.absorb(merged)
            if state.merged_into == source:
                state.merged_into = None  # merged back: the survivor is live again, not a pointer
            deltas = with_tenant(state.settle(), tenant, before)
            state.tenant = tenant
            state.version = expected + 1
            emptied = ContactState(contact=source, version=merged.version + 1, merged_into=target)
            emptied.take_storage(merged)  # so the commit retires the merged contact's fact items
            try:
                fresh = self._store.commit(
                    event.message_id,
                    deltas,
                    shard_of(target),
                    state=state,
                    expected_version=expected,
                    retired=(emptied, merged.version),
                )
            except StateConflictError:
                continue
            return Result("counted" if fresh else "duplicate", event.event)
        raise StateConflictError(f"contact states kept changing over {MAX_ATTEMPTS} attempts")
