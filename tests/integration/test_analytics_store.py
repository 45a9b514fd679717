"""The analytics store against moto: a commit never exceeds what one DynamoDB transaction holds, stays
exact when it is retried halfway, keeps an hour's counters in an item of their own, so that what an
event's write costs does not grow over a busy day, and GET /metrics still reads a month in one page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support import analytics_history as history
from tests.support.cfn import create_table, load_template
from wa_conversions.analytics.aggregator import Aggregator, fold, shard_of
from wa_conversions.errors import StateConflictError
from wa_conversions.models import contact_state
from wa_conversions.models.contact_state import ContactState
from wa_conversions.models.events import LifecycleEvent
from wa_conversions.store.analytics import AnalyticsRepository
from wa_conversions.store.keys import ANALYTICS_PENDING_PREFIX, analytics_marker_id, analytics_state_pk

TABLE = "wa-conversions-table"
IDEMPOTENCY_TABLE = "wa-conversions-idempotency"
CONTACT = "254712345678"
FIRST = date(2025, 1, 1)


class CountingClient:
    """The DynamoDB client, counting the Query pages and items read."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.pages = 0
        self.items = 0

    def query(self, **kwargs: Any) -> Any:
        page = self._client.query(**kwargs)
        self.pages += 1
        self.items += len(page.get("Items", []))
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingClient]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        template = load_template()
        dynamodb = boto3.client("dynamodb")
        create_table(dynamodb, template, "Table", TABLE)
        create_table(dynamodb, template, "IdempotencyTable", IDEMPOTENCY_TABLE)
        yield CountingClient(dynamodb)


def repository(client: CountingClient) -> AnalyticsRepository:
    return AnalyticsRepository(client, TABLE, IDEMPOTENCY_TABLE, marker_ttl_seconds=86_400)  # type: ignore[arg-type]


def event(name: str, when: str, key: str, **props: Any) -> LifecycleEvent:
    return LifecycleEvent.model_validate(history.bus(name, CONTACT, when, key, **props).document)


def day(offset: int) -> str:
    return (FIRST + timedelta(days=offset)).isoformat()


def totals(repo: AnalyticsRepository, tenant: str | None = None) -> dict[str, float]:
    summed: dict[str, float] = {}
    for counters in repo.read_days(FIRST, FIRST + timedelta(days=400), tenant=tenant).values():
        for counter, amount in counters.items():
            summed[counter] = summed.get(counter, 0) + amount
    return {k: v for k, v in summed.items() if v}


def state_item(client: CountingClient) -> dict[str, Any]:
    key = {"pk": {"S": analytics_state_pk(CONTACT)}, "sk": {"S": "STATE"}}
    found: dict[str, Any] = client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]
    return found


def clicks_on_many_days(aggregator: Aggregator, days: int) -> None:
    """A contact that clicked a different ad each day: every first click stays in its state for good."""
    for offset in range(days):
        clicked = history.at(day(offset), "10:00:00")
        props = {"messageId": f"wamid.c{offset}", "sourceId": f"ad{offset}"}
        assert (
            aggregator.apply(event("referral.captured", clicked, f"c{offset}", **props)).outcome == "counted"
        )


def test_a_tenant_named_after_months_of_history_back_fills_in_several_transactions(
    client: CountingClient,
) -> None:
    repo = repository(client)
    aggregator = Aggregator(repo)
    clicks_on_many_days(aggregator, 150)
    # the first event naming the tenant back-fills every counted contribution: 150 days of counters
    late = event(
        "message.received", history.at(day(150), "10:00:00"), "r1", messageId="wamid.r1", tenant="t1"
    )

    assert aggregator.apply(late).outcome == "counted"
    assert aggregator.apply(late).outcome == "duplicate"

    deployment, tenant = totals(repo), totals(repo, "t1")
    assert sum(v for k, v in deployment.items() if k.endswith("#conversations")) == 150
    assert sum(v for k, v in tenant.items() if k.endswith("#conversations")) == 150
    assert tenant["received"] == deployment["received"] == 1
    assert not [name for name in state_item(client) if name.startswith(ANALYTICS_PENDING_PREFIX)]
    assert repo.load_state(CONTACT).tenant == "t1"


