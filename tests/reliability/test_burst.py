"""Burst: inbound messages and statuses in single-update and batched webhooks from concurrent
clients, plus one large webhook (Meta batches up to 1000 updates, 2 MB and more), some redelivered
as providers do. Every update must be readable once the queues drain, none counted twice."""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from typing import Any

import httpx
import pytest

from devstack.stack import DevStack
from devstack.testing import AwsHelpers
from tests.reliability.bus import BusObserver
from tests.reliability.harness import (
    DAY,
    Figures,
    Pii,
    Sizes,
    chunks,
    drain,
    inbound_value,
    merged,
    message_path,
    meta_headers,
    operator_headers,
    post_until_accepted,
    run_concurrently,
    selected_sizes,
    status_value,
    wamid,
)
from tests.support import webhooks as wh

pytestmark = pytest.mark.reliability
PHASE = "burst"


@pytest.mark.timeout(int(selected_sizes().burst_drain_s) + 600)
def test_burst_loses_nothing_and_counts_nothing_twice(
    stack: DevStack,
    aws: AwsHelpers,
    bus: BusObserver,
    figures: Figures,
    pii: Pii,
    rng: random.Random,
    sizes: Sizes,
) -> None:
    # A day of its own, three days back, so the analytics counts are this phase's alone.
    day_start = (int(time.time()) // DAY - 3) * DAY
    day = time.strftime("%Y-%m-%d", time.gmtime(day_start))
    people = [(pii.phone(), pii.name()) for _ in range(max(10, sizes.inbound // 10))]
    expected_inbound: dict[str, int] = defaultdict(int)
    expected_outbound: dict[str, int] = defaultdict(int)
    inbound_ids: dict[str, str] = {}  # wamid -> contact phone
    status_states: dict[str, set[str]] = {}  # outbound wamid -> the states posted

    def inbound(count: int, text_length: int = 0) -> list[dict[str, Any]]:
        values = []
        for _ in range(count):
            phone, name = rng.choice(people)
            at = day_start + 3600 + rng.randint(0, 20 * 3600)
            value, message_id = inbound_value(pii, rng, phone, name, at, text_length)
            inbound_ids[message_id] = phone
            expected_inbound[phone] += 1
            values.append(value)
        return values

    def statuses(count: int) -> list[dict[str, Any]]:
        values = []
        for _ in range(count // 2):
            phone, _ = rng.choice(people)
            message_id = wamid(rng)
            at = day_start + 3600 + rng.randint(0, 20 * 3600)
            status_states[message_id] = {"sent", "delivered"}
            expected_outbound[phone] += 1
            values += [
                status_value(message_id, "sent", at, phone),
                status_value(message_id, "delivered", at + 5, phone),
            ]
        return values

    updates_in, updates_st = inbound(sizes.inbound), statuses(sizes.statuses)
    webhooks: list[tuple[str, bytes]] = []
    for values, label in ((updates_in, "inbound"), (updates_st, "status")):
        half = len(values) // 2
        webhooks += [(f"{label}-single", wh.encode(wh.webhook(value))) for value in values[:half]]
        webhooks += [
            (f"{label}-batch", wh.encode(wh.webhook(merged(part))))
            for part in chunks(values[half:], sizes.batch)
        ]
    singles = [item for item in webhooks if item[0].endswith("single")]
    redelivered = rng.sample(singles, int(len(singles) * sizes.redelivered))
    # The large one as Meta batches: a few changes, each with a list of a hundred messages.
    big_values = inbound(sizes.big_webhook, sizes.big_text)
    big = wh.encode(wh.webhook(*(merged(part) for part in chunks(big_values, 100)))) if big_values else b""
    posts = webhooks + [(label + "-again", body) for label, body in redelivered]
    rng.shuffle(posts)
    if big:
        posts.insert(len(posts) // 4, ("big", big))

    def post(item: tuple[str, bytes]) -> Any:
        label, body = item
        return lambda client: (
            label,
            *post_until_accepted(client, "/webhooks/whatsapp", body, meta_headers(body)),
        )

    began = time.monotonic()
    answers = run_concurrently(sizes.clients, stack.api_url, [post(item) for item in posts])
    posted_in = time.monotonic() - began
    drained, waited, pending = drain(stack, sizes.burst_drain_s)
    elapsed = time.monotonic() - began

    refused = [(label, status) for label, status, _ in answers if status != 200]
    retried = sum(1 for _, status, attempts in answers if status == 200 and attempts > 1)
    big_status = next((status for label, status, _ in answers if label == "big"), None)
    unique_updates = len(updates_in) + len(updates_st) + sizes.big_webhook

    read = _read_back(stack, sizes, list(inbound_ids) + list(status_states))
    lost_inbound = [m for m in inbound_ids if read.get(m, {}).get("status") != 200]
    lost_status = [m for m in status_states if read.get(m, {}).get("status") != 200]
    missing_states = sum(
        len(states - set((read[m].get("body") or {}).get("statuses") or {}))
        for m, states in status_states.items()
        if m not in lost_status
    )
    lost = lost_inbound + lost_status
    contacts = _contact_counts(stack, sizes, sorted(expected_inbound.keys() | expected_outbound.keys()))
    contacts_off = sum(
        1
        for phone in contacts
        if contacts[phone] != (expected_inbound.get(phone, 0), expected_outbound.get(phone, 0))
    )
    events = bus.take()
    received_ids: dict[str, set[str]] = defaultdict(set)
    for event in events:
        detail = event.get("detail") or {}
        if event.get("detail-type") == "message.received":
            received_ids[str((detail.get("properties") or {}).get("messageId"))].add(
                str(detail.get("messageId"))
            )
    duplicated_events = sum(len(ids) - 1 for m, ids in received_ids.items() if m in inbound_ids)
    metrics = _metrics(stack, day)
    received = (metrics or {}).get("received")
    sent = ((metrics or {}).get("funnel") or {}).get("sent")

    figures.record(
        PHASE,
        webhooks_posted=len(posts),
        webhooks_accepted=len(posts) - len(refused),
        webhooks_refused=len(refused),
        webhooks_retried=retried,
        big_webhook_updates=sizes.big_webhook,
        big_webhook_bytes=len(big),
        big_webhook_status=big_status,
        updates=unique_updates,
        redelivered_webhooks=len(redelivered),
        clients=sizes.clients,
        lost=len(lost),
        lost_ids_with_slash=sum(1 for m in lost if "/" in m),
        missing_statuses=missing_states,
        contacts_with_wrong_counts=contacts_off,
        duplicated_events=duplicated_events,
        analytics_received=received,
        analytics_received_expected=len(inbound_ids),
        analytics_sent=sent,
        analytics_sent_expected=len(status_states),
        drained=drained,
        posting_seconds=round(posted_in, 1),
        drain_seconds=round(waited, 1),
        updates_per_second=round(unique_updates / elapsed, 1),
    )
    check = figures.check
    check(PHASE, "accepted", not refused, f"{len(refused)} webhook(s) never answered 200: {refused[:5]}")
    check(
        PHASE,
        "big_webhook",
        big_status == 200 or not big,
        f"the {sizes.big_webhook}-update webhook got {big_status}",
    )
    check(PHASE, "drained", drained, f"still busy after {sizes.burst_drain_s} s: {pending}")
    check(
        PHASE,
        "lost",
        not lost,
        f"{len(lost)} of {len(inbound_ids) + len(status_states)} updates not readable, e.g. {lost[:3]}",
    )
    check(
        PHASE,
        "missing_statuses",
        missing_states == 0,
        f"{missing_states} posted statuses missing from their message",
    )
    check(
        PHASE,
        "contact_counts",
        contacts_off == 0,
        f"{contacts_off} contacts whose inbound/outbound counts differ from what was posted",
    )
    check(
        PHASE,
        "duplicated_events",
        duplicated_events == 0,
        f"{duplicated_events} inbound messages announced twice on the bus",
    )
    check(
        PHASE,
        "analytics_received",
        received == len(inbound_ids),
        f"analytics counted {received} received, {len(inbound_ids)} posted",
    )
    check(
        PHASE,
        "analytics_sent",
        sent == len(status_states),
        f"analytics counted {sent} sent, {len(status_states)} posted",
    )
    figures.assert_phase(PHASE)


def _read_back(stack: DevStack, sizes: Sizes, message_ids: list[str]) -> dict[str, dict[str, Any]]:
    def read(message_id: str) -> Any:
        def job(client: httpx.Client) -> tuple[str, dict[str, Any]]:
            try:
                response = client.get(message_path(message_id), headers=operator_headers())
            except httpx.HTTPError as error:
                return message_id, {"status": None, "error": type(error).__name__}
            body = response.json() if response.status_code == 200 else None
            return message_id, {"status": response.status_code, "body": body}

        return job

    return dict(run_concurrently(sizes.clients, stack.api_url, [read(m) for m in message_ids]))


def _contact_counts(stack: DevStack, sizes: Sizes, phones: list[str]) -> dict[str, tuple[int, int] | None]:
    def read(phone: str) -> Any:
        def job(client: httpx.Client) -> tuple[str, tuple[int, int] | None]:
            response = client.get(f"/contacts/{phone}", headers=operator_headers())
            if response.status_code != 200:
                return phone, None
            counts = response.json().get("messages") or {}
            return phone, (int(counts.get("inbound", 0)), int(counts.get("outbound", 0)))

        return job

    return dict(run_concurrently(sizes.clients, stack.api_url, [read(p) for p in phones]))


def _metrics(stack: DevStack, day: str) -> dict[str, Any] | None:
    with httpx.Client(base_url=stack.api_url, timeout=60) as client:
        response = client.get("/metrics", params={"from": day, "to": day}, headers=operator_headers())
    if response.status_code != 200:
        return None
    found: dict[str, Any] = json.loads(response.text)
    return found
