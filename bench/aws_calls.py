"""AWS calls and DynamoDB write units per unit of work, counted through the local stack.

moto's recorder logs every request the stack's AWS receives; the functions' requests are told from the
stack's own (pollers, the EventBridge stand-in) by the `exec-env/AWS_Lambda_*` botocore puts in their
User-Agent, as in Lambda. Write units follow DynamoDB's rules
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html): one per
started KB of the item written (for an update, the item after it), twice in a transaction, plus the same
again for every global secondary index the item is in. moto reports no real consumed capacity, so the
sizes are computed here from the requests and the items they left, so the figures are estimates: an
update is charged at the item's final size, a delete at its key, a key moved inside an index once.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import payloads

LAMBDA_USER_AGENT = "exec-env/AWS_Lambda"
ACKNOWLEDGING = "WhatsAppWebhookFunction"
NEW_CONTACT = "1 update: a new contact's ad-click message"
KNOWN_CONTACT = "1 update: a known contact's message"
# Meta sends each reply's statuses one per webhook: sent, delivered, read (a third each of a stream).
STATUS = "3 updates, a webhook each: a reply's sent, delivered and read statuses"
KB = 1024


@dataclass
class Work:
    """What one unit of work cost: calls by service:action, before the 200 and in all."""

    name: str
    updates: int
    requests: int = 1  # webhooks posted: API Gateway bills each
    ack_calls: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    by_function: Counter[str] = field(default_factory=Counter)
    write_units: int = 0
    read_units: float = 0.0
    events: int = 0  # entries put on the bus (EventBridge bills each)
    invocations: Counter[str] = field(default_factory=Counter)
    invoked_ms: float = 0.0  # the local stack's handler time, moto's answers included
    sent: Counter[str] = field(default_factory=Counter)  # requests to each destination's stand-in

    def summary(self) -> dict[str, Any]:
        return {
            "updates": self.updates,
            "requests": self.requests,
            "ack_path_calls": sum(self.ack_calls.values()),
            "aws_calls": sum(self.calls.values()),
            "write_units": self.write_units,
            "read_units": self.read_units,
            "events": self.events,
            "invocations": dict(sorted(self.invocations.items())),
            "invoked_ms": round(self.invoked_ms, 1),
            "calls": dict(sorted(self.calls.items())),
            "ack_calls": dict(sorted(self.ack_calls.items())),
            "calls_by_function": dict(sorted(self.by_function.items())),
            "sent": dict(sorted(self.sent.items())),
        }


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value in its wire form ({"S": ...})."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        digits = data.lstrip("-").replace(".", "").strip("0") or "0"
        return 1 + math.ceil(len(digits) / 2)
    if kind == "B":
        return len(base64.b64decode(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: member}) for member in data)
    if kind == "L":
        return 3 + sum(1 + attribute_size(member) for member in data)
    if kind == "M":
        return 3 + sum(len(name.encode()) + 1 + attribute_size(member) for name, member in data.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


def _units(size: int) -> int:
    return max(1, math.ceil(size / KB))


class Recording:
    """The stack's moto recorder, and what its DynamoDB tables look like (keys, indexes)."""

    def __init__(self, stack: Any) -> None:
        self._stack = stack
        self._endpoint = stack.aws_endpoint
        self._dynamodb = stack.client("dynamodb")
        self._indexes: dict[str, list[list[str]]] = {}
        self._keys: dict[str, list[str]] = {}
        for name in self._dynamodb.list_tables()["TableNames"]:
            table = self._dynamodb.describe_table(TableName=name)["Table"]
            self._keys[name] = [key["AttributeName"] for key in table["KeySchema"]]
            self._indexes[name] = [
                [key["AttributeName"] for key in index["KeySchema"]]
                for index in table.get("GlobalSecondaryIndexes", [])
            ]

    def _moto(self, action: str) -> str:
        import httpx

        method = "GET" if action == "download-recording" else "POST"
        answer = httpx.request(method, f"{self._endpoint}/moto-api/recorder/{action}", timeout=30)
        answer.raise_for_status()
        return answer.text

    def start(self) -> None:
        self._moto("reset-recording")
        self._moto("start-recording")

    def calls(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(function, service:action, body) of every request a function made since start()."""
        found: list[tuple[str, str, dict[str, Any]]] = []
        for line in self._moto("download-recording").splitlines():
            entry = json.loads(line)
            headers = {key.lower(): value for key, value in entry["headers"].items()}
            user_agent = headers.get("user-agent", "")
            if LAMBDA_USER_AGENT not in user_agent:
                continue
            function = next((part[4:] for part in user_agent.split() if part.startswith("app/")), "?")
            body_text = entry.get("body") or ""
            if entry.get("body_encoded"):
                body_text = base64.b64decode(body_text).decode("utf-8", "replace")
            target = headers.get("x-amz-target", "")
            if target:
                service, _, action = target.partition(".")
                service = {
                    "DynamoDB_20120810": "dynamodb",
                    "AmazonSQS": "sqs",
                    "AWSEvents": "events",
                    "AmazonSSM": "ssm",
                }.get(service, service.lower())
                body = json.loads(body_text) if body_text.startswith("{") else {}
            else:
                service, action, body = _query_action(entry, headers, body_text)
            found.append((function, f"{service}:{action}", body))
        return found

    def stop(self) -> None:
        self._moto("stop-recording")

    def write_units(self, calls: list[tuple[str, str, dict[str, Any]]]) -> int:
        """Write units of the DynamoDB writes among `calls`; read after stop(), so not recorded."""
        total = 0
        for _, call, body in calls:
            action = call.removeprefix("dynamodb:")
            if action == call:
                continue
            if action in ("PutItem", "UpdateItem", "DeleteItem"):
                total += self._write(action, body)
            elif action == "BatchWriteItem":
                for table, requests in body.get("RequestItems", {}).items():
                    for request in requests:
                        if "PutRequest" in request:
                            total += self._write("PutItem", {"TableName": table, **request["PutRequest"]})
                        else:
                            total += self._write(
                                "DeleteItem", {"TableName": table, **request["DeleteRequest"]}
                            )
            elif action == "TransactWriteItems":
                for element in body.get("TransactItems", []):
                    (kind, request), *_ = element.items()
                    if kind == "ConditionCheck":
                        total += 2 * _units(item_size(request["Key"]))
                    else:
                        verb = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}[kind]
                        total += 2 * self._write(verb, request)
        return total

    @staticmethod
    def read_units(calls: list[tuple[str, str, dict[str, Any]]]) -> float:
        """Read units, one per item or query read strongly, half eventually: items under 4 KB, as
        the ones read here are (a lower bound for larger ones)."""
        total = 0.0
        for _, call, body in calls:
            if call in ("dynamodb:GetItem", "dynamodb:Query"):
                total += 1.0 if body.get("ConsistentRead") else 0.5
            elif call == "dynamodb:BatchGetItem":
                for request in body.get("RequestItems", {}).values():
                    total += len(request.get("Keys", [])) * (1.0 if request.get("ConsistentRead") else 0.5)
            elif call == "dynamodb:TransactGetItems":
                total += 2.0 * len(body.get("TransactItems", []))
        return total

    @staticmethod
    def events(calls: list[tuple[str, str, dict[str, Any]]]) -> int:
        return sum(len(body.get("Entries", [])) for _, call, body in calls if call == "events:PutEvents")

    def _write(self, action: str, body: dict[str, Any]) -> int:
        table = body["TableName"]
        if action == "PutItem":
            item = body["Item"]
        else:
            # the item as the write left it (what an update is charged for); gone after a delete
            answer = self._dynamodb.get_item(TableName=table, Key=body["Key"], ConsistentRead=True)
            item = answer.get("Item") or body["Key"]
        units = _units(item_size(item))
        in_indexes = sum(1 for keys in self._indexes.get(table, []) if all(key in item for key in keys))
        return units * (1 + in_indexes)


def _query_action(
    entry: dict[str, Any], headers: dict[str, str], body: str
) -> tuple[str, str, dict[str, Any]]:
    """service and action of a query-protocol request (SSM and others use JSON; SNS, older SQS do not)."""
    from urllib.parse import parse_qs, urlparse

    params = parse_qs(body) if body and not body.startswith("{") else parse_qs(urlparse(entry["url"]).query)
    action = (params.get("Action") or ["?"])[0]
    credential = headers.get("authorization", "")
    service = credential.split("/")[3] if credential.count("/") >= 3 else "?"
    return service, action, {}


def statuses(
    count: int, seed: int = 17, recipient: str | None = None, after: int | None = None
) -> payloads.Webhook:
    """One webhook of `count` sent/delivered/read statuses of distinct messages, to `recipient` if
    given (else the sample's, a contact the stack has not seen), two minutes `after` a time if given
    (a reply's status comes after the message it answers)."""
    rng = random.Random(seed)
    document = payloads._sample(payloads.STATUS_SAMPLE)
    value = document["entry"][0]["changes"][0]["value"]
    template = value["statuses"][0]
    items = []
    for index in range(count):
        status = copy.deepcopy(template)
        name = payloads.STATUS_NAMES[index % len(payloads.STATUS_NAMES)]
        status.update(id=payloads._wamid(rng), status=name)
        if recipient is not None:
            status["recipient_id"] = recipient
        if after is not None:
            status["timestamp"] = str(after + 120 + index)
        if name == "read":
            status.pop("conversation", None)
            status.pop("pricing", None)
        items.append(status)
    value["statuses"] = items
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return payloads.Webhook(f"{count} statuses", body, payloads.sign(body), count)


def reply_statuses(recipient: str, after: int) -> list[payloads.Webhook]:
    """One reply's sent, delivered and read statuses, a webhook each, as Meta sends them, two
    minutes and more `after` the message it answers."""
    found = []
    for index, name in enumerate(payloads.STATUS_NAMES):
        document = json.loads(statuses(1, seed=2, recipient=recipient, after=after + index).body)
        status = document["entry"][0]["changes"][0]["value"]["statuses"][0]
        status["status"] = name
        if name == "read":  # as statuses() makes it: Meta prices the sent one alone
            status.pop("conversation", None)
            status.pop("pricing", None)
        body = json.dumps(document, separators=(",", ":")).encode("utf-8")
        found.append(payloads.Webhook(f"{name} status", body, payloads.sign(body), 1))
    return found


def _serialise_recorder() -> None:
    """moto's recorder appends a request's entry in more than one write when it is over 8 KB, so
    concurrent requests can interleave inside an entry: one lock makes the entries whole."""
    from moto import moto_api
    from moto.moto_api._internal.recorder import models

    moto_api.recorder._location = os.environ["MOTO_RECORDER_FILEPATH"]  # each measure() has its own
    original = models.Recorder._record_request
    if getattr(original, "serialised", False):
        return
    lock = threading.Lock()

    def record(self: models.Recorder, request: Any, body: bytes | None = None) -> None:
        with lock:
            original(self, request, body)

    record.serialised = True  # type: ignore[attr-defined]
    models.Recorder._record_request = record  # type: ignore[method-assign]


def _count_invocations() -> list[tuple[str, float]]:
    """(function, ms) of every invocation from now on, by the stack's workers (this process); a
    later call counts in its own list alone."""
    from devstack.runtime import FunctionWorker

    seen: list[tuple[str, float]] = []
    original = getattr(FunctionWorker.invoke, "uncounted", FunctionWorker.invoke)

    def invoke(self: FunctionWorker, event: Any) -> Any:
        done = original(self, event)
        seen.append((self.spec.logical_id, done.duration_ms))
        return done

    invoke.uncounted = original  # type: ignore[attr-defined]
    FunctionWorker.invoke = invoke  # type: ignore[method-assign]
    return seen


def _message(webhook: payloads.Webhook) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(webhook.body)["entry"][0]["changes"][0]["value"]["messages"][0]
    return message


def sender(webhook: payloads.Webhook) -> str:
    """The wa_id of a one-message webhook's sender."""
    return str(_message(webhook)["from"])


def sent_at(webhook: payloads.Webhook) -> int:
    """When a one-message webhook's message was sent (epoch seconds)."""
    return int(_message(webhook)["timestamp"])


def known_contact(webhook: payloads.Webhook) -> payloads.Webhook:
    """The same sender's next message: a known contact, no ad click."""
    document = json.loads(webhook.body)
    message = document["entry"][0]["changes"][0]["value"]["messages"][0]
    message["id"] = message["id"][:-8] + "00000002"
    message["timestamp"] = str(int(message["timestamp"]) + 60)
    message.pop("referral", None)
    body = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return payloads.Webhook("known contact", body, payloads.sign(body), 1)


# A fresh interpreter as Lambda starts one: import the handler (init), then its first and second request.
FIRST_CALL_CHILD = """\
import json, sys, time, types
sys.path[0:0] = sys.argv[1:]
event = json.loads(sys.stdin.read())
context = types.SimpleNamespace(
    function_name="bench", function_version="$LATEST", memory_limit_in_mb="256", aws_request_id="bench",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:bench",
    log_group_name="", log_stream_name="", get_remaining_time_in_millis=lambda: 10000,
)
started = time.perf_counter()
import app
imported = time.perf_counter()
first = app.lambda_handler(event, context)
called = time.perf_counter()
app.lambda_handler(event, context)
again = time.perf_counter()
assert first["statusCode"] == 200, first
sys.stdout.write("\\n" + json.dumps([imported - started, called - imported, again - called]))
"""


@dataclass
class FirstCall:
    function: str
    import_s: list[float] = field(default_factory=list)
    first_s: list[float] = field(default_factory=list)
    second_s: list[float] = field(default_factory=list)

    def ratio(self) -> float | None:
        """The first request's time over the import's (medians)."""
        if not self.import_s:
            return None
        return round(statistics.median(self.first_s) / statistics.median(self.import_s), 2)


def first_call(stack: Any, task_root: Path, layer: list[Path], runs: int, writes_bytecode: bool) -> FirstCall:
    """The webhook function's import and first request (boto3's import and client creation, the
    secret's read, the queue send) in fresh interpreters against the running stack."""
    import subprocess
    import sys

    from devstack.apigw import RouteMatch, RouteTable, build_event

    spec = stack.functions[ACKNOWLEDGING]
    match = RouteTable(spec.api_routes).match("POST", "/webhooks/whatsapp")
    if not isinstance(match, RouteMatch):
        raise RuntimeError(f"{ACKNOWLEDGING} serves no POST /webhooks/whatsapp")
    webhook = statuses(1, seed=99)
    secret = stack.env_values["WHATSAPP_APP_SECRET"]
    headers = [
        ("Content-Type", "application/json"),
        ("X-Hub-Signature-256", payloads.sign(webhook.body, secret)),
    ]
    event = build_event(
        match,
        method="POST",
        raw_path="/webhooks/whatsapp",
        raw_query="",
        headers=headers,
        body=webhook.body,
        source_ip="127.0.0.1",
        region=stack.region,
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(stack.function_environment(ACKNOWLEDGING))
    if not writes_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    measured = FirstCall(ACKNOWLEDGING)
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-P", "-c", FIRST_CALL_CHILD, str(task_root), *map(str, layer)],
            input=json.dumps(event),
            cwd=task_root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"the first call of {ACKNOWLEDGING} failed: {last}")
        # the handler logs to stdout too: the figures are the last line
        imported, first, second = json.loads(done.stdout.strip().splitlines()[-1])
        measured.import_s.append(imported)
        measured.first_s.append(first)
        measured.second_s.append(second)
    stack.wait_until_idle(timeout=120.0)
    return measured


JSON = {"Content-Type": "application/json"}
ORDER = "an order: created and paid, attributed, to four destinations"


@dataclass(frozen=True)
class Post:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Unit:
    """Webhooks counted as one unit of work, after `before` (posted and drained, not counted)."""

    name: str
    posts: list[Post]
    updates: int
    before: list[Post] = field(default_factory=list)
    acknowledging: str = ACKNOWLEDGING
    together: bool = False  # posted back to back, then drained; else each drained before the next


def _order(env: dict[str, str], whatsapp: Any, seed: int, order_id: int) -> tuple[Post, list[Post]]:
    """A new contact's ad click two hours ago, and the Shopify webhooks of their order of an hour
    ago, orders/create and orders/paid, the buyer's number on the billing address."""
    from devstack.shopify_samples import fixture_order, shopify_headers

    now = int(time.time())
    click = json.loads(payloads.batched(1, seed=seed).body)
    message = click["entry"][0]["changes"][0]["value"]["messages"][0]
    message["timestamp"] = str(now - 7200)
    phone = str(message["from"])  # 1650555xxxx
    click_body = json.dumps(click, separators=(",", ":")).encode("utf-8")
    order = fixture_order()
    placed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600))
    order.update(
        id=order_id, name=f"#{order_id % 100_000}", created_at=placed, processed_at=placed, updated_at=placed
    )
    # the buyer's number in one place, as the attribution tests have it (an E.164 billing phone)
    order["phone"] = order["customer"]["phone"] = order["shipping_address"]["phone"] = None
    order["customer"]["default_address"]["phone"] = None
    order["billing_address"]["phone"] = f"+{phone}"
    posts = []
    for topic, status in (("orders/create", "pending"), ("orders/paid", "paid")):
        body = json.dumps({**order, "financial_status": status}).encode("utf-8")
        headers = shopify_headers(
            body, env["SHOPIFY_WEBHOOK_SECRET"], shop=env["SHOPIFY_SHOP_DOMAIN"], topic=topic
        )
        posts.append(Post("/webhooks/shopify", body, headers))
    return whatsapp(payloads.Webhook("click", click_body, "", 1)), posts


def order_unit(env: dict[str, str], whatsapp: Any) -> Unit:
    """One order (its click not counted): attributed to the click, sent to Wax, Meta, CM.com and
    360dialog (local.env enables the four), Meta's alone in its batch."""
    click, posts = _order(env, whatsapp, seed=5, order_id=4_507_894_690)
    return Unit(ORDER, posts, 1, before=[click], acknowledging="ShopifyWebhookFunction")


META_BATCH_ORDERS = 20
META_BATCH = f"{META_BATCH_ORDERS} orders at once: Meta's conversions in one batch"


def meta_batch_unit(env: dict[str, str], whatsapp: Any) -> Unit:
    """As many orders as order_unit's, posted at once (their clicks not counted): the Meta forwarder's
    batching window (20 s, BatchSize 1000) gathers their conversions into one invocation."""
    clicks: list[Post] = []
    posts: list[Post] = []
    for number in range(META_BATCH_ORDERS):
        click, order = _order(env, whatsapp, seed=600 + number, order_id=4_507_900_000 + number)
        clicks.append(click)
        posts += order
    return Unit(
        META_BATCH,
        posts,
        META_BATCH_ORDERS,
        before=clicks,
        acknowledging="ShopifyWebhookFunction",
        together=True,
    )


# The collector forwards every lifecycle event (docs/forwarding.md), so it is priced apart: off, as the
# template's EnableCollectorDestination defaults, for the stream a default deployment pays.
DEFAULT_DEPLOYMENT = {"ENABLE_COLLECTOR_DESTINATION": "false"}
WITH_COLLECTOR = {"ENABLE_COLLECTOR_DESTINATION": "true"}


def measure(
    timeout_s: float = 120.0,
    first_call_layout: tuple[Path, list[Path], bool] | None = None,
    runs: int = 3,
    settings: dict[str, str] | None = None,
    single_updates_only: bool = False,
) -> tuple[list[Work], FirstCall | None]:
    """Starts a local stack of the repository's template, with local.env's settings and `settings`
    over them, and posts each unit of work to it (the one-update webhooks alone if asked)."""
    import httpx

    from devstack.stack import DevStack

    recording_file = Path(tempfile.mkdtemp(prefix="bench-recording-")) / "moto_recording"
    env_file = recording_file.parent / "bench.env"
    lines = (payloads.ROOT / "local.env").read_text(encoding="utf-8").splitlines()
    env_file.write_text(
        "\n".join([*lines, *(f"{key}={value}" for key, value in (settings or {}).items())]) + "\n",
        encoding="utf-8",
    )
    # read when the recorder is made: its log goes to a scratch file, not the working directory
    os.environ["MOTO_RECORDER_FILEPATH"] = str(recording_file)
    _serialise_recorder()
    invocations = _count_invocations()
    works: list[Work] = []
    log_path = recording_file.parent / "stack.log"
    # moto in this process (thread mode), so that its recorder is the one made serial above; the
    # functions' output goes to a file, named if the run fails
    with (
        log_path.open("w", encoding="utf-8") as log,
        DevStack(
            payloads.ROOT / "template.yaml",
            env_file,
            port=0,
            moto="thread",
            log_stream=log,
        ) as stack,
    ):
        secret = stack.env_values["WHATSAPP_APP_SECRET"]

        def whatsapp(webhook: payloads.Webhook) -> Post:
            headers = {"X-Hub-Signature-256": payloads.sign(webhook.body, secret)}
            return Post("/webhooks/whatsapp", webhook.body, headers)

        recording = Recording(stack)
        first = payloads.batched(1, seed=1)
        units = [
            Unit(NEW_CONTACT, [whatsapp(first)], first.updates),
            Unit(KNOWN_CONTACT, [whatsapp(known_contact(first))], 1),
            # most statuses are of replies to people who wrote in: the status is of one sent to them
            Unit(STATUS, [whatsapp(status) for status in reply_statuses(sender(first), sent_at(first))], 3),
        ]
        if not single_updates_only:
            units += [
                Unit("100 updates: messages and statuses", [whatsapp(payloads.batched(100, seed=3))], 100),
                Unit("100 updates: statuses", [whatsapp(statuses(100, seed=4))], 100),
                order_unit(stack.env_values, whatsapp),
                meta_batch_unit(stack.env_values, whatsapp),
            ]
        with httpx.Client(base_url=stack.api_url, timeout=30.0) as api:

            def post(item: Post, name: str) -> None:
                answer = api.post(item.path, content=item.body, headers={**JSON, **item.headers})
                if answer.status_code != 200:
                    raise RuntimeError(f"{name}: {item.path} answered {answer.status_code}; see {log_path}")

            for unit in units:
                for item in unit.before:
                    post(item, unit.name)
                stack.wait_until_idle(timeout=timeout_s)
                invocations.clear()  # what `before` took is not the unit's
                sent_before = len(stack.standins.recorded())
                recording.start()
                for item in unit.posts:
                    post(item, unit.name)
                    if not unit.together:
                        time.sleep(0.2)
                        stack.wait_until_idle(timeout=timeout_s)
                stack.wait_until_idle(timeout=timeout_s)
                work = Work(unit.name, unit.updates, requests=len(unit.posts))
                calls = recording.calls()
                recording.stop()
                work.calls.update(call for _, call, _ in calls)
                # the acknowledging function answers once its calls are done: they are the ones before the 200
                work.ack_calls.update(call for function, call, _ in calls if function == unit.acknowledging)
                work.by_function.update(function for function, _, _ in calls)
                work.sent.update(str(r["destination"]) for r in stack.standins.recorded()[sent_before:])
                work.write_units = recording.write_units(calls)
                work.read_units = recording.read_units(calls)
                work.events = recording.events(calls)
                for function, elapsed_ms in invocations:
                    work.invocations[function] += 1
                    work.invoked_ms += elapsed_ms
                invocations.clear()
                works.append(work)
        calls_first = None
        if first_call_layout is not None:
            task_root, layer, writes_bytecode = first_call_layout
            calls_first = first_call(stack, task_root, layer, runs, writes_bytecode)
        # moto runs in this process and keeps its state past the stack: the next measure() starts clean
        httpx.post(f"{stack.aws_endpoint}/moto-api/reset", timeout=30).raise_for_status()
    shutil.rmtree(recording_file.parent)
    return works, calls_first


HISTORY_EVENTS = 500
HISTORY_SPANS = ((1, 100), (401, 500))
HISTORY_CONTACT = "254700000001"


class _RecordingClient:
    """A DynamoDB client that notes each call (as the recorder's (function, call, body)) and the
    size of what each Query returned."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.read_units = 0.0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method) or name.startswith("_") or name in ("exceptions", "meta"):
            return method

        def call(**kwargs: Any) -> Any:
            self.calls.append(("AnalyticsAggregatorFunction", "dynamodb:" + _action(name), kwargs))
            answer = method(**kwargs)
            if name in ("query", "get_item"):
                found = answer.get("Items") or ([answer["Item"]] if "Item" in answer else [])
                size = sum(item_size(item) for item in found)
                # one unit per started 4 KB read strongly, half eventually
                units = max(1, math.ceil(size / (4 * KB)))
                self.read_units += units if kwargs.get("ConsistentRead") else units / 2
            return answer

        return call


def _action(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("_"))


def _history_events(count: int) -> list[Any]:
    """One contact's lifecycle, in order: its message, then the business's reply sent, delivered and
    read, 30 s apart, over and over (every fourth event a new inbound message)."""
    from datetime import UTC, datetime, timedelta

    from wa_conversions.models.events import EventContext, LifecycleEvent

    start = datetime(2026, 3, 2, tzinfo=UTC)
    events = []
    for index in range(count):
        cycle, step = divmod(index, 4)
        name = ("message.received", "message.sent", "message.delivered", "message.read")[step]
        message = f"wamid.bench.{cycle}.{'in' if step == 0 else 'out'}"
        when = (start + timedelta(seconds=30 * index)).isoformat().replace("+00:00", "Z")
        events.append(
            LifecycleEvent(
                message_id=f"bench-history-{index}",
                event=name,
                user_id=f"+{HISTORY_CONTACT}",
                timestamp=when,
                context=EventContext(provider="meta"),
                properties={"contactKey": HISTORY_CONTACT, "messageId": message},
            )
        )
    return events


def _busy_day_events(contacts: int) -> list[Any]:
    """A day of a deployment, in time order: `contacts` people, spread over the day's hours, each
    writing in (a third from an ad, 8 ads), answered by one of 12 agents, the reply delivered and read."""
    from datetime import UTC, datetime, timedelta

    from wa_conversions.models.events import EventContext, LifecycleEvent

    start = datetime(2026, 3, 2, tzinfo=UTC)
    events = []
    for person in range(contacts):
        contact = f"2547{person:08d}"
        began = start + timedelta(seconds=(person * 86_000) // contacts)
        steps: list[tuple[str, str, dict[str, str]]] = []
        if person % 3 == 0:
            steps.append(("referral.captured", "in", {"sourceId": f"120226305854{person % 8:04d}"}))
        steps += [
            ("contact.created", "", {}),
            ("message.received", "in", {"countryCode": ("KE", "NG", "BR", "MX", "IN")[person % 5]}),
            ("message.sent", "out", {"agentId": f"agent-{person % 12}", "serviceMode": "agent"}),
            ("message.delivered", "out", {}),
            ("message.read", "out", {}),
        ]
        for index, (name, kind, extra) in enumerate(steps):
            properties = {"contactKey": contact, **extra}
            if kind:
                properties["messageId"] = f"wamid.bench.day.{person}.{kind}"
            events.append(
                LifecycleEvent(
                    message_id=f"bench-day-{person}-{index}",
                    event=name,
                    user_id=f"+{contact}",
                    timestamp=(began + timedelta(seconds=20 * index)).isoformat().replace("+00:00", "Z"),
                    context=EventContext(provider="meta"),
                    properties=properties,
                )
            )
    return sorted(events, key=lambda event: event.timestamp)


BUSY_DAY_CONTACTS = 240
BUSY_DAY_SPAN = 100


def contact_history(count: int = HISTORY_EVENTS) -> dict[str, Any]:
    """Write units, read units and calls per event the analytics aggregator spends over one contact's
    first `count` events, averaged over HISTORY_SPANS: flat if the cost does not grow with history."""
    per_event = _aggregator_costs(_history_events(count))
    return {"events": count, "per_event": _spans(per_event, HISTORY_SPANS)}


def busy_day(contacts: int = BUSY_DAY_CONTACTS) -> dict[str, Any]:
    """The same per event over a busy day of many contacts (_busy_day_events), its first and last
    BUSY_DAY_SPAN events: flat if an event's cost does not grow with the day's counters."""
    per_event = _aggregator_costs(_busy_day_events(contacts))
    last = len(per_event)
    spans = ((1, BUSY_DAY_SPAN), (last - BUSY_DAY_SPAN + 1, last))
    return {"contacts": contacts, "events": last, "per_event": _spans(per_event, spans)}


def _spans(per_event: list[tuple[int, float, int]], spans: Any) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for low, high in spans:
        chosen = per_event[low - 1 : high]
        found[f"{low}-{high}"] = {
            "write_units": round(statistics.mean(w for w, _, _ in chosen), 2),
            "read_units": round(statistics.mean(r for _, r, _ in chosen), 2),
            "aws_calls": round(statistics.mean(c for _, _, c in chosen), 2),
        }
    return found


def _aggregator_costs(events: list[Any]) -> list[tuple[int, float, int]]:
    """(write units, read units, calls) of each event, counted by the analytics aggregator and its
    store against moto in this process, tables as the template defines them."""
    import boto3
    from moto import mock_aws

    from devstack import cfn
    from wa_conversions.analytics.aggregator import Aggregator
    from wa_conversions.store.analytics import AnalyticsRepository

    template = cfn.load_template(payloads.ROOT / "template.yaml")
    # moto's own credentials and region, never the stack's endpoint or a real account
    local = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    saved = {key: os.environ.get(key) for key in ("AWS_ENDPOINT_URL", *local)}
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(local)
    per_event: list[tuple[int, float, int]] = []
    try:
        with mock_aws():
            dynamodb = boto3.client("dynamodb")
            tables = {"Table": "bench-table", "IdempotencyTable": "bench-idempotency"}
            for logical_id, name in tables.items():
                props = template["Resources"][logical_id]["Properties"]
                kwargs: dict[str, Any] = {
                    "TableName": name,
                    "KeySchema": props["KeySchema"],
                    "AttributeDefinitions": props["AttributeDefinitions"],
                    "BillingMode": "PAY_PER_REQUEST",
                }
                if props.get("GlobalSecondaryIndexes"):
                    kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
                dynamodb.create_table(**kwargs)
            meter = Recording.__new__(Recording)
            meter._dynamodb = dynamodb
            meter._indexes = {
                name: [
                    [key["AttributeName"] for key in index["KeySchema"]]
                    for index in template["Resources"][logical_id]["Properties"].get(
                        "GlobalSecondaryIndexes", []
                    )
                ]
                for logical_id, name in tables.items()
            }
            client = _RecordingClient(dynamodb)
            repository = AnalyticsRepository(
                client,  # type: ignore[arg-type]
                tables["Table"],
                tables["IdempotencyTable"],
                marker_ttl_seconds=90 * 86_400,
            )
            aggregator = Aggregator(repository)
            for event in events:
                client.calls.clear()
                client.read_units = 0.0
                if aggregator.apply(event).outcome != "counted":
                    raise RuntimeError(f"{event.event} of the bench's events was not counted")
                per_event.append((meter.write_units(client.calls), client.read_units, len(client.calls)))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return per_event


if __name__ == "__main__":
    print(json.dumps({"history": contact_history(), "busy_day": busy_day()}))
