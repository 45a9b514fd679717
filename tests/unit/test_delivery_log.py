"""The delivery log (wa_conversions.delivery.log) in moto's copy of the single table: who may send an
event now, what each outcome records, the operator's decisions, the filtered list and the references a
destination hands back. A settable clock plays time passing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.delivery import NOW, DeliveryAws, moto_aws
from wa_conversions.delivery.log import (
    ERASED_REASON,
    ClaimResult,
    DeliveryFacts,
    DeliveryLog,
    OperatorResult,
    delivery_id_for,
)
from wa_conversions.store import keys
from wa_conversions.store.dynamo import serialize

LEASE = 120
FACTS = DeliveryFacts(
    destination="cm",
    event_id="shopify:s.myshopify.com:1001:order",
    event_name="conversion.attributed",
    kind="order",
    conversion_id="shopify:s.myshopify.com:1001",
    order_id="1001",
)


@dataclass
class Clock:
    now: int = NOW

    def __call__(self) -> int:
        return self.now


@dataclass
class World:
    aws: DeliveryAws
    clock: Clock
    log: DeliveryLog

    def claim(self, facts: DeliveryFacts = FACTS, *, dedupes: bool = False) -> ClaimResult:
        return self.log.claim(
            facts, message='{"queued": true}', queue=facts.destination, lease_seconds=LEASE,
            resend_interrupted=dedupes,
        ).result  # fmt: skip

    def stored(self, facts: DeliveryFacts = FACTS) -> dict[str, object]:
        found = self.log.get_for(facts.destination, facts.event_id)
        assert found is not None
        return found

    def erase(self, facts: DeliveryFacts = FACTS) -> None:
        """What privacy.erasure leaves of a delivery not yet sent: skipped, for the reason `erased`."""
        self.aws.dynamodb.update_item(
            TableName=self.aws.table,
            Key={"pk": serialize(keys.delivery_pk(self.id(facts))), "sk": serialize(keys.DELIVERY)},
            UpdateExpression="SET #s = :s, reason = :r, lease_until = :z",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":s": serialize("skipped"),
                ":r": serialize(ERASED_REASON),
                ":z": serialize(0),
            },
        )

    @staticmethod
    def id(facts: DeliveryFacts = FACTS) -> str:
        return delivery_id_for(facts.destination, facts.event_id)


@pytest.fixture(scope="module")
def _moto() -> Iterator[None]:
    with moto_aws():
        yield


@pytest.fixture
def world(_moto: None) -> Iterator[World]:
    aws, clock = DeliveryAws.create(), Clock()
    yield World(aws, clock, DeliveryLog(aws.dynamodb, aws.table, clock=clock))
    aws.drop()


def test_a_delivery_id_is_stable_per_destination_and_event() -> None:
    assert delivery_id_for("meta", "ev-1") == delivery_id_for("meta", "ev-1")
    assert (
        len({delivery_id_for("meta", "ev-1"), delivery_id_for("cm", "ev-1"), delivery_id_for("meta", "ev-2")})
        == 3
    )


def test_the_facts_name_a_tenant_only_when_there_is_one() -> None:
    assert "tenant" not in FACTS.attributes()
    assert DeliveryFacts("wax", "ev-1", tenant="brand-b").attributes()["tenant"] == "brand-b"


def test_a_first_claim_records_a_pending_attempt_with_what_was_queued(world: World) -> None:
    claim = world.log.claim(FACTS, message='{"m": 1}', queue="cm", lease_seconds=LEASE)

    assert (claim.result, claim.delivery_id, claim.attempts) == (ClaimResult.CLAIMED, world.id(), 1)
    stored = world.stored()
    assert stored["status"] == "pending"
    assert stored["lease_until"] == NOW + LEASE
    assert world.log.message(world.id()) == '{"m": 1}'
    assert (stored["order_id"], stored["kind"], stored["created_at"]) == ("1001", "order", NOW)


def test_the_queued_message_is_kept_beside_the_delivery_so_its_outcomes_rewrite_a_small_item(
    world: World,
) -> None:
    # DynamoDB charges a write for the whole item, its index copy too: the event is not in there.
    event = '{"detail": "' + "x" * 2_000 + '"}'
    world.log.claim(FACTS, message=event, queue="cm", lease_seconds=LEASE)
    world.log.mark_delivered(world.id(), FACTS, 200, {"id": "ok"})

    key = {"pk": serialize(keys.delivery_pk(world.id()))}
    delivery = world.aws.dynamodb.get_item(
        TableName=world.aws.table, Key={**key, "sk": serialize(keys.DELIVERY)}
    )["Item"]
    kept = world.aws.dynamodb.get_item(
        TableName=world.aws.table, Key={**key, "sk": serialize(keys.DELIVERY_MESSAGE)}
    )["Item"]
    assert "message" not in delivery and len(json.dumps(delivery)) < 1_000
    assert "gsi1pk" not in kept  # not in the status index either
    assert (kept["message"]["S"], kept["queue"]["S"]) == (event, "cm")
    assert kept["conversion_id"]["S"] == FACTS.conversion_id  # shop/redact finds it by this
    assert int(kept["expires_at"]["N"]) > NOW
    assert world.log.message(world.id()) == event


def test_a_delivery_erased_before_its_message_had_an_item_keeps_no_message_after_a_claim(
    world: World,
) -> None:
    world.claim()
    world.erase()  # what an erasure left of a delivery recorded before messages had items

    assert world.claim() is ClaimResult.ERASED
    assert world.log.message(world.id()) is None  # the message this claim brought is gone again
    world.log.mark_skipped(FACTS, "no consent", message='{"phone": "1"}', queue="cm")
    assert world.log.message(world.id()) is None
    assert world.stored()["reason"] == ERASED_REASON


def test_a_delivery_recorded_with_its_message_inside_replays_it_and_sheds_it_at_its_next_claim(
    world: World,
) -> None:
    world.claim()
    legacy = {"pk": serialize(keys.delivery_pk(world.id())), "sk": serialize(keys.DELIVERY_MESSAGE)}
    world.aws.dynamodb.delete_item(TableName=world.aws.table, Key=legacy)
    world.aws.dynamodb.update_item(
        TableName=world.aws.table,
        Key={"pk": legacy["pk"], "sk": serialize(keys.DELIVERY)},
        UpdateExpression="SET message = :m, queue = :q, lease_until = :z",
        ExpressionAttributeValues={":m": serialize("old"), ":q": serialize("cm"), ":z": serialize(0)},
    )
    assert world.log.message(world.id()) == "old"

    world.log.claim(FACTS, message="new", queue="cm", lease_seconds=LEASE)

    assert "message" not in world.stored() and "queue" not in world.stored()
    assert world.log.message(world.id()) == "new"


def test_a_claim_held_elsewhere_is_busy_until_its_lease_ends(world: World) -> None:
    world.claim()
    world.clock.now += 20

    busy = world.log.claim(FACTS, message="{}", queue="cm", lease_seconds=LEASE)

    assert (busy.result, busy.retry_in) == (ClaimResult.BUSY, LEASE - 20)
    assert world.stored()["attempts"] == 1  # the refused claim is no attempt


def test_a_delivered_event_is_never_claimed_again_and_keeps_the_destinations_answer(world: World) -> None:
    world.claim()
    world.log.mark_delivered(world.id(), FACTS, 200, {"fbtrace_id": "AbC"})

    assert world.claim() is ClaimResult.ALREADY_DELIVERED
    stored = world.stored()
    assert (stored["status"], stored["last_status_code"], stored["delivered_at"]) == ("delivered", 200, NOW)
    assert stored["response"] == {"fbtrace_id": "AbC"}
    assert stored["lease_until"] == 0


def test_a_delivery_after_a_failed_attempt_drops_the_old_reason_unless_it_has_a_note(world: World) -> None:
    world.claim()
    world.log.mark_retrying(world.id(), FACTS, 503, "HTTP 503: busy", 60)
    world.log.mark_failed(world.id(), FACTS, 400, "HTTP 400: bad")
    world.log.mark_delivered(world.id(), FACTS, 200)
    assert "reason" not in world.stored()

    other = DeliveryFacts("meta", "ev-opt-out")
    world.claim(other)
    world.log.mark_delivered(world.id(other), other, 200, note="sent with opt_out: no ads consent")
    assert world.stored(other)["reason"] == "sent with opt_out: no ads consent"


def test_a_retry_records_the_error_and_when_the_next_attempt_comes(world: World) -> None:
    world.claim()

    world.log.mark_retrying(world.id(), FACTS, 429, "HTTP 429: slow down", 90)

    stored = world.stored()
    assert stored["status"] == "pending" and stored["lease_until"] == 0
    assert (stored["last_error"], stored["retry_delay_seconds"], stored["next_attempt_at"]) == (
        "HTTP 429: slow down",
        90,
        NOW + 90,
    )
    world.clock.now += 90
    claim = world.log.claim(FACTS, message="{}", queue="cm", lease_seconds=LEASE)
    assert (claim.result, claim.attempts) == (ClaimResult.CLAIMED, 2)


def test_a_failed_delivery_may_be_claimed_again_by_a_replay(world: World) -> None:
    world.claim()
    world.log.mark_failed(world.id(), FACTS, 400, "HTTP 400: bad phone")
    assert (world.stored()["status"], world.stored()["reason"]) == ("failed", "HTTP 400: bad phone")

    assert world.claim() is ClaimResult.CLAIMED


def test_an_ambiguous_delivery_waits_for_the_operator(world: World) -> None:
    world.claim()
    world.log.mark_ambiguous(world.id(), FACTS, None, "sent, outcome unknown: ReadTimeout")

    assert world.claim(dedupes=True) is ClaimResult.AMBIGUOUS
    assert world.stored()["reason"] == "sent, outcome unknown: ReadTimeout"


def test_a_lease_that_ran_out_is_ambiguous_where_a_repeat_would_count_twice(world: World) -> None:
    world.claim()
    world.clock.now += LEASE + 1

    assert world.claim() is ClaimResult.INTERRUPTED
    stored = world.stored()
    assert (stored["status"], stored["lease_until"]) == ("ambiguous", 0)
    assert "stopped after claiming" in str(stored["reason"])
    assert [d["delivery_id"] for d in world.log.list(status="ambiguous")] == [world.id()]


def test_a_lease_that_ran_out_is_taken_over_where_the_destination_dedupes(world: World) -> None:
    wax = DeliveryFacts("wax", FACTS.event_id)
    world.claim(wax, dedupes=True)
    world.clock.now += LEASE + 1

    claim = world.log.claim(wax, message="{}", queue="wax", lease_seconds=LEASE, resend_interrupted=True)

    assert (claim.result, claim.attempts) == (ClaimResult.CLAIMED, 2)


def test_an_erased_delivery_is_never_claimed_nor_written_back(world: World) -> None:
    world.claim()
    world.log.mark_retrying(world.id(), FACTS, 503, "HTTP 503", 30)
    world.erase()

    assert world.claim(dedupes=True) is ClaimResult.ERASED
    world.log.mark_delivered(world.id(), FACTS, 200)
    assert (world.stored()["status"], world.stored()["reason"]) == ("skipped", ERASED_REASON)


def test_a_released_claim_is_as_if_the_attempt_had_not_been(world: World) -> None:
    world.claim()

    world.log.release(world.id(), FACTS)

    assert (world.stored()["attempts"], world.stored()["lease_until"]) == (0, 0)
    claim = world.log.claim(FACTS, message="{}", queue="cm", lease_seconds=LEASE)
    assert (claim.result, claim.attempts) == (ClaimResult.CLAIMED, 1)


def test_releasing_a_settled_delivery_changes_nothing(world: World) -> None:
    world.claim()
    world.log.mark_delivered(world.id(), FACTS, 200)

    world.log.release(world.id(), FACTS)

    assert (world.stored()["status"], world.stored()["attempts"]) == ("delivered", 1)


def test_a_skip_is_recorded_with_its_reason_but_never_over_a_delivery(world: World) -> None:
    skipped = DeliveryFacts("cm", "ev-no-phone", order_id="7")
    delivery_id = world.log.mark_skipped(skipped, "no_phone", message='{"m": 2}', queue="cm")
    assert delivery_id == world.id(skipped)
    assert (world.stored(skipped)["status"], world.stored(skipped)["reason"]) == ("skipped", "no_phone")

    world.claim()
    world.log.mark_delivered(world.id(), FACTS, 200)
    world.log.mark_skipped(FACTS, "decided later", message="{}", queue="cm")
    assert world.stored()["status"] == "delivered"


def settle(world: World, state: str) -> None:
    """Leaves FACTS' delivery in `state`."""
    if state == "skipped":
        world.log.mark_skipped(FACTS, "no_phone", message="{}", queue="cm")
        return
    if state == "missing":
        return
    world.claim()
    if state == "delivered":
        world.log.mark_delivered(world.id(), FACTS, 200)
    elif state == "erased":
        world.erase()
    elif state == "ambiguous":
        world.log.mark_ambiguous(world.id(), FACTS, None, "sent, outcome unknown")
    elif state == "failed":
        world.log.mark_failed(world.id(), FACTS, 400, "HTTP 400")


