"""Destination faults: attributed orders forwarded while about 30% of the destinations' answers
fail (429 with Retry-After, 500, 503, timeouts before and after the destination took the request, a
reset, a permanent 400). Each order reaches each destination that accepted it exactly once; a
permanent error is parked with its reason; an unknown outcome at a destination that cannot dedupe is
`ambiguous`, not resent; nothing is left pending."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import httpx
import pytest

from devstack.stack import DevStack
from devstack.testing import AwsHelpers
from tests.reliability.harness import DESTINATIONS, FORWARDERS, Figures, Pii, Sizes, drain, selected_sizes
from tests.reliability.orders import collect, invariants, new_orders, post_clicks, post_orders, statuses
from wa_conversions.config import DeliverySettings

pytestmark = pytest.mark.reliability
PHASE = "faults"
RETRYABLE = ("429", "500", "503")
# Outcome unknown to the sender: the destination may or may not have the event.
UNKNOWN = ("timeout_before_record", "timeout_after_record", "reset_after_record")
KINDS = (*RETRYABLE, *RETRYABLE, *UNKNOWN, "400")
# Wax dedupes on unique_id, so the forwarder may resend after an unknown outcome; the others may not.
DEDUPES = frozenset({"wax"})


def client_timeout(stack: DevStack, destination: str) -> float:
    environment = stack.function_environment(FORWARDERS[destination])
    configured = environment.get("DELIVERY_HTTP_TIMEOUT_SECONDS")
    default = DeliverySettings.model_fields["http_timeout_seconds"].default
    return float(configured or default)


def fault(kind: str, destination: str, token: str, timeout: float) -> dict[str, Any]:
    spec: dict[str, Any] = {"destination": destination, "match": token, "times": 1}
    past_timeout = timeout + 1.5
    if kind == "429":
        spec.update(status=429, retry_after=1)
    elif kind in ("500", "503"):
        spec.update(status=int(kind))
    elif kind == "400":
        # Meta's forwarder splits a refused batch until the bad event stands alone: refuse each split.
        spec.update(status=400, times=20 if destination == "meta" else 1)
    elif kind == "timeout_before_record":
        spec.update(drop="before_record", delay=past_timeout)
    elif kind == "timeout_after_record":
        spec.update(drop="after_record", delay=past_timeout)
    else:
        spec.update(drop="after_record", delay=0)
    return spec


def expected_status(kinds: list[str], dedupes: bool) -> str:
    """Where a delivery ends when its attempts meet these faults in turn, then a success."""
    for kind in kinds:
        if kind == "400":
            return "failed"
        if kind in UNKNOWN and not dedupes:
            return "ambiguous"
    return "delivered"


@pytest.mark.timeout(int(selected_sizes().fault_drain_s) * 2 + 300)
def test_each_order_reaches_each_destination_once_whatever_the_faults(
    stack: DevStack,
    aws: AwsHelpers,
    standins: httpx.Client,
    figures: Figures,
    pii: Pii,
    rng: random.Random,
    sizes: Sizes,
) -> None:
    orders = new_orders(pii, rng, sizes.orders)
    planned: dict[tuple[str, int], list[str]] = defaultdict(list)
    faults: list[dict[str, Any]] = []
    # Every kind at least once, even in the short run (Meta's batches aside), then chance decides.
    first_of_each = sorted(set(KINDS))
    for order in orders:
        for destination in DESTINATIONS:
            if first_of_each and destination != "meta":
                kinds = [first_of_each.pop()]
            elif rng.random() >= sizes.fault_share:
                continue
            else:
                kinds = [rng.choice(KINDS)]
            if kinds[0] in RETRYABLE and rng.random() < 0.3:
                kinds.append(rng.choice(KINDS))
            planned[(destination, order.order_id)] = kinds
            timeout = client_timeout(stack, destination)
            faults += [fault(kind, destination, order.token(destination), timeout) for kind in kinds]
    standins.delete("/_faults")
    for spec in faults:
        answer = standins.post("/_faults", json=spec)
        assert answer.status_code == 201, f"the stand-ins refused a fault: {answer.text}"

    clicks_refused = post_clicks(stack, pii, rng, orders, sizes.clients)
    clicks_drained, _, clicks_pending = drain(stack, sizes.fault_drain_s)
    orders_refused = post_orders(stack, orders, sizes.clients)
    drained, drain_seconds, pending = drain(stack, sizes.fault_drain_s)
    outcomes = collect(stack, aws, orders, sizes.clients)
    problems = invariants(outcomes, orders, DESTINATIONS)

    # What the plan says each unbatched destination must end in (Meta batches several orders in one
    # request, so one order's fault is its batch-mates' too: only the invariants hold for it).
    unexpected: list[str] = []
    for order in orders:
        for destination in ("wax", "cm", "dialog360"):
            kinds = planned.get((destination, order.order_id), [])
            item = outcomes.deliveries.get((destination, order.order_id)) or {}
            status = item.get("status")
            expected = expected_status(kinds, destination in DEDUPES)
            if status != expected:
                unexpected.append(f"{destination} {order.order_id} {kinds}: {status}, expected {expected}")
            parked = outcomes.parked.get((destination, order.order_id), [])
            if expected == "failed" and not any("400" in reason for reason in parked):
                unexpected.append(f"{destination} {order.order_id}: parked without the 400 as its reason")

    injected = sum(len(kinds) for kinds in planned.values())
    before_drops = sum(kinds.count("timeout_before_record") for kinds in planned.values())
    answers = sum(outcomes.requests.values()) + before_drops
    figures.record(
        PHASE,
        orders=len(orders),
        destinations=len(DESTINATIONS),
        faults_injected=injected,
        fault_kinds={kind: sum(k.count(kind) for k in planned.values()) for kind in sorted(set(KINDS))},
        requests_recorded=dict(outcomes.requests),
        failed_answer_share=round((outcomes.failed_answers + before_drops) / answers, 3) if answers else None,
        delivery_statuses=statuses(outcomes),
        duplicated=len(problems.get("duplicated", [])),
        stuck=len(problems.get("stuck", [])),
        missing=len(problems.get("missing", [])),
        unexpected_outcomes=len(unexpected),
        drained=clicks_drained and drained,
        drain_seconds=round(drain_seconds, 1),
    )
    check = figures.check
    refused = f"{clicks_refused} click(s), {orders_refused} order(s) never accepted"
    check(PHASE, "posted", not clicks_refused and not orders_refused, refused)
    check(PHASE, "drained", clicks_drained and drained, f"still busy: {clicks_pending or pending}")
    for name, items in sorted(problems.items()):
        check(PHASE, name, not items, f"{len(items)}: {items[:4]}")
    check(PHASE, "outcomes", not unexpected, f"{len(unexpected)}: {unexpected[:4]}")
    figures.assert_phase(PHASE)
