"""The analytics store against moto: a commit never exceeds what one DynamoDB transaction holds, stays
exact when it is retried halfway, and GET /metrics reads one item per UTC day and shard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support import analytics_history as history
from tests.support.cfn import create_table, load_template
from wa_conversions.analytics.aggregator import Aggregator, shard_of
from wa_conversions.models.contact_state import ContactState
from wa_conversions.models.events import LifecycleEvent
from wa_conversions.store.analytics import PENDING_PREFIX, AnalyticsRepository, contact_state_pk

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
    key = {"pk": {"S": contact_state_pk(CONTACT)}, "sk": {"S": "STATE"}}
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
    assert not [name for name in state_item(client) if name.startswith(PENDING_PREFIX)]
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
    assert [name for name in state_item(client) if name.startswith(PENDING_PREFIX)]
    monkeypatch.setattr(repo, "_apply_parked", finish)

    assert aggregator.apply(late).outcome == "counted"  # SQS hands the record over again
    assert aggregator.apply(late).outcome == "duplicate"

    tenant = totals(repo, "t1")
    assert sum(v for k, v in tenant.items() if k.endswith("#conversations")) == 150
    assert sum(v for k, v in totals(repo).items() if k.endswith("#conversations")) == 150
    assert tenant["received"] == 1
    assert not [name for name in state_item(client) if name.startswith(PENDING_PREFIX)]


def test_a_30_day_range_reads_one_item_per_day_and_shard(client: CountingClient) -> None:
    repo = repository(client)
    aggregator = Aggregator(repo)
    for offset in range(30):
        for hour in ("02", "09", "15", "21"):  # one contact (one shard), four hours a day
            key = f"m{offset}-{hour}"
            when = history.at(day(offset), f"{hour}:00:00")
            aggregator.apply(event("message.received", when, key, messageId=f"wamid.{key}"))

    client.pages = client.items = 0
    days = repo.read_days(FIRST, FIRST + timedelta(days=29))

    assert (client.items, client.pages) == (30, 1)  # was 120 items: one per hour
    assert len(days) == 120  # the hours are still there, for ?tz=
    assert days[f"{day(3)}T21"]["received"] == 1


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
