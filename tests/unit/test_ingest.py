"""The acknowledging side: signatures, the handshake, shape checks and splitting for the queue."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import threading

import pytest

from tests.support import webhooks as wh
from wa_conversions.aws_limits import SQS_MAX_BATCH_BYTES, batches, sqs_message_size
from wa_conversions.capture import ingest
from wa_conversions.errors import BadRequestError, ForbiddenError, UnauthorizedError
from wa_conversions.providers.meta import normalize, parse_webhook
from wa_conversions.signatures import meta_signature, verify_meta_signature

SECRET = "app-secret"


def test_signature_matches_meta_s_algorithm() -> None:
    body = wh.sample("meta_docs_text_message_ctwa_referral.json")
    assert verify_meta_signature(body, meta_signature(body, SECRET), SECRET)
    assert not verify_meta_signature(body + b" ", meta_signature(body, SECRET), SECRET)
    assert not verify_meta_signature(body, "sha256=" + "0" * 64, SECRET)
    assert not verify_meta_signature(body, "garbage", SECRET)


def test_signature_covers_non_ascii_bytes_exactly() -> None:
    body = '{"name": "José Ñandú 💬"}'.encode()
    assert verify_meta_signature(body, meta_signature(body, SECRET), SECRET)
    assert not verify_meta_signature(
        body, meta_signature(json.dumps(json.loads(body)).encode(), SECRET), SECRET
    )


def test_uppercase_hex_signature_is_accepted() -> None:
    body = b"{}"
    assert verify_meta_signature(
        body, meta_signature(body, SECRET).upper().replace("SHA256=", "sha256="), SECRET
    )


def secrets(meta: str | None = SECRET, dialog360: str | None = None):
    return {"meta": meta, "dialog360": dialog360}.get


def test_missing_signature_is_unauthorized_and_bad_one_forbidden() -> None:
    with pytest.raises(UnauthorizedError):
        ingest.check_signature(b"{}", ingest.WebhookSignature(None, None), secrets())
    with pytest.raises(ForbiddenError):
        ingest.check_signature(b"{}", ingest.WebhookSignature("sha256=00", None), secrets())


def test_360dialog_signature_with_its_platform_secret() -> None:
    body = wh.sample("meta_docs_text_message_ctwa_referral.json")
    hex_digest = meta_signature(body, "platform").removeprefix("sha256=")
    for header in (hex_digest, f"sha256={hex_digest}", base64.b64encode(bytes.fromhex(hex_digest)).decode()):
        ingest.check_signature(body, ingest.WebhookSignature(None, header), secrets(dialog360="platform"))
    with pytest.raises(ForbiddenError):
        ingest.check_signature(body, ingest.WebhookSignature(None, hex_digest), secrets(dialog360="other"))
    with pytest.raises(ForbiddenError, match="no 360dialog secret"):
        ingest.check_signature(body, ingest.WebhookSignature(None, hex_digest), secrets())


def test_handshake() -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "42", "hub.verify_token": "t"}
    assert ingest.answer_handshake(query, "t") == "42"
    with pytest.raises(ForbiddenError):
        ingest.answer_handshake({**query, "hub.verify_token": "x"}, "t")
    with pytest.raises(BadRequestError):
        ingest.answer_handshake({"hub.verify_token": "t"}, "t")


def test_small_body_is_queued_verbatim() -> None:
    body = wh.sample("meta_docs_status_sent_with_pricing.json")
    assert ingest.split_for_queue(body, json.loads(body)) == [body.decode()]


def test_large_body_is_split_into_valid_webhooks_holding_every_update() -> None:
    statuses = [wh.status(f"s{i}", "sent", i, "1", biz_opaque_callback_data="y" * 500) for i in range(300)]
    document = wh.webhook(
        {"contacts": [wh.contact("1")], "statuses": statuses}, {"messages": [wh.text_message("m", "1", 1)]}
    )
    body = wh.encode(document)
    parts = ingest.split_for_queue(body, document, max_bytes=20_000)
    assert len(parts) > 1
    assert all(len(p.encode()) <= 20_000 for p in parts)
    seen = []
    for part in parts:
        piece = ingest.read_webhook(part.encode())
        for change in (change for entry in piece["entry"] for change in entry["changes"]):
            value = change["value"]
            assert value["metadata"] == wh.METADATA
            seen += [s["id"] for s in value.get("statuses", [])] + [
                m["id"] for m in value.get("messages", [])
            ]
    assert seen == [f"s{i}" for i in range(300)] + ["m"]


def test_one_large_history_chunk_is_cut_into_parts_that_normalize_to_the_same_updates() -> None:
    # Meta: "a single webhook could potentially describe thousands of messages" (docs/events.md)
    customer = "16505551234"
    messages = [
        {**wh.text_message(f"h{i}", customer if i % 2 else "15550783881", i, body="z" * 400), "to": customer}
        for i in range(400)
    ]
    chunk = {
        "metadata": {"phase": 1, "chunk_order": 3, "progress": 40},
        "threads": [{"id": customer, "messages": messages}],
    }
    document = wh.webhook({"history": [chunk]}, field="history")
    parts = ingest.split_for_queue(wh.encode(document), document, max_bytes=20_000)
    assert len(parts) > 1
    assert all(len(p.encode()) <= 20_000 for p in parts)
    whole = [u.idempotency_key for u in normalize(parse_webhook(wh.encode(document)))]
    cut = [u.idempotency_key for part in parts for u in normalize(parse_webhook(part))]
    assert sorted(cut) == sorted(whole) and len(whole) == 400


def test_many_small_changes_travel_together_so_the_webhook_is_queued_in_few_messages() -> None:
    # Meta may send each of a webhook's 1000 updates in a change of its own: one queue message per
    # change made the webhook function queue 1000 messages before answering.
    document = wh.webhook(
        *(
            {"contacts": [wh.contact("1")], "messages": [wh.text_message(f"m{i}", "1", i, body="x" * 2000)]}
            for i in range(1000)
        )
    )
    body = wh.encode(document)
    parts = ingest.split_for_queue(body, document, max_bytes=64_000)
    assert len(parts) <= len(body) // 60_000 + 2
    assert all(len(p.encode()) <= 64_000 for p in parts)
    seen = [
        m["id"]
        for part in parts
        for entry in ingest.read_webhook(part.encode())["entry"]
        for change in entry["changes"]
        for m in change["value"]["messages"]
    ]
    assert seen == [f"m{i}" for i in range(1000)]


class FailingClient:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def send_message_batch(self, QueueUrl: str, Entries: list) -> dict:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            return {
                "Successful": [],
                "Failed": [{"Id": e["Id"], "Code": "x", "SenderFault": False} for e in Entries],
            }
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def test_queue_retries_failed_entries_once_then_gives_up() -> None:
    client = FailingClient(failures=1)
    ingest.IngestQueue(client, "url").send(["a", "b"])  # type: ignore[arg-type]
    assert client.calls == 2
    with pytest.raises(ingest.HandoffError):
        ingest.IngestQueue(FailingClient(failures=2), "url").send(["a"])  # type: ignore[arg-type]


class RecordingClient:
    """Takes what SQS takes, and records each SendMessageBatch call's entries."""

    def __init__(self) -> None:
        self.calls: list[list[dict]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list) -> dict:
        self.calls.append(Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def test_every_call_holds_at_most_ten_parts_and_1_mib_in_utf8_bytes_with_attributes() -> None:
    from wa_conversions.aws_limits import SQS_MAX_BATCH_BYTES, sqs_message_size

    client = RecordingClient()
    # 200 kB of two-byte characters each: six are over 1 MiB in bytes, not in characters.
    bodies = [f'{{"n":{i},"t":"{"é" * 100_000}"}}' for i in range(12)] + ["{}"] * 15
    ingest.IngestQueue(client, "url").send(bodies, attributes={"provider": "cm"})  # type: ignore[arg-type]
    # the calls are made at once: each is a run of consecutive parts, in whatever order they end
    runs = sorted(
        ([entry["MessageBody"] for entry in call] for call in client.calls),
        key=lambda run: bodies.index(run[0]),
    )
    assert [body for run in runs for body in run] == bodies
    for call in client.calls:
        assert len(call) <= 10
        assert sum(sqs_message_size(entry) for entry in call) <= SQS_MAX_BATCH_BYTES
        assert all(entry["MessageAttributes"]["provider"]["StringValue"] == "cm" for entry in call)
        assert sorted(entry["Id"] for entry in call) == sorted(str(i) for i in range(len(call)))
    assert [len(run) for run in runs] == [5, 5, 10, 7]  # each call as full as fits


def _ids(part: str) -> list[str]:
    return [
        update["id"]
        for entry in ingest.read_webhook(part.encode())["entry"]
        for change in entry["changes"]
        for name in ("messages", "statuses")
        for update in change["value"].get(name, [])
    ]


def test_a_webhook_of_1000_updates_becomes_the_fewest_messages_sqs_takes() -> None:
    from wa_conversions.aws_limits import SQS_MAX_BATCH_BYTES, SQS_MAX_MESSAGE_BYTES, sqs_message_size

    # Meta's largest: 1000 updates, about 3 MB, in changes of different sizes, messages and statuses
    changes = []
    for n in range(100):
        if n % 2:
            statuses = [
                wh.status(f"s{n}.{i}", "sent", i, "1", biz_opaque_callback_data="y" * 1900) for i in range(10)
            ]
            changes.append({"contacts": [wh.contact("1")], "statuses": statuses})
        else:
            messages = [wh.text_message(f"m{n}.{i}", "4915112345678", i, body="ü" * 1250) for i in range(10)]
            changes.append({"contacts": [wh.contact("4915112345678")], "messages": messages})
    document = wh.webhook(*changes)
    body = json.dumps(document, ensure_ascii=False).encode()
    assert 2_000_000 < len(body) < 3_000_000
    client = RecordingClient()

    queued = ingest.accept_webhook(
        body,
        ingest.WebhookSignature(meta_signature(body, SECRET), None),
        secrets(),
        lambda: ingest.IngestQueue(client, "url"),  # type: ignore[arg-type]
    )

    # the calls end in any order: the parts are what was sent, in the order they were cut
    parts = ingest.split_for_queue(body, json.loads(body))
    assert queued == len(parts)
    assert sorted(entry["MessageBody"] for call in client.calls for entry in call) == sorted(parts)
    # every update in exactly one part, in order
    assert [i for part in parts for i in _ids(part)] == [
        f"{'s' if n % 2 else 'm'}{n}.{i}" for n in range(100) for i in range(10)
    ]
    sizes = [len(part.encode()) for part in parts]
    assert all(size <= ingest.PART_BYTES < SQS_MAX_MESSAGE_BYTES for size in sizes)
    # the fewest: no part but the last could have taken the next part's first update
    for part, following in itertools.pairwise(parts):
        first = next(
            u
            for c in json.loads(following)["entry"][0]["changes"]
            for k in ("messages", "statuses")
            for u in c["value"].get(k, [])
        )
        full_by_bytes = (
            len(part.encode()) + len(json.dumps(first, ensure_ascii=False).encode()) > ingest.PART_BYTES
        )
        assert full_by_bytes or len(_ids(part)) == ingest.PART_UPDATES
    # as many as its updates need: a hundred updates of these take about 250 KB, far under a part's bytes
    assert all(len(_ids(part)) <= ingest.PART_UPDATES for part in parts)
    assert len(parts) == -(-1000 // ingest.PART_UPDATES)
    assert all(sum(sqs_message_size(e) for e in call) <= SQS_MAX_BATCH_BYTES for call in client.calls)


class ConcurrentClient:
    """Answers the first `expected` SendMessageBatch calls only once all of them are in flight at
    once: sequential calls would wait for each other until the barrier times out (and break it).
    Refuses the entries of a call whose first body is in `refuse`, each time."""

    def __init__(self, expected: int, refuse: frozenset[str] = frozenset()) -> None:
        self.barrier = threading.Barrier(expected, timeout=5)
        self.refuse = refuse
        self.sent: list[str] = []
        self._calls = 0
        self._lock = threading.Lock()

    def send_message_batch(self, QueueUrl: str, Entries: list) -> dict:
        with self._lock:
            self._calls += 1
            first_round = self._calls <= self.barrier.parties
        if first_round:
            with contextlib.suppress(threading.BrokenBarrierError):
                self.barrier.wait()
        if Entries[0]["MessageBody"] in self.refuse:
            return {
                "Successful": [],
                "Failed": [{"Id": e["Id"], "Code": "x", "SenderFault": False} for e in Entries],
            }
        with self._lock:
            self.sent += [e["MessageBody"] for e in Entries]
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


def _big_bodies(count: int) -> list[str]:
    return [json.dumps({"n": i, "t": "x" * 700_000}) for i in range(count)]


def test_the_calls_of_one_webhook_are_made_at_once() -> None:
    bodies = _big_bodies(3)  # one call each: two would be over 1 MiB
    client = ConcurrentClient(expected=3)

    ingest.IngestQueue(client, "url").send(bodies)  # type: ignore[arg-type]

    assert not client.barrier.broken, "the calls were made one after another"
    assert sorted(client.sent) == sorted(bodies)


def test_one_refused_call_among_concurrent_ones_refuses_the_webhook() -> None:
    bodies = _big_bodies(3)
    client = ConcurrentClient(expected=3, refuse=frozenset({bodies[1]}))

    with pytest.raises(ingest.HandoffError, match="SQS refused 1 of 1"):
        ingest.IngestQueue(client, "url").send(bodies)  # type: ignore[arg-type]
    # the others went through; Meta's redelivery brings them again and the ledger skips them
    assert sorted(client.sent) == sorted([bodies[0], bodies[2]])


def test_a_refused_part_of_a_large_webhook_refuses_it_whole_so_that_meta_redelivers() -> None:
    messages = [wh.text_message(f"wamid.{i:04d}", "1", i, body="ü" * 1250) for i in range(1000)]
    document = wh.webhook({"contacts": [wh.contact("1")], "messages": messages})
    body = json.dumps(document, ensure_ascii=False).encode()
    parts = ingest.split_for_queue(body, document)
    calls = list(
        batches(
            parts,
            lambda p: sqs_message_size({"MessageBody": p}),
            max_entries=10,
            max_bytes=SQS_MAX_BATCH_BYTES,
        )
    )
    assert len(calls) >= 2
    client = ConcurrentClient(expected=len(calls), refuse=frozenset({calls[-1][0]}))

    with pytest.raises(ingest.HandoffError, match="SQS refused"):
        ingest.accept_webhook(
            body,
            ingest.WebhookSignature(meta_signature(body, SECRET), None),
            secrets(),
            lambda: ingest.IngestQueue(client, "url"),  # type: ignore[arg-type]
        )
    assert not client.barrier.broken
    assert sorted(client.sent) == sorted(p for call in calls[:-1] for p in call)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b'{"object": "whatsapp_business_account", "entry": [], "x": "\xed\xb3\xbf"}', "UTF-8"),
        (b'{"object": "whatsapp_business_account", "entry": [], "x": "\\ud800"}', "surrogate"),
    ],
)
def test_bodies_that_are_not_json_text_are_bad_requests(body: bytes, fragment: str) -> None:
    with pytest.raises(BadRequestError, match=fragment):
        ingest.read_webhook(body)