def test_a_commit_cut_short_after_the_state_is_saved_is_finished_by_the_redelivery(
    client: CountingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repository(client)
    aggregator = Aggregator(repo)
    clicks_on_many_days(aggregator, 150)
    late = event(
        "message.received", history.at(day(150), "10:00:00"), "r1", messageId="wamid.r1", tenant="t1"
    )
    finish = repo._apply_parked

    def crash(*args: Any, **kwargs: Any) -> None:
        raise TimeoutError("the function timed out")

    monkeypatch.setattr(repo, "_apply_parked", crash)
    with pytest.raises(TimeoutError):
        aggregator.apply(late)
    assert [name for name in state_item(client) if name.startswith(ANALYTICS_PENDING_PREFIX)]
    monkeypatch.setattr(repo, "_apply_parked", finish)

    assert aggregator.apply(late).outcome == "counted"  # SQS hands the record over again
    assert aggregator.apply(late).outcome == "duplicate"

    tenant = totals(repo, "t1")
    assert sum(v for k, v in tenant.items() if k.endswith("#conversations")) == 150
    assert sum(v for k, v in totals(repo).items() if k.endswith("#conversations")) == 150
    assert tenant["received"] == 1
    assert not [name for name in state_item(client) if name.startswith(ANALYTICS_PENDING_PREFIX)]


def test_a_30_day_range_reads_in_one_page_with_its_hours(client: CountingClient) -> None:
    repo = repository(client)
    aggregator = Aggregator(repo)
    for offset in range(30):
        for hour in ("02", "09", "15", "21"):  # one contact (one shard), four hours a day
            key = f"m{offset}-{hour}"
            when = history.at(day(offset), f"{hour}:00:00")
            aggregator.apply(event("message.received", when, key, messageId=f"wamid.{key}"))

    client.pages = client.items = 0
    days = repo.read_days(FIRST, FIRST + timedelta(days=29))

    assert (client.items, client.pages) == (120, 1)  # an item per hour and shard, one Query page
    assert len(days) == 120  # the hours, for ?tz=
    assert days[f"{day(3)}T21"]["received"] == 1


def test_an_events_counter_write_stays_small_however_busy_the_day(client: CountingClient) -> None:
    # An update is charged for the whole item it leaves (1 write unit per KB): counters kept in one
    # item per day grew to 4.3 KB by this day's end, and past 10 KB with 600 contacts.
    from bench.aws_calls import item_size

    repo = repository(client)
    aggregator = Aggregator(repo)
    for person in range(96):
        contact, hour = f"2547{person:08d}", f"{person % 24:02d}"
        agent, ad = f"agent-{person % 12}", f"120226305854{person % 8:04d}"
        steps = [
            ("referral.captured", "in", {"sourceId": ad}),
            ("message.received", "in", {"countryCode": ("KE", "NG", "BR", "MX")[person % 4]}),
            ("message.sent", "out", {"agentId": agent, "serviceMode": "agent"}),
            ("message.read", "out", {}),
        ]
        for index, (name, kind, props) in enumerate(steps):
            when = history.at(day(0), f"{hour}:{index:02d}:00")
            step = history.bus(
                name, contact, when, f"{person}-{index}", messageId=f"wamid.{person}.{kind}", **props
            )
            assert aggregator.apply(LifecycleEvent.model_validate(step.document)).outcome == "counted"

    items = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"ANALYTICS#{day(0)[:7]}"}},
    )["Items"]
    assert max(item_size(item) for item in items) <= 1024
    assert len(items) > 24  # an item per hour (and shard)
    counted = repo.read_days(FIRST, FIRST)
    assert sum(counters.get("received", 0) for counters in counted.values()) == 96
    assert sum(counters.get("read", 0) for counters in counted.values()) == 96


