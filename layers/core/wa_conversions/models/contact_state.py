"""What the aggregator knows about one contact, and the counters that knowledge implies.

Counting event by event breaks on the two things a bus guarantees: repeats and disorder. A read can
arrive before its sent, a reply before the message it answers, the same outbound message from the
provider and again from the CRM. So the aggregator folds each event into the contact's state (an
idempotent merge keyed by message id, earliest timestamp wins) and derives the counters the whole
state implies, grouped by the fact they come from. The difference between the derived counters and
those already counted is what gets added to the hour items. A repeat derives the same counters, so it
adds nothing; a late event moves a count to where it belongs.

Facts older than the window before the contact's newest fact are dropped from the state with their
counters left standing, which keeps the state small. It is stored as one item per fact (fact_groups:
the fact and what was counted from it) beside a small head (head_json), so an event rewrites only the
facts it changed: its cost does not grow with the contact's history (store.analytics).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field, PrivateAttr

from .histogram import bucket_of

WINDOW_SECONDS = 30 * 86_400
MAX_FACTS = 600
# Each forgotten fact leaves a tombstone in the commit's transaction (store.analytics), 100 actions at
# most: a contact past the window forgets its oldest facts this many at a time, event by event.
MAX_FORGOTTEN_AT_ONCE = 40
# A head saved before forgotten facts left tombstones: its events' markers tell their redeliveries.
FORGOTTEN_BEFORE_TOMBSTONES = 1
ACTIVITY_COUNTERS = {"assigned": "assigned", "resolved": "resolved", "handoff": "handoffs"}
# The groups each of which is one fact, kept in an item of its own (fact_groups).
FACT_KINDS = ("in", "out", "click", "act")

type Contributions = dict[str, dict[str, float]]
"""group -> {"<YYYY-MM-DD>|<counter>": amount}"""


def day_of(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d")


def hour_of(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%H")


def bucket_of_time(epoch: int) -> str:
    """The UTC hour a fact is counted in ("2025-06-18T05"): hours let GET /metrics answer in any
    whole-hour time zone exactly (docs/analytics.md#time-zones)."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H")


# Meta's free entry point: a reply within 24 h of an ad-started chat (docs/analytics.md).
ENTRY_POINT_SECONDS = 86_400


def _earliest(known: int | None, seen: int | None) -> int | None:
    if known is None:
        return seen
    if seen is None:
        return known
    return min(known, seen)


class Inbound(BaseModel):
    ts: int
    country: str | None = None


class Outbound(BaseModel):
    sent: int | None = None
    delivered: int | None = None
    read: int | None = None
    failed: int | None = None
    agent: str | None = None
    mode: str | None = None

    @property
    def lost(self) -> bool:
        """Failed and never delivered or read: counted as "failed" by derive()."""
        return self.failed is not None and self.delivered is None and self.read is None

    @property
    def reference(self) -> int | None:
        """When the message went out: its sent time, else the earliest later stage seen."""
        if self.sent is not None:
            return self.sent
        stages = [t for t in (self.delivered, self.read, self.failed) if t is not None]
        return min(stages) if stages else None


class Click(BaseModel):
    ts: int
    source_id: str


class Activity(BaseModel):
    """chat.assigned, chat.resolved, agent.handoff."""

    kind: str
    ts: int
    agent: str | None = None
    mode: str | None = None


@dataclass
class Stored:
    """Where a loaded state's facts are stored (store.analytics): fact items by group, and groups
    kept in the head item (legacy states, and what one transaction had no room for; None hides an
    item being retired). `head` and `groups` are the state as loaded, to tell what an event changed."""

    items: dict[str, str] = field(default_factory=dict)
    embedded: dict[str, str | None] = field(default_factory=dict)
    head: str = ""
    groups: dict[str, str] = field(default_factory=dict)
    # events whose parked counter parts the load finished (their commit was cut short)
    finished: set[str] = field(default_factory=set)


class ContactState(BaseModel):
    _stored: Stored = PrivateAttr(default_factory=Stored)
    # the groups the last settle() forgot: the commit leaves a tombstone for each
    _forgotten: set[str] = PrivateAttr(default_factory=set)

    contact: str
    version: int = 0
    created: int | None = None
    inbound: dict[str, Inbound] = Field(default_factory=dict)
    outbound: dict[str, Outbound] = Field(default_factory=dict)
    clicks: dict[str, Click] = Field(default_factory=dict)
    # Kept for good, unlike clicks: a contact's first click on an ad starts the conversation from it.
    first_clicks: dict[str, int] = Field(default_factory=dict)
    # The first business reply after each first click, kept for good too: the reply itself is forgotten.
    ad_replies: dict[str, int] = Field(default_factory=dict)
    activities: dict[str, Activity] = Field(default_factory=dict)
    counted: Contributions = Field(default_factory=dict)
    # Set once this contact was merged into another (contact.merged): its facts live there now.
    merged_into: str | None = None
    # The listed tenant its events name (analytics.tenancy); its counters are counted for it too.
    tenant: str | None = None
    # How many facts it ever forgot: while none, a fact it lacks was never counted.
    forgotten_facts: int = 0

    # -- storing ------------------------------------------------------------------------------

    @property
    def stored(self) -> Stored:
        return self._stored

    @property
    def forgotten(self) -> frozenset[str]:
        """The fact groups the last settle() forgot."""
        return frozenset(self._forgotten)

    def groups(self) -> set[str]:
        """The groups of the facts held ("out:<message id>"), without building their JSON."""
        kinds: tuple[dict[str, Any], ...] = (self.inbound, self.outbound, self.clicks, self.activities)
        return {f"{kind}:{key}" for kind, known in zip(FACT_KINDS, kinds, strict=True) for key in known}

    def fact_groups(self) -> dict[str, str]:
        """Each fact with what was counted from it, as JSON, by group ("out:<message id>")."""
        facts: dict[str, dict[str, Any]] = {}
        kinds: list[dict[str, Inbound] | dict[str, Outbound] | dict[str, Click] | dict[str, Activity]]
        kinds = [self.inbound, self.outbound, self.clicks, self.activities]
        for kind, known in zip(FACT_KINDS, kinds, strict=True):
            for key, fact in known.items():
                facts[f"{kind}:{key}"] = {"fact": fact.model_dump(exclude_none=True)}
        for group, counted in self.counted.items():
            if group.partition(":")[0] in FACT_KINDS:
                facts.setdefault(group, {})["counted"] = _amounts(counted)
        return {group: _canonical(part) for group, part in facts.items()}

    def head_json(self) -> str:
        """Everything but the facts: the contact, its first clicks, and the contact's own counts."""
        head = self.model_dump(exclude={"version", "inbound", "outbound", "clicks", "activities", "counted"})
        head["counted"] = {
            g: _amounts(c) for g, c in self.counted.items() if g.partition(":")[0] not in FACT_KINDS
        }
        return _canonical(head)

    @classmethod
    def from_parts(cls, head: str, groups: dict[str, str], version: int) -> ContactState:
        """head_json() and fact_groups() put together again."""
        plain: dict[str, Any] = json.loads(head)
        plain.setdefault("forgotten_facts", FORGOTTEN_BEFORE_TOMBSTONES)
        known: dict[str, dict[str, Any]] = {kind: {} for kind in FACT_KINDS}
        counted: dict[str, Any] = plain.pop("counted", {})
        for group, text in groups.items():
            kind, _, key = group.partition(":")
            part = json.loads(text)
            if "fact" in part:
                known[kind][key] = part["fact"]
            if "counted" in part:
                counted[group] = part["counted"]
        state = cls.model_validate(
            {
                **plain,
                "version": version,
                "inbound": known["in"],
                "outbound": known["out"],
                "clicks": known["click"],
                "activities": known["act"],
                "counted": counted,
            }
        )
        return state

    def remember(self, stored: Stored) -> None:
        """Record where the state was loaded from, and what it held then."""
        stored.head, stored.groups = self.head_json(), self.fact_groups()
        self._stored = stored

    def take_storage(self, other: ContactState) -> None:
        """Be written over where `other` was loaded from: its fact items not in this state are retired."""
        self._stored = other.stored

    def changed(self) -> bool:
        """Whether anything differs from the state as loaded (remember())."""
        return self.head_json() != self._stored.head or self.fact_groups() != self._stored.groups

    # -- merging facts (idempotent: the same fact twice leaves the state as it was) -------------

    def note_contact_created(self, ts: int) -> None:
        self.created = _earliest(self.created, ts)

    def note_inbound(self, message_id: str, ts: int, country: str | None) -> None:
        known = self.inbound.get(message_id)
        if known is None:
            self.inbound[message_id] = Inbound(ts=ts, country=country)
        else:
            known.ts = min(known.ts, ts)
            known.country = known.country or country

    def note_outbound(
        self,
        message_id: str,
        stage: str,
        ts: int,
        *,
        agent: str | None = None,
        mode: str | None = None,
    ) -> None:
        entry = self.outbound.setdefault(message_id, Outbound())
        if stage in ("sent", "delivered", "read", "failed"):
            setattr(entry, stage, _earliest(getattr(entry, stage), ts))
        entry.agent = entry.agent or agent
        entry.mode = entry.mode or mode

    def note_click(self, message_id: str, ts: int, source_id: str) -> None:
        known = self.clicks.get(message_id)
        if known is None or ts < known.ts:
            self.clicks[message_id] = Click(ts=ts, source_id=source_id)
        self.first_clicks[source_id] = min(self.first_clicks.get(source_id, ts), ts)

    def note_activity(self, event_id: str, activity: Activity) -> None:
        self.activities.setdefault(event_id, activity)

    def absorb(self, other: ContactState) -> None:
        """Take over the facts and the counted contributions of a contact merged into this one. What
        both counted (new_contacts twice, one ad conversation twice) the next settle() takes back."""
        self.created = _earliest(self.created, other.created)
        self.forgotten_facts += other.forgotten_facts
        for message_id, inbound in other.inbound.items():
            self.note_inbound(message_id, inbound.ts, inbound.country)
        for message_id, entry in other.outbound.items():
            for stage in ("sent", "delivered", "read", "failed"):
                if (ts := getattr(entry, stage)) is not None:
                    self.note_outbound(message_id, stage, ts, agent=entry.agent, mode=entry.mode)
        for message_id, click in other.clicks.items():
            self.note_click(message_id, click.ts, click.source_id)
        for source_id, ts in other.first_clicks.items():
            self.first_clicks[source_id] = min(self.first_clicks.get(source_id, ts), ts)
        for source_id, ts in other.ad_replies.items():
            self.ad_replies[source_id] = min(self.ad_replies.get(source_id, ts), ts)
        for event_id, activity in other.activities.items():
            self.note_activity(event_id, activity)
        for group, counters in other.counted.items():
            mine = self.counted.setdefault(group, {})
            for key, amount in counters.items():
                mine[key] = mine.get(key, 0) + amount

    # -- deriving counters ----------------------------------------------------------------------

    def _mode_at(self, ts: int) -> str | None:
        """The service mode the latest handoff up to ts put the contact in."""
        handoffs = [a for a in self.activities.values() if a.kind == "handoff" and a.ts <= ts and a.mode]
        return max(handoffs, key=lambda a: a.ts).mode if handoffs else None

    def _outbound_mode(self, entry: Outbound, ts: int) -> str:
        if entry.mode:
            return entry.mode
        if entry.agent:
            return "agent"
        return self._mode_at(ts) or "unknown"

    def derive(self) -> Contributions:
        out: Contributions = defaultdict(dict)

        def add(group: str, ts: int, counter: str, amount: float = 1) -> None:
            key = f"{bucket_of_time(ts)}|{counter}"
            out[group][key] = out[group].get(key, 0) + amount

        if self.created is not None:
            add("contact", self.created, "new_contacts")

        for message_id, inbound in self.inbound.items():
            group = f"in:{message_id}"
            # by_hour is read from the hour of "received" itself, in the zone asked for.
            add(group, inbound.ts, "received")
            if inbound.country:
                add(group, inbound.ts, f"country#{inbound.country}")

        inbound_times = sorted(i.ts for i in self.inbound.values())
        for message_id, entry in self.outbound.items():
            reference = entry.reference
            if reference is None:
                continue
            group = f"out:{message_id}"
            # Every stage is counted on the day the message went out, so rates over a range compare
            # like with like; a read implies a delivery and a delivery implies a send.
            add(group, reference, "sent")
            if entry.delivered is not None or entry.read is not None:
                add(group, reference, "delivered")
            if entry.read is not None:
                add(group, reference, "read")
            if entry.lost:
                add(group, reference, "failed")
            if any(t > reference for t in inbound_times):
                add(group, reference, "replied")
            if entry.agent:
                add(group, reference, f"agent#{entry.agent}#sent")
            add(group, reference, f"mode#{self._outbound_mode(entry, reference)}#sent")

        self._derive_response_times(add)

        for message_id, click in self.clicks.items():
            add(f"click:{message_id}", click.ts, f"ad#{click.source_id}#clicks")
        # A conversation from an ad is a contact's first click on that ad.
        for source_id, ts in self.first_clicks.items():
            add(f"adconv:{source_id}", ts, f"ad#{source_id}#conversations")
            reply = self.ad_replies.get(source_id)
            if reply is not None and reply - ts <= ENTRY_POINT_SECONDS:
                add(f"adconv:{source_id}", ts, f"ad#{source_id}#answered24h")

        for event_id, activity in self.activities.items():
            group = f"act:{event_id}"
            counter = ACTIVITY_COUNTERS.get(activity.kind, activity.kind)
            add(group, activity.ts, counter)
            if activity.agent:
                add(group, activity.ts, f"agent#{activity.agent}#{counter}")
            if activity.kind == "resolved":
                mode = activity.mode or ("agent" if activity.agent else self._mode_at(activity.ts))
                add(group, activity.ts, f"mode#{mode or 'unknown'}#resolved")
        return {group: dict(counters) for group, counters in out.items()}

    def _derive_response_times(self, add: _Adder) -> None:
        """The first business reply after the contact's earliest unanswered message."""
        timeline: list[tuple[int, int, str]] = [(i.ts, 0, "") for i in self.inbound.values()]
        timeline += [(o.sent, 1, mid) for mid, o in self.outbound.items() if o.sent is not None]
        waiting_since: int | None = None
        for ts, kind, message_id in sorted(timeline):
            if kind == 0:
                if waiting_since is None:
                    waiting_since = ts
                continue
            if waiting_since is None:
                continue
            bucket = bucket_of(ts - waiting_since)
            group = f"out:{message_id}"
            add(group, ts, "responses")
            add(group, ts, f"rt#{bucket}")
            agent = self.outbound[message_id].agent
            if agent:
                add(group, ts, f"agent#{agent}#responses")
                add(group, ts, f"agentrt#{agent}#{bucket}")
            waiting_since = None

    # -- applying -------------------------------------------------------------------------------

    def settle(self) -> dict[str, float]:
        """Derive the counters, record them as counted, and return what changed: {"day|counter": delta}.

        Then forget facts older than the window (their counters stay counted)."""
        self._note_ad_replies()
        derived = self.derive()
        deltas: dict[str, float] = defaultdict(float)
        for group in set(derived) | set(self.counted):
            before, after = self.counted.get(group, {}), derived.get(group, {})
            for key in set(before) | set(after):
                change = after.get(key, 0) - before.get(key, 0)
                if change:
                    deltas[key] += change
        self.counted = derived
        self._forget_old()
        return {key: value for key, value in deltas.items() if value}

    def _note_ad_replies(self) -> None:
        """The earliest known business message at or after each first click that was not lost (failed
        and never delivered: it answered nobody). Idempotent and order-free: a late earlier reply or
        an earlier click moves it; a forgotten reply keeps it."""
        sent = [
            ref for entry in self.outbound.values() if (ref := entry.reference) is not None and not entry.lost
        ]
        # a reply noted before its failure arrived: the message is still here, and lost
        lost = {ref for entry in self.outbound.values() if entry.lost and (ref := entry.reference)} - set(
            sent
        )
        for source_id, clicked in self.first_clicks.items():
            known = self.ad_replies.get(source_id)
            after = [ts for ts in sent if ts >= clicked]
            if known is not None and known >= clicked and known not in lost:
                after.append(known)
            if after:
                self.ad_replies[source_id] = min(after)
            else:
                self.ad_replies.pop(source_id, None)

    def _forget_old(self) -> None:
        self._forgotten = set()
        facts = self._fact_times()
        if not facts:
            return
        newest = max(ts for _, ts in facts)
        cutoff = newest - WINDOW_SECONDS
        by_age = sorted((ts, group) for group, ts in facts)
        old = [group for ts, group in by_age if ts < cutoff]
        old += [group for _, group in by_age[len(old) : len(by_age) - MAX_FACTS]]
        old = old[:MAX_FORGOTTEN_AT_ONCE]  # oldest first; the rest at the next events
        self._forgotten = set(old)
        self.forgotten_facts += len(old)
        for group in old:
            kind, _, key = group.partition(":")
            if kind == "in":
                self.inbound.pop(key, None)
            elif kind == "out":
                self.outbound.pop(key, None)
            elif kind == "click":
                self.clicks.pop(key, None)
            else:
                self.activities.pop(key, None)
            self.counted.pop(group, None)

    def _fact_times(self) -> list[tuple[str, int]]:
        facts: list[tuple[str, int]] = [(f"in:{k}", v.ts) for k, v in self.inbound.items()]
        facts += [(f"out:{k}", ref) for k, v in self.outbound.items() if (ref := v.reference) is not None]
        facts += [(f"click:{k}", v.ts) for k, v in self.clicks.items()]
        facts += [(f"act:{k}", v.ts) for k, v in self.activities.items()]
        return facts


class _Adder(Protocol):
    def __call__(self, group: str, ts: int, counter: str, amount: float = 1) -> None: ...


def _amounts(counted: dict[str, float]) -> dict[str, float]:
    """As floats, as they are once loaded: settle() leaves ints, and 1 == 1.0 must compare equal."""
    return {key: float(amount) for key, amount in counted.items()}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def merge_deltas(parts: Iterable[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    for part in parts:
        for key, value in part.items():
            total[key] += value
    return {k: v for k, v in total.items() if v}