def test_parts_are_valid_sqs_text_and_read_back_the_same() -> None:
    from wa_conversions.aws_limits import invalid_sqs_character

    text = "non-characters \ufffe\uffff and a NUL \x00"
    small = json.dumps(
        wh.webhook({"messages": [wh.text_message("m", "1", 1, body=text)]}), ensure_ascii=False
    )
    [part] = ingest.split_for_queue(small.encode(), json.loads(small))
    big_document = wh.webhook(
        {"messages": [wh.text_message(f"m{i}", "1", i, body=text * 50) for i in range(300)]}
    )
    big = json.dumps(big_document, ensure_ascii=False).encode()
    parts = ingest.split_for_queue(big, json.loads(big), max_bytes=20_000)
    assert len(parts) > 1
    for piece in [part, *parts]:
        assert invalid_sqs_character(piece) is None
        for message in json.loads(piece)["entry"][0]["changes"][0]["value"]["messages"]:
            assert message["text"]["body"].startswith(text)


def test_a_part_holds_at_most_its_count_of_updates_whatever_their_bytes() -> None:
    # 1000 statuses are about 200 KB, one message by bytes, but one record of 1000 updates can
    # outlast the processor's timeout when DynamoDB is slow: they go in parts of PART_UPDATES.
    statuses = [wh.status(f"s{i}", "delivered", i, "1") for i in range(1000)]
    document = wh.webhook(
        {"statuses": statuses[:450]},
        {"messages": [wh.text_message("m", "1", 1)]},
        {"statuses": statuses[450:]},
    )
    body = wh.encode(document)
    assert len(body) < ingest.PART_BYTES

    parts = ingest.split_for_queue(body, document)

    assert [len(_ids(part)) for part in parts] == [100] * 10 + [1]
    assert [i for part in parts for i in _ids(part)] == [f"s{i}" for i in range(450)] + ["m"] + [
        f"s{i}" for i in range(450, 1000)
    ]
    # a webhook of up to PART_UPDATES updates goes as it came
    small = wh.webhook({"statuses": statuses[: ingest.PART_UPDATES]})
    assert ingest.split_for_queue(wh.encode(small), small) == [wh.encode(small).decode()]