@pytest.mark.parametrize(
    ("state", "confirmed"),
    [
        ("missing", OperatorResult.MISSING),
        ("in_flight", OperatorResult.IN_FLIGHT),
        ("delivered", OperatorResult.ALREADY_DELIVERED),
        ("skipped", OperatorResult.SKIPPED),  # never sent: nothing to confirm
        ("erased", OperatorResult.ERASED),
        ("failed", OperatorResult.DONE),
    ],
)
def test_the_operator_confirms_only_what_was_sent_and_is_not_in_flight(
    world: World, state: str, confirmed: OperatorResult
) -> None:
    settle(world, state)

    assert world.log.confirm(world.id()) is confirmed


@pytest.mark.parametrize(
    ("state", "reopened"),
    [
        ("missing", OperatorResult.MISSING),
        ("in_flight", OperatorResult.IN_FLIGHT),
        ("delivered", OperatorResult.ALREADY_DELIVERED),
        ("skipped", OperatorResult.DONE),  # a skip may be tried again
        ("erased", OperatorResult.ERASED),
    ],
)
def test_the_operator_reopens_what_is_not_delivered_erased_or_in_flight(
    world: World, state: str, reopened: OperatorResult
) -> None:
    settle(world, state)
    before = world.log.get(world.id())

    assert world.log.reopen(world.id()) is reopened
    after = world.log.get(world.id())
    if reopened is OperatorResult.DONE:
        assert after is not None and after["status"] == "pending"
    else:
        assert after == before  # refused: nothing changed


