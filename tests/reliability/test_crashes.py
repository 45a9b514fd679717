"""Crashes: the WhatsApp processor's worker, and (full run) forwarders' workers, killed with SIGKILL
in the middle of a batch, several times. Lambda then starts a fresh execution environment and SQS
hands the batch out again after its visibility timeout; nothing may be lost or applied twice."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.runtime import FunctionWorker
from devstack.stack import DevStack
from devstack.testing import AwsHelpers
from tests.reliability.bus import BusObserver
from tests.reliability.harness import (
    DAY,
    DESTINATIONS,
    FORWARDERS,
    QUEUES,
    Figures,
    Pii,
    Sizes,
    chunks,
    drain,
    inbound_value,
    message_path,
    meta_headers,
    operator_headers,
    post_until_accepted,
    run_concurrently,
    selected_sizes,
    wait_for,
)
from tests.reliability.orders import collect, invariants, new_orders, post_clicks, post_orders, statuses
from tests.support import webhooks as wh

pytestmark = pytest.mark.reliability
PROCESSOR_PHASE = "crash_processor"
FORWARDER_PHASE = "crash_forwarders"
PROCESSOR = "WhatsAppProcessorFunction"
# Stands for "later": SQS hands an unfinished batch out again after the queue's visibility timeout
# (180 s as deployed); the run shortens it on the local queues it crashes, and restores it.
CRASH_VISIBILITY_S = 5
# The local pollers' long poll (devstack/pollers.py, _WAIT_SECONDS).
POLL_WAIT_S = 1


def busy(worker: FunctionWorker) -> bool:
    # The worker holds its lock for exactly the length of an invocation (devstack/runtime.py).
    return worker.pid is not None and worker._lock.locked()


def kill_mid_batch(
    stack: DevStack,
    function: str,
    rng: random.Random,
    wait_s: float,
    into: tuple[float, float] = (0.05, 0.5),
) -> bool:
    """SIGKILLs the function's worker process `into` seconds into an invocation; False if none came."""
    worker = stack.worker(function)
    if not wait_for(lambda: busy(worker), wait_s, interval=0.01):
        return False
    time.sleep(rng.uniform(*into))
    pid = worker.pid
    if pid is None or not busy(worker):
        return False
    os.kill(pid, signal.SIGKILL)
    return True


class ShortVisibility:
    def __init__(self, aws: AwsHelpers, queues: list[str]) -> None:
        self._aws = aws
        self._urls = [aws.queue_url(queue) for queue in queues]
        self._saved: dict[str, str] = {}

    def __enter__(self) -> ShortVisibility:
        for url in self._urls:
            attributes = self._aws.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["VisibilityTimeout"]
            )
            self._saved[url] = attributes["Attributes"]["VisibilityTimeout"]
            self._aws.sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"VisibilityTimeout": str(CRASH_VISIBILITY_S)}
            )
        # A receive already waiting took the old timeout (moto reads it when the call starts): a
        # message it then hands to a worker killed later stays hidden for minutes, past the drain.
        time.sleep(POLL_WAIT_S + 1)
        return self

    def __exit__(self, *exc: object) -> None:
        for url, value in self._saved.items():
            self._aws.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": value})


@pytest.fixture
def standins_for_crashes(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.standins.url, timeout=60) as client:
        client.delete("/_faults")
        yield client
        client.delete("/_faults")