def test_a_state_counted_per_day_before_hours_is_moved_to_hours_by_its_next_event(
    client: CountingClient,
) -> None:
    repo = repository(client)
    legacy = ContactState(contact=CONTACT)
    for offset in range(30):
        for hour in ("02", "09", "15", "21"):
            when = datetime.fromisoformat(f"{day(offset)}T{hour}:00:00+00:00")
            legacy.note_inbound(f"wamid.{offset}-{hour}", int(when.timestamp()), "KE")
    hourly = legacy.settle()
    # as it was saved before hours were kept: contributions and counters by UTC day
    legacy.counted = {
        group: {f"{key[:10]}{key[13:]}": amount for key, amount in counted.items()}
        for group, counted in legacy.counted.items()
    }
    by_day: dict[str, float] = {}
    for key, amount in hourly.items():
        by_day[f"{key[:10]}{key[13:]}"] = by_day.get(f"{key[:10]}{key[13:]}", 0) + amount
    legacy.version = 1
    assert repo.commit("legacy", by_day, shard_of(CONTACT), state=legacy, expected_version=0)

    late = event("message.received", history.at(day(29), "23:00:00"), "late", messageId="wamid.late")
    assert Aggregator(repo).apply(late).outcome == "counted"

    days = repo.read_days(FIRST, FIRST + timedelta(days=40))
    assert sum(c.get("received", 0) for c in days.values()) == 121
    # every message now sits in its hour, so any zone's days are exact
    assert all(not any(c.values()) for bucket, c in days.items() if len(bucket) == 10)
    assert days[f"{day(7)}T21"] == {"received": 1, "country#KE": 1}


def test_counters_of_a_day_item_written_before_hours_had_items_still_read(client: CountingClient) -> None:
    repo = repository(client)
    # a UTC day's item as the layout before kept it: each counter under "<HH>|"
    client.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": f"ANALYTICS#{day(2)[:7]}"},
            "sk": {"S": f"DAY#{day(2)}#3"},
            "day": {"S": day(2)},
            "05|received": {"N": "2"},
            "21|received": {"N": "1"},
        },
    )
    at_five = event("message.received", history.at(day(2), "05:30:00"), "new", messageId="wamid.new")
    assert Aggregator(repo).apply(at_five).outcome == "counted"

    days = repo.read_days(FIRST, FIRST + timedelta(days=5))
    assert days[f"{day(2)}T05"]["received"] == 3  # the day item's hour and the new hour item's
    assert days[f"{day(2)}T21"]["received"] == 1