def test_a_confirmed_delivery_is_delivered_by_the_operator_and_never_claimed(world: World) -> None:
    world.claim()
    world.log.mark_ambiguous(world.id(), FACTS, None, "sent, outcome unknown")
    world.clock.now += 300

    assert world.log.confirm(world.id()) is OperatorResult.DONE

    stored = world.stored()
    assert (stored["status"], stored["confirmed_by_operator"], stored["delivered_at"]) == (
        "delivered",
        True,
        NOW + 300,
    )
    assert world.claim() is ClaimResult.ALREADY_DELIVERED
    assert [d["delivery_id"] for d in world.log.list(status="delivered")] == [world.id()]
    assert world.log.list(status="ambiguous") == []


def test_a_reopened_ambiguous_delivery_may_be_claimed_and_sent_again(world: World) -> None:
    world.claim()
    world.log.mark_ambiguous(world.id(), FACTS, None, "sent, outcome unknown")

    assert world.log.reopen(world.id()) is OperatorResult.DONE

    assert world.stored()["reason"] == "the operator asked for another attempt"
    claim = world.log.claim(FACTS, message="{}", queue="cm", lease_seconds=LEASE)
    assert (claim.result, claim.attempts) == (ClaimResult.CLAIMED, 2)


def test_a_claim_whose_lease_ran_out_may_be_decided_by_the_operator(world: World) -> None:
    world.claim()
    world.clock.now += LEASE + 1

    assert world.log.confirm(world.id()) is OperatorResult.DONE


