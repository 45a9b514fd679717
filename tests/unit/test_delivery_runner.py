"""The batch loop every delivering function shares (wa_conversions.delivery.runner), around a scripted
destination, with moto's table, queue and DLQ: how each record is settled (delivered, retried through
its visibility, parked with its reason, skipped, left ambiguous) and what the delivery log keeps."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from tests.support.delivery import DeliveryAws, conversion_event, moto_aws
from wa_conversions.deadletter import DeadLetterQueue
from wa_conversions.delivery.log import DeliveryFacts, DeliveryLog
from wa_conversions.delivery.outcome import Outcome
from wa_conversions.delivery.retry import RetryPolicy
from wa_conversions.delivery.runner import (
    AMBIGUOUS_METRIC,
    DeliveryRunner,
    Job,
    Planned,
    QueuedMessage,
    Skip,
)
from wa_conversions.errors import PermanentFailure

NAME = "stand"


class Stand:
    """A destination that plans from the message's own fields and answers from a script.

    A message {"id": ...} is planned under that event id; "key" is its batch key; "skip" a skip reason,
    "permanent" a reason it can never be sent, "broken" makes planning fail as a bug would."""

    name = NAME

    def __init__(self, *answers: Outcome | Exception, max_batch: int = 1, dedupes: bool = False) -> None:
        self.answers = list(answers)
        self.max_batch = max_batch
        self.dedupes = dedupes
        self.requests: list[list[str]] = []
        self.planned: list[QueuedMessage] = []
        self.delivered: list[str] = []

    def plan(self, message: QueuedMessage) -> Planned | Skip:
        self.planned.append(message)
        body: dict[str, Any] = message.json
        if "broken" in body:
            raise KeyError("settings")
        if "permanent" in body:
            raise PermanentFailure(body["permanent"], body='{"part": 1}', attributes={"provider": "x"})
        if "skip" in body:
            return Skip(body["skip"], event_id=body.get("id"), order_id="7")
        return Planned(event_id=body["id"], request=body, kind="order", order_id="7")

    def batch_key(self, planned: Planned) -> str:
        return str(planned.request.get("key", ""))

    def send(self, jobs: Sequence[Job]) -> Outcome:
        self.requests.append([job.planned.event_id for job in jobs])
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def on_delivered(self, job: Job, outcome: Outcome) -> None:
        self.delivered.append(job.planned.event_id)


class Preparing(Stand):
    def __init__(self, *answers: Outcome, fail: bool = False) -> None:
        super().__init__(*answers)
        self.prepared: list[list[str]] = []
        self.fail = fail

    def prepare(self, messages: Sequence[QueuedMessage]) -> None:
        self.prepared.append([m.message_id for m in messages])
        if self.fail:
            raise ConnectionError("consent look-up timed out")


class FailingLog(DeliveryLog):
    def mark_delivered(self, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError("DynamoDB unreachable")


@pytest.fixture(scope="module")
def _moto() -> Iterator[None]:
    with moto_aws():
        yield


@pytest.fixture
def aws(_moto: None) -> Iterator[DeliveryAws]:
    found = DeliveryAws.create()
    yield found
    found.drop()


def runner(
    aws: DeliveryAws, destination: Stand, *, max_attempts: int = 16, log: Any = None
) -> DeliveryRunner:
    return DeliveryRunner(
        destination,
        log or DeliveryLog(aws.dynamodb, aws.table),
        aws.sqs,
        aws.queue_url,
        DeadLetterQueue(aws.sqs, aws.dlq_url, f"{NAME}_forwarder"),
        RetryPolicy(base_seconds=10, max_attempts=max_attempts, random=lambda: 0.0),
        request_seconds=1.0,
    )


def bodies(*messages: dict[str, Any]) -> list[str]:
    return [json.dumps(message) for message in messages]


def delivery(aws: DeliveryAws, event_id: str) -> dict[str, Any]:
    return DeliveryLog(aws.dynamodb, aws.table).get_for(NAME, event_id) or {}


def counts(result: Any) -> dict[str, Any]:
    return {"failed": len(result.failed), **result.counts}


# -- planning -------------------------------------------------------------------------------------


def test_a_body_that_is_not_json_is_parked_at_once_and_never_planned(aws: DeliveryAws) -> None:
    stand = Stand(Outcome.delivered(200))

    result = runner(aws, stand).process(aws.records("not json {"))

    assert counts(result) == {"failed": 0, "parked": 1}
    assert aws.parked() == [("not json {", "stand: the message is not JSON")]
    assert stand.planned == []


def test_a_message_that_can_never_be_sent_parks_the_part_named_with_the_reason(aws: DeliveryAws) -> None:
    result = runner(aws, Stand(Outcome.delivered(200))).process(
        aws.records(*bodies({"id": "e1", "permanent": "no conversionId"}))
    )

    assert counts(result) == {"failed": 0, "parked": 1}
    assert aws.parked() == [('{"part": 1}', "stand: no conversionId")]
    assert delivery(aws, "e1") == {}


def test_a_skip_is_recorded_when_its_event_is_known_and_nothing_is_sent(aws: DeliveryAws) -> None:
    stand = Stand(Outcome.delivered(200))

    result = runner(aws, stand).process(
        aws.records(*bodies({"id": "e1", "skip": "no_phone"}, {"skip": "not a conversion"}))
    )

    assert counts(result) == {"failed": 0, "skipped": 2}
    assert stand.requests == []
    skipped = delivery(aws, "e1")
    assert (skipped["status"], skipped["reason"], skipped["order_id"]) == ("skipped", "no_phone", "7")
    assert DeliveryLog(aws.dynamodb, aws.table).list() == [skipped]


def test_a_planning_error_is_retried_later_and_parked_on_the_last_attempt(aws: DeliveryAws) -> None:
    retried = runner(aws, Stand(Outcome.delivered(200))).process(
        aws.records(*bodies({"id": "e1", "broken": True}))
    )
    assert counts(retried) == {"failed": 1, "retrying": 1}
    assert aws.visible() == [] and aws.parked() == []  # hidden for its backoff, not lost

    last = runner(aws, Stand(Outcome.delivered(200)), max_attempts=1).process(
        aws.records(*bodies({"id": "e2", "broken": True}))
    )
    assert counts(last) == {"failed": 0, "parked": 1}
    [(_, reason)] = aws.parked()
    assert reason == "stand: gave up after 1 attempts: KeyError: 'settings'"


def test_an_unreadable_receive_count_is_read_as_the_first(aws: DeliveryAws) -> None:
    stand = Stand(Outcome.delivered(200))
    [record] = aws.records(*bodies({"id": "e1"}))
    record["attributes"]["ApproximateReceiveCount"] = "many"

    runner(aws, stand).process([record])

    assert [m.receive_count for m in stand.planned] == [1]


def test_a_batch_is_prepared_once_and_a_failed_preparation_holds_nothing_back(aws: DeliveryAws) -> None:
    records = aws.records(*bodies({"id": "e1"}, {"id": "e2"}))
    prepared, failing = Preparing(Outcome.delivered(200)), Preparing(Outcome.delivered(200), fail=True)

    runner(aws, prepared).process(records[:1])
    result = runner(aws, failing).process(records[1:])

    assert prepared.prepared == [[records[0]["messageId"]]]
    assert counts(result) == {"failed": 0, "delivered": 1}


# -- requests -------------------------------------------------------------------------------------


def test_events_share_a_request_only_with_their_batch_key_and_up_to_the_batch_size(aws: DeliveryAws) -> None:
    stand = Stand(Outcome.delivered(200), max_batch=2)
    messages = [{"id": f"e{i}", "key": "test-code" if i > 3 else ""} for i in range(1, 6)]

    result = runner(aws, stand).process(aws.records(*bodies(*messages)))

    assert sorted(map(sorted, stand.requests)) == [["e1", "e2"], ["e3"], ["e4", "e5"]]
    assert counts(result) == {"failed": 0, "delivered": 5}
    assert sorted(stand.delivered) == ["e1", "e2", "e3", "e4", "e5"]


def test_a_batch_the_destination_skips_as_a_whole_is_halved_until_each_stands_alone(aws: DeliveryAws) -> None:
    stand = Stand(
        Outcome.skipped("restricted region"),
        Outcome.delivered(200),
        Outcome.skipped("restricted region"),
        max_batch=10,
    )

    result = runner(aws, stand).process(aws.records(*bodies({"id": "e1"}, {"id": "e2"})))

    assert len(stand.requests[0]) == 2 and [len(r) for r in stand.requests[1:]] == [1, 1]
    assert counts(result) == {"failed": 0, "delivered": 1, "skipped": 1}
    statuses = {delivery(aws, e)["status"] for e in ("e1", "e2")}
    assert statuses == {"delivered", "skipped"}
    [skipped] = [delivery(aws, e) for e in ("e1", "e2") if delivery(aws, e)["status"] == "skipped"]
    assert skipped["reason"] == "restricted region"


def test_an_error_before_the_request_is_retried_with_its_text(aws: DeliveryAws) -> None:
    result = runner(aws, Stand(RuntimeError("no secret"))).process(aws.records(*bodies({"id": "e1"})))

    assert counts(result) == {"failed": 1, "retrying": 1}
    stored = delivery(aws, "e1")
    assert (stored["status"], stored["last_error"], stored["retry_delay_seconds"]) == (
        "pending",
        "RuntimeError: no secret",
        5,  # the first step, 10 s, at its shortest
    )


def test_retry_after_sets_when_the_record_comes_back(aws: DeliveryAws) -> None:
    runner(aws, Stand(Outcome.retry("HTTP 429", 429, retry_after=300))).process(
        aws.records(*bodies({"id": "e1"}))
    )

    stored = delivery(aws, "e1")
    assert (stored["last_status_code"], stored["retry_delay_seconds"]) == (429, 300)
    assert stored["next_attempt_at"] == stored["updated_at"] + 300


def test_the_last_allowed_retry_parks_the_message_with_the_last_error(aws: DeliveryAws) -> None:
    [record] = aws.records(*bodies({"id": "e1"}))

    result = runner(aws, Stand(Outcome.retry("HTTP 503: down", 503)), max_attempts=1).process([record])

    assert result.failed == [] and result.counts == {"failed": 1}
    assert aws.parked() == [(record["body"], "stand: gave up after 1 attempts: HTTP 503: down")]
    assert (delivery(aws, "e1")["status"], delivery(aws, "e1")["last_status_code"]) == ("failed", 503)


def test_a_permanent_refusal_is_failed_parked_and_the_record_done(aws: DeliveryAws) -> None:
    [record] = aws.records(*bodies({"id": "e1"}))

    result = runner(aws, Stand(Outcome.permanent("HTTP 400: bad phone", 400))).process([record])

    assert result.failed == [] and result.counts == {"failed": 1}
    assert aws.parked() == [(record["body"], "stand: HTTP 400: bad phone")]
    assert delivery(aws, "e1")["reason"] == "HTTP 400: bad phone"


def test_an_unknown_outcome_is_left_to_the_operator_where_a_repeat_counts_twice(aws: DeliveryAws) -> None:
    result = runner(aws, Stand(Outcome.ambiguous("sent, outcome unknown: ReadTimeout"))).process(
        aws.records(*bodies({"id": "e1"}))
    )

    assert counts(result) == {"failed": 0, "ambiguous": 1}
    stored = delivery(aws, "e1")
    assert stored["status"] == "ambiguous"
    assert stored["reason"].startswith("sent, outcome unknown: ReadTimeout; not sent again, as stand")
    assert f"POST /deliveries/{stored['delivery_id']}/confirm" in stored["reason"]


def test_an_unknown_outcome_is_retried_where_the_destination_dedupes(aws: DeliveryAws) -> None:
    stand = Stand(Outcome.ambiguous("sent, outcome unknown: ReadTimeout"), dedupes=True)

    result = runner(aws, stand).process(aws.records(*bodies({"id": "e1"})))

    assert counts(result) == {"failed": 1, "retrying": 1}
    assert delivery(aws, "e1")["status"] == "pending"


def test_a_delivered_event_counts_even_when_the_follow_up_step_fails(aws: DeliveryAws) -> None:
    class Forgetful(Stand):
        def on_delivered(self, job: Job, outcome: Outcome) -> None:
            raise ValueError("could not keep the id")

    result = runner(aws, Forgetful(Outcome.delivered(201, {"id": "x"}))).process(
        aws.records(*bodies({"id": "e1"}))
    )

    assert counts(result) == {"failed": 0, "delivered": 1}
    assert (delivery(aws, "e1")["status"], delivery(aws, "e1")["response"]) == ("delivered", {"id": "x"})


def test_an_outcome_that_cannot_be_recorded_fails_the_record(aws: DeliveryAws) -> None:
    log = FailingLog(aws.dynamodb, aws.table)
    [record] = aws.records(*bodies({"id": "e1"}))

    result = runner(aws, Stand(Outcome.delivered(200)), log=log).process([record])

    assert result.failed == [record["messageId"]] and result.counts == {"unrecorded": 1}


def test_an_event_claimed_by_another_invocation_waits_for_its_lease(aws: DeliveryAws) -> None:
    DeliveryLog(aws.dynamodb, aws.table).claim(
        DeliveryFacts(NAME, "e1"), message="{}", queue=NAME, lease_seconds=120
    )
    stand = Stand(Outcome.delivered(200))

    result = runner(aws, stand).process(aws.records(*bodies({"id": "e1"})))

    assert counts(result) == {"failed": 1, "busy": 1}
    assert stand.requests == []
    assert aws.visible() == []


def test_the_conversions_tenant_is_kept_with_its_delivery(aws: DeliveryAws) -> None:
    class Converting(Stand):
        def plan(self, message: QueuedMessage) -> Planned | Skip:
            return Planned(event_id=message.json["detail"]["properties"]["eventId"], request={})

    order = conversion_event(tenant="brand-b")
    runner(aws, Converting(Outcome.delivered(200))).process(aws.records(json.dumps(order)))

    assert delivery(aws, order["detail"]["properties"]["eventId"])["tenant"] == "brand-b"


# -- time -----------------------------------------------------------------------------------------


def test_short_of_time_no_request_starts_and_the_records_go_straight_back(aws: DeliveryAws) -> None:
    stand = Stand(Outcome.delivered(200))
    records = aws.records(*bodies({"id": "e1"}, {"id": "e2"}))

    result = runner(aws, stand).process(records, lambda: 1500)  # under 1 s + the 1 s reserve

    assert stand.requests == []
    assert counts(result) == {"failed": 2, "deferred": 2}
    assert sorted(aws.visible()) == sorted(r["body"] for r in records)
    assert delivery(aws, "e1") == {}


def test_short_of_time_on_the_last_attempt_parks_with_that_reason(aws: DeliveryAws) -> None:
    [record] = aws.records(*bodies({"id": "e1"}))

    result = runner(aws, Stand(Outcome.delivered(200)), max_attempts=1).process([record], lambda: 0)

    assert result.failed == [] and result.counts == {"failed": 1}
    reason = "stand: gave up after 1 attempts: the function ran out of time before sending it"
    assert aws.parked() == [(record["body"], reason)]
    assert delivery(aws, "e1")["status"] == "failed"


# -- the Lambda response --------------------------------------------------------------------------


def test_the_response_names_the_records_to_retry_and_ambiguity_raises_the_metric(
    aws: DeliveryAws, capsys: pytest.CaptureFixture[str]
) -> None:
    stand = Stand(Outcome.ambiguous("sent, outcome unknown"), Outcome.retry("HTTP 500", 500))
    records = aws.records(*bodies({"id": "e1"}, {"id": "e2"}))

    response = runner(aws, stand).handle({"Records": records})

    retried = [r["messageId"] for r in records if json.loads(r["body"])["id"] == stand.requests[1][0]]
    assert response == {"batchItemFailures": [{"itemIdentifier": retried[0]}]}
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if AMBIGUOUS_METRIC in line]
    [metric] = metrics
    assert metric[AMBIGUOUS_METRIC] in (1, [1])  # one ambiguous delivery, as EMF writes a count


def test_an_empty_event_is_answered_with_no_failures(aws: DeliveryAws) -> None:
    assert runner(aws, Stand(Outcome.delivered(200))).handle({}) == {"batchItemFailures": []}