def test_the_update_count_runs_across_the_lists_of_one_change() -> None:
    messages = [wh.text_message(f"m{i}", "1", i) for i in range(130)]
    statuses = [wh.status(f"s{i}", "read", i, "1") for i in range(130)]
    document = wh.webhook({"contacts": [wh.contact("1")], "messages": messages, "statuses": statuses})

    parts = ingest.split_for_queue(wh.encode(document), document)

    assert [len(_ids(part)) for part in parts] == [100, 100, 60]
    assert [i for part in parts for i in _ids(part)] == [f"m{i}" for i in range(130)] + [
        f"s{i}" for i in range(130)
    ]


def test_history_messages_count_one_update_each_toward_a_part() -> None:
    customer = "16505551234"
    messages = [{**wh.text_message(f"h{i}", customer, i), "to": customer} for i in range(250)]
    chunk = {
        "metadata": {"phase": 1, "chunk_order": 1, "progress": 10},
        "threads": [{"id": customer, "messages": messages}],
    }
    document = wh.webhook({"history": [chunk]}, field="history")

    parts = ingest.split_for_queue(wh.encode(document), document, max_updates=100)

    whole = sorted(u.idempotency_key for u in normalize(parse_webhook(wh.encode(document))))
    cut = [[u.idempotency_key for u in normalize(parse_webhook(part))] for part in parts]
    assert [len(keys) for keys in cut] == [100, 100, 50]
    assert sorted(k for keys in cut for k in keys) == whole