class WritingClient(CountingClient):
    """Counting, and noting the bytes of every item each transaction writes and the calls made."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.written: list[int] = []
        self.calls: list[str] = []

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.calls.append("TransactWriteItems")
        for action in kwargs["TransactItems"]:
            (_, request), *_ = action.items()
            self.written.append(len(json.dumps(request.get("Item") or request.get("Key"))))
        return self._client.transact_write_items(**kwargs)

    def query(self, **kwargs: Any) -> Any:
        self.calls.append("Query")
        return super().query(**kwargs)

    def get_item(self, **kwargs: Any) -> Any:
        self.calls.append("GetItem")
        return self._client.get_item(**kwargs)


def conversation(cycle: int) -> list[LifecycleEvent]:
    """The contact's message, then the business's reply sent, delivered and read."""
    base = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=10 * cycle)
    names = ("message.received", "message.sent", "message.delivered", "message.read")
    return [
        event(
            name,
            (base + timedelta(seconds=30 * step)).isoformat().replace("+00:00", ".000Z"),
            f"h{cycle}-{step}",
            messageId=f"wamid.h{cycle}.{'in' if step == 0 else 'out'}",
        )
        for step, name in enumerate(names)
    ]


def test_an_events_writes_do_not_grow_with_the_contacts_history(client: CountingClient) -> None:
    writing = WritingClient(client._client)
    aggregator = Aggregator(repository(writing))  # type: ignore[arg-type]
    per_event: list[int] = []
    calls: list[int] = []
    for cycle in range(60):
        for step in conversation(cycle):
            writing.written.clear()
            writing.calls.clear()
            assert aggregator.apply(step).outcome == "counted"
            per_event.append(sum(writing.written))
            calls.append(len(writing.calls))

    early, late = per_event[8:40], per_event[-32:]
    # the same kind of events write as much after 240 events as after 8 (the whole state once grew)
    assert sum(late) <= sum(early) * 1.1
    assert set(calls) == {2}  # one Query, one transaction: no marker read first


def test_a_redelivered_status_writes_nothing(client: CountingClient) -> None:
    writing = WritingClient(client._client)
    aggregator = Aggregator(repository(writing))  # type: ignore[arg-type]
    steps = conversation(0)
    for step in steps:
        assert aggregator.apply(step).outcome == "counted"
    writing.calls.clear()

    assert aggregator.apply(steps[2]).outcome == "duplicate"  # SQS hands "delivered" over again

    assert writing.calls == ["Query"]
    counted = totals(repository(client))
    assert (counted["sent"], counted["delivered"], counted["read"]) == (1, 1, 1)
    # a contact's events leave no marker: their facts tell a redelivery
    assert client.scan(TableName=IDEMPOTENCY_TABLE)["Items"] == []


def test_a_state_saved_whole_is_read_and_moved_to_fact_items_with_nothing_counted_twice(
    client: CountingClient,
) -> None:
    repo = repository(client)
    legacy = ContactState(contact=CONTACT)
    steps = conversation(0)
    for step in steps[:2]:  # counted before facts had items: the whole state in the head item
        fold(legacy, step)
    counted = legacy.settle()
    client.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": analytics_state_pk(CONTACT)},
            "sk": {"S": "STATE"},
            "version": {"N": "1"},
            "state": {"S": legacy.model_dump_json(exclude={"version"})},
            "expires_at": {"N": "4102444800"},
        },
    )
    assert repo.commit("before", counted, shard_of(CONTACT))

    aggregator = Aggregator(repo)
    assert aggregator.apply(steps[1]).outcome == "duplicate"  # its fact is in the old state
    for step in steps[2:]:
        assert aggregator.apply(step).outcome == "counted"

    assert {k: v for k, v in totals(repo).items() if k in ("received", "sent", "delivered", "read")} == {
        "received": 1,
        "sent": 1,
        "delivered": 1,
        "read": 1,
    }
    head = state_item(client)
    assert "state" not in head and "facts" not in head  # every fact has its own item now
    facts = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :fact)",
        ExpressionAttributeValues={":pk": {"S": analytics_state_pk(CONTACT)}, ":fact": {"S": "FACT#"}},
    )["Items"]
    assert sorted(item["sk"]["S"] for item in facts) == ["FACT#in:wamid.h0.in", "FACT#out:wamid.h0.out"]


def test_a_view_of_a_commit_half_applied_is_read_again_not_counted_on(client: CountingClient) -> None:
    repo = repository(client)
    aggregator = Aggregator(repo)
    for step in conversation(0)[:2]:
        assert aggregator.apply(step).outcome == "counted"
    head = state_item(client)
    # as a Query may see it while the next commit is applied: its head, not yet the fact it wrote
    client.put_item(
        TableName=TABLE,
        Item={**head, "version": {"N": "3"}, "touched": {"S": '["out:wamid.h0.out"]'}},
    )

    with pytest.raises(StateConflictError):
        repo.load_state(CONTACT)

    client.put_item(TableName=TABLE, Item=head)  # the commit as it was: read at once
    assert repo.load_state(CONTACT).version == 2


def contact_items(client: CountingClient, contact: str = CONTACT) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": analytics_state_pk(contact)}},
        ConsistentRead=True,
    )["Items"]
    return found


def received(when: str, key: str, contact: str = CONTACT) -> LifecycleEvent:
    document = history.bus("message.received", contact, when, key, messageId=f"wamid.{key}").document
    return LifecycleEvent.model_validate(document)


def test_a_contact_whose_forgotten_facts_stub_ttl_removed_still_counts(client: CountingClient) -> None:
    repo = repository(client)
    aggregator = Aggregator(repo)
    assert aggregator.apply(received(history.at(day(0), "10:00:00"), "a")).outcome == "counted"
    # 45 days on: the first message is out of the window, its item overwritten with a one-day stub
    assert aggregator.apply(received(history.at(day(45), "10:00:00"), "b")).outcome == "counted"
    stubs = [i for i in contact_items(client) if i["sk"]["S"].startswith("FACT#") and "fact" not in i]
    assert [s["sk"]["S"] for s in stubs] == ["FACT#in:wamid.a"]
    for stub in stubs:  # TTL removes it a day later, the head still naming it
        client.delete_item(TableName=TABLE, Key={"pk": stub["pk"], "sk": stub["sk"]})

    assert aggregator.apply(received(history.at(day(46), "10:00:00"), "c")).outcome == "counted"

    assert totals(repo)["received"] == 3


def test_a_contact_whose_latest_fact_ttl_removed_before_its_head_still_counts(
    client: CountingClient,
) -> None:
    repo = repository(client)
    aggregator = Aggregator(repo)
    assert aggregator.apply(received(history.at(day(0), "10:00:00"), "a")).outcome == "counted"
    head = state_item(client)
    # 400 days without an event: head and fact both expired, TTL has removed the fact first
    client.put_item(TableName=TABLE, Item={**head, "expires_at": {"N": "1000"}})
    client.delete_item(TableName=TABLE, Key={"pk": head["pk"], "sk": {"S": "FACT#in:wamid.a"}})

    assert aggregator.apply(received(history.at(day(1), "10:00:00"), "b")).outcome == "counted"

    assert totals(repo)["received"] == 2


def test_a_redelivery_after_its_fact_left_the_window_counts_nothing(client: CountingClient) -> None:
    repo = repository(client)
    aggregator = Aggregator(repo)
    first = received(history.at(day(0), "10:00:00"), "a")
    assert aggregator.apply(first).outcome == "counted"
    assert aggregator.apply(received(history.at(day(45), "10:00:00"), "b")).outcome == "counted"

    assert aggregator.apply(first).outcome == "duplicate"  # its fact forgotten, its tombstone kept

    assert totals(repo)["received"] == 2


def test_a_late_status_of_a_reply_that_left_the_window_does_not_count_it_again(
    client: CountingClient,
) -> None:
    repo = repository(client)
    aggregator = Aggregator(repo)
    sent = event("message.sent", history.at(day(0), "10:00:00"), "s", messageId="wamid.o")
    assert aggregator.apply(sent).outcome == "counted"
    assert aggregator.apply(received(history.at(day(45), "10:00:00"), "b")).outcome == "counted"

    read = event("message.read", history.at(day(45), "10:05:00"), "r", messageId="wamid.o")
    assert aggregator.apply(read).outcome == "duplicate"

    assert (totals(repo)["sent"], totals(repo).get("read", 0)) == (1, 0)


def test_a_contact_back_after_months_forgets_its_facts_over_a_few_events_and_counts_exactly(
    client: CountingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contact_state, "MAX_FORGOTTEN_AT_ONCE", 2)
    repo = repository(client)
    aggregator = Aggregator(repo)
    old = [received(history.at(day(0), f"10:0{n}:00"), f"m{n}") for n in range(5)]
    for step in old:
        assert aggregator.apply(step).outcome == "counted"
    back = [received(history.at(day(60), f"10:0{n}:00"), f"n{n}") for n in range(3)]
    for step in back:
        assert aggregator.apply(step).outcome == "counted"
    tombstones = client.scan(TableName=IDEMPOTENCY_TABLE)["Items"]
    assert len(tombstones) == 5  # two, two, then the last
    assert set(repo.load_state(CONTACT).inbound) == {"wamid.n0", "wamid.n1", "wamid.n2"}

    for step in [*old, *back]:  # SQS or Meta hands every one over again
        assert aggregator.apply(step).outcome == "duplicate"

    assert totals(repo)["received"] == 8


def test_a_contact_counted_before_tombstones_tells_a_forgotten_events_redelivery_by_its_marker(
    client: CountingClient,
) -> None:
    repo = repository(client)
    aggregator = Aggregator(repo)
    first = received(history.at(day(0), "10:00:00"), "a")
    assert aggregator.apply(first).outcome == "counted"
    assert aggregator.apply(received(history.at(day(45), "10:00:00"), "b")).outcome == "counted"
    # as such a contact is stored: a head without forgotten_facts, no tombstone, the event's marker
    head = state_item(client)
    plain = json.loads(head["head"]["S"])
    del plain["forgotten_facts"]
    client.put_item(TableName=TABLE, Item={**head, "head": {"S": json.dumps(plain)}})
    for item in client.scan(TableName=IDEMPOTENCY_TABLE)["Items"]:
        client.delete_item(TableName=IDEMPOTENCY_TABLE, Key={"id": item["id"]})
    marker = {"id": {"S": analytics_marker_id(first.message_id)}, "expiration": {"N": "4102444800"}}
    client.put_item(TableName=IDEMPOTENCY_TABLE, Item=marker)

    assert aggregator.apply(first).outcome == "duplicate"

    assert totals(repo)["received"] == 2


def test_a_redelivery_after_its_fact_was_trimmed_for_size_counts_nothing(
    client: CountingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contact_state, "MAX_FACTS", 3)
    repo = repository(client)
    aggregator = Aggregator(repo)
    steps = [received(history.at(day(0), f"10:0{n}:00"), f"m{n}") for n in range(5)]
    for step in steps:
        assert aggregator.apply(step).outcome == "counted"

    assert aggregator.apply(steps[0]).outcome == "duplicate"  # SQS hands it over again, minutes later

    assert totals(repo)["received"] == 5


def test_a_merge_retires_the_merged_contacts_facts_and_merging_back_keeps_the_count(
    client: CountingClient,
) -> None:
    repo = repository(client)
    aggregator = Aggregator(repo)
    other = "254700000001"
    assert aggregator.apply(received(history.at(day(0), "10:00:00"), "a", contact=other)).outcome == "counted"
    into = history.bus("contact.merged", CONTACT, history.at(day(1), "10:00:00"), "m1", mergedFrom=other)
    assert aggregator.apply(LifecycleEvent.model_validate(into.document)).outcome == "counted"

    left = [i["sk"]["S"] for i in contact_items(client, other) if "fact" in i]
    assert left == []  # only the head's pointer and a stub TTL removes soon
    assert totals(repo)["received"] == 1

    back = history.bus("contact.merged", other, history.at(day(2), "10:00:00"), "m2", mergedFrom=CONTACT)
    assert aggregator.apply(LifecycleEvent.model_validate(back.document)).outcome == "counted"

    assert totals(repo)["received"] == 1
    assert repo.load_state(other).merged_into is None  # live again: its next event counts there
    assert repo.load_state(CONTACT).merged_into == other
    # the first merge handed over again: no pointer tells it now, its marker does
    assert aggregator.apply(LifecycleEvent.model_validate(into.document)).outcome == "duplicate"
    assert repo.load_state(other).merged_into is None


def test_a_load_that_keeps_meeting_a_commit_half_applied_is_retried_like_a_commit(
    client: CountingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repository(client)
    aggregator = Aggregator(repo)
    load = repo.load_state
    conflicts = ["merge's source", "merge's target", "an event's contact"]

    def busy_then_read(contact: str) -> ContactState:
        if conflicts:  # as load_state raises after its own reads kept seeing a commit in flight
            raise StateConflictError(f"{conflicts.pop()} kept changing while read")
        return load(contact)

    monkeypatch.setattr(repo, "load_state", busy_then_read)
    assert aggregator.apply(received(history.at(day(0), "10:00:00"), "a")).outcome == "counted"
    conflicts += ["merge's source", "merge's target"]
    merged = history.bus(
        "contact.merged", "254700000001", history.at(day(1), "10:00:00"), "m", mergedFrom=CONTACT
    )
    assert aggregator.apply(LifecycleEvent.model_validate(merged.document)).outcome == "counted"

    assert totals(repo)["received"] == 1
    assert repo.load_state(CONTACT).merged_into == "254700000001"