@pytest.mark.timeout(int(selected_sizes().crash_drain_s) * 2 + 300)
def test_processor_crashes_lose_nothing_and_apply_nothing_twice(
    stack: DevStack,
    aws: AwsHelpers,
    bus: BusObserver,
    figures: Figures,
    pii: Pii,
    rng: random.Random,
    sizes: Sizes,
) -> None:
    day_start = (int(time.time()) // DAY - 2) * DAY
    day = time.strftime("%Y-%m-%d", time.gmtime(day_start))
    people = [(pii.phone(), pii.name()) for _ in range(max(5, sizes.crash_inbound // 8))]
    expected: dict[str, int] = defaultdict(int)
    ids: list[str] = []
    values = []
    for _ in range(sizes.crash_inbound):
        phone, name = rng.choice(people)
        value, message_id = inbound_value(pii, rng, phone, name, day_start + rng.randint(3600, 80_000))
        values.append(value)
        ids.append(message_id)
        expected[phone] += 1
    # Many small webhooks: the processor takes 10 per batch, so a kill cuts a batch in the middle.
    bodies = [wh.encode(wh.webhook(*part)) for part in chunks(values, 3)]

    def post(body: bytes) -> Any:
        return lambda client: post_until_accepted(client, "/webhooks/whatsapp", body, meta_headers(body))[0]

    hits: list[bool] = []

    def killer() -> None:
        for _ in range(sizes.processor_kills):
            hits.append(kill_mid_batch(stack, PROCESSOR, rng, wait_s=20))
            time.sleep(0.5)

    with ShortVisibility(aws, ["WhatsAppIngestQueue"]):
        # Aimed while the webhooks go in, not after: a small run's batches can all be done by then.
        aiming = threading.Thread(target=killer, name="processor-killer")
        aiming.start()
        answers = run_concurrently(sizes.clients, stack.api_url, [post(body) for body in bodies])
        aiming.join()
        drained, waited, pending = drain(stack, sizes.crash_drain_s)
    kills = sum(hits)

    def read(message_id: str) -> Any:
        return lambda client: client.get(message_path(message_id), headers=operator_headers()).status_code

    read_back = run_concurrently(sizes.clients, stack.api_url, [read(m) for m in ids])
    lost = [m for m, status in zip(ids, read_back, strict=True) if status != 200]

    def contact(phone: str) -> Any:
        def job(client: httpx.Client) -> int | None:
            response = client.get(f"/contacts/{phone}", headers=operator_headers())
            return int(response.json()["messages"]["inbound"]) if response.status_code == 200 else None

        return job

    counts = run_concurrently(sizes.clients, stack.api_url, [contact(p) for p in expected])
    wrong_counts = sum(1 for phone, got in zip(expected, counts, strict=True) if got != expected[phone])
    mine = set(ids)
    announced: dict[str, set[str]] = defaultdict(set)
    for event in bus.take():
        properties = (event.get("detail") or {}).get("properties") or {}
        if event.get("detail-type") == "message.received" and properties.get("messageId") in mine:
            announced[properties["messageId"]].add(event["detail"]["messageId"])
    duplicated = sum(len(v) - 1 for v in announced.values())
    with httpx.Client(base_url=stack.api_url, timeout=60) as client:
        metrics = client.get("/metrics", params={"from": day, "to": day}, headers=operator_headers())
    received = metrics.json().get("received") if metrics.status_code == 200 else None

    figures.record(
        PROCESSOR_PHASE,
        updates=len(ids),
        kills=kills,
        lost=len(lost),
        duplicated_events=duplicated,
        contacts_with_wrong_counts=wrong_counts,
        analytics_received=received,
        drained=drained,
        drain_seconds=round(waited, 1),
    )
    check = figures.check
    check(PROCESSOR_PHASE, "posted", all(s == 200 for s in answers), "a webhook was never accepted")
    check(PROCESSOR_PHASE, "killed", kills >= 1, f"only {kills} of {sizes.processor_kills} kills hit a batch")
    check(PROCESSOR_PHASE, "drained", drained, f"still busy: {pending}")
    check(PROCESSOR_PHASE, "lost", not lost, f"{len(lost)} of {len(ids)} messages not readable")
    check(PROCESSOR_PHASE, "counts", wrong_counts == 0, f"{wrong_counts} contacts with wrong inbound counts")
    check(PROCESSOR_PHASE, "duplicated", duplicated == 0, f"{duplicated} messages announced twice")
    check(PROCESSOR_PHASE, "analytics", received == len(ids), f"analytics: {received} received of {len(ids)}")
    check(PROCESSOR_PHASE, "restarted", stack.worker(PROCESSOR).pid is not None, "no processor worker after")
    figures.assert_phase(PROCESSOR_PHASE)


# A forwarder's claim cut off by a crash waits out its lease (two minutes) before it is settled: too
# long for `make test`, so only the full run (`make reliability`) has this test.
if selected_sizes().forwarder_kills:

    @pytest.mark.timeout(int(selected_sizes().crash_drain_s) * 2 + 300)
    def test_forwarder_crashes_send_nothing_twice(
        stack: DevStack,
        aws: AwsHelpers,
        standins_for_crashes: httpx.Client,
        figures: Figures,
        pii: Pii,
        rng: random.Random,
        sizes: Sizes,
    ) -> None:
        orders = new_orders(pii, rng, sizes.forwarder_orders)
        # Slow answers (the first of each order) keep the forwarders inside a request long enough
        # for the kill to land there: after the destination took it, before its answer is recorded.
        for order in orders:
            for destination in ("wax", "cm", "meta"):
                spec = {"destination": destination, "match": order.token(destination), "delay": 2}
                standins_for_crashes.post("/_faults", json=spec)
        refused = post_clicks(stack, pii, rng, orders, sizes.clients)
        drain(stack, sizes.crash_drain_s)
        kills: dict[str, int] = defaultdict(int)
        with ShortVisibility(aws, [QUEUES[d] for d in DESTINATIONS]):
            refused += post_orders(stack, orders, sizes.clients)
            for attempt in range(sizes.forwarder_kills):
                destination = ("wax", "cm", "meta")[attempt % 3]
                kills[destination] += kill_mid_batch(stack, FORWARDERS[destination], rng, 30, (0.6, 1.6))
            drained, waited, pending = drain(stack, sizes.crash_drain_s)
        outcomes = collect(stack, aws, orders, sizes.clients)
        problems = invariants(outcomes, orders, DESTINATIONS)
        wax_undelivered = [
            o.order_id
            for o in orders
            if (outcomes.deliveries.get(("wax", o.order_id)) or {}).get("status") != "delivered"
        ]
        figures.record(
            FORWARDER_PHASE,
            orders=len(orders),
            kills=dict(kills),
            delivery_statuses=statuses(outcomes),
            duplicated=len(problems.get("duplicated", [])),
            stuck=len(problems.get("stuck", [])),
            drained=drained,
            drain_seconds=round(waited, 1),
        )
        check = figures.check
        check(FORWARDER_PHASE, "posted", not refused, f"{refused} webhook(s) never accepted")
        check(FORWARDER_PHASE, "killed", sum(kills.values()) >= 1, f"no kill hit a batch: {dict(kills)}")
        check(FORWARDER_PHASE, "drained", drained, f"still busy: {pending}")
        for name, items in sorted(problems.items()):
            check(FORWARDER_PHASE, name, not items, f"{len(items)}: {items[:4]}")
        check(
            FORWARDER_PHASE,
            "wax_delivered",
            not wax_undelivered,
            f"Wax dedupes, yet not delivered: {wax_undelivered[:4]}",
        )
        for destination in FORWARDERS.values():
            check(
                FORWARDER_PHASE,
                "restarted",
                stack.worker(destination).pid is not None,
                f"no {destination} worker",
            )
        figures.assert_phase(FORWARDER_PHASE)