def test_an_update_larger_than_a_part_goes_alone_up_to_the_limit() -> None:
    big = wh.text_message("big", "1", 2, body="x" * 30_000)
    document = wh.webhook({"messages": [wh.text_message("a", "1", 1), big, wh.text_message("c", "1", 3)]})
    parts = ingest.split_for_queue(wh.encode(document), document, max_bytes=20_000, limit_bytes=40_000)
    ids = [[m["id"] for m in json.loads(p)["entry"][0]["changes"][0]["value"]["messages"]] for p in parts]
    assert ids == [["a"], ["big"], ["c"]]
    with pytest.raises(ingest.PayloadTooLargeError):
        ingest.split_for_queue(wh.encode(document), document, max_bytes=20_000, limit_bytes=30_000)


def test_a_queue_s_url_from_its_arn_is_the_one_sqs_gives() -> None:
    from wa_conversions.capture.pipeline import queue_url_of

    assert (
        queue_url_of("arn:aws:sqs:eu-west-1:123456789012:wa-conversions-WhatsAppIngestQueue-1AB")
        == "https://sqs.eu-west-1.amazonaws.com/123456789012/wa-conversions-WhatsAppIngestQueue-1AB"
    )
    assert queue_url_of("arn:aws-cn:sqs:cn-north-1:1:q") == "https://sqs.cn-north-1.amazonaws.com.cn/1/q"


def test_the_clock_starts_the_first_record_and_then_only_those_that_fit() -> None:
    from wa_conversions.capture.pipeline import FIRST_RECORD_SECONDS, RECORD_MARGIN_SECONDS, RecordClock

    left = [0]
    clock = RecordClock(lambda: left[0])
    assert clock.has_time()  # nothing timed yet: the first record always starts
    clock.took(1.0)  # quicker than a full part: the next one may still be a full part
    left[0] = int((FIRST_RECORD_SECONDS + RECORD_MARGIN_SECONDS) * 1000) + 500
    assert clock.has_time()
    left[0] -= 1000
    assert not clock.has_time()
    longest = FIRST_RECORD_SECONDS + 4
    clock.took(longest)  # slower than that: the longest so far, and the margin, must fit
    left[0] = int((longest + RECORD_MARGIN_SECONDS) * 1000) + 500
    assert clock.has_time()
    left[0] -= 1000
    assert not clock.has_time()
    assert RecordClock(None).has_time()