def record(world: World, destination: str, event_id: str, status: str, **facts: str) -> str:
    one = DeliveryFacts(destination, event_id, **facts)
    world.claim(one)
    if status == "delivered":
        world.log.mark_delivered(world.id(one), one, 200)
    elif status == "failed":
        world.log.mark_failed(world.id(one), one, 400, "HTTP 400")
    world.clock.now += 10
    return world.id(one)


def test_the_list_is_newest_first_across_statuses_and_cut_at_the_limit(world: World) -> None:
    first = record(world, "cm", "ev-1", "delivered")
    second = record(world, "wax", "ev-2", "failed")
    third = record(world, "cm", "ev-3", "pending")

    assert [d["delivery_id"] for d in world.log.list()] == [third, second, first]
    assert [d["delivery_id"] for d in world.log.list(limit=2)] == [third, second]
    assert [d["delivery_id"] for d in world.log.list(status="delivered")] == [first]


def test_the_list_filters_by_destination_order_and_tenant(world: World) -> None:
    mine = record(world, "cm", "ev-a", "delivered", order_id="1", tenant="brand-b")
    theirs = record(world, "cm", "ev-b", "delivered", order_id="2", tenant="brand-c")
    untenanted = record(world, "cm", "ev-c", "failed", order_id="1")
    elsewhere = record(world, "wax", "ev-d", "delivered", order_id="1", tenant="brand-b")

    def ids(**query: object) -> set[str]:
        return {str(d["delivery_id"]) for d in world.log.list(**query)}  # type: ignore[arg-type]

    assert ids(destination="cm") == {mine, theirs, untenanted}
    assert ids(order_id="1") == {mine, untenanted, elsewhere}
    assert ids(tenant="brand-b") == {mine, elsewhere}
    assert ids(tenant="brand-b", untenanted=True) == {mine, elsewhere, untenanted}
    assert ids(destination="cm", order_id="1", tenant="brand-b") == {mine}


def test_the_first_reference_a_destination_returns_is_the_one_kept(world: World) -> None:
    assert world.log.reference("dialog360", "shopify:s:1") is None

    world.log.remember_reference("dialog360", "shopify:s:1", "ext-first")
    world.log.remember_reference("dialog360", "shopify:s:1", "ext-second")

    assert world.log.reference("dialog360", "shopify:s:1") == "ext-first"
    assert world.log.reference("cm", "shopify:s:1") is None
