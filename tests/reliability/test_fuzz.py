"""Fuzz: hypothesis-generated requests to every route of template.yaml, first without credentials
(no signature, a wrong one, no or a wrong API key), then with them. Bodies are arbitrary JSON, the
routes' own documents with a field made wrong (huge numbers, wrong types, odd unicode, oversized
ids), deep nesting and bytes that are not UTF-8; paths and queries carry odd characters. No answer
may be a 5xx, none may hang, and nothing from the requests without credentials may be stored."""

from __future__ import annotations

import copy
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from devstack.shopify_samples import shopify_headers
from devstack.stack import DevStack
from devstack.testing import AwsHelpers
from tests.reliability.bus import BusObserver
from tests.reliability.harness import (
    ENV,
    Figures,
    Pii,
    Sizes,
    drain,
    shopify_order,
    wamid,
)
from tests.support import twilio as tw
from tests.support import webhooks as wh
from wa_conversions.errors import ForbiddenError
from wa_conversions.signatures import meta_signature, twilio_signature

pytestmark = pytest.mark.reliability
PHASE = "fuzz"
# An API function's Timeout is 10 s; an answer that takes three times that is a hang.
HANG_S = 30.0
RAW = "\x00raw:"  # a JSON string that stands for a raw token spliced into the text after encoding
NASTY_RAW = (
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "1E+999999",
    "123456789012345678901234567890",
    "-0",
    "1e-400",
)
NASTY = st.one_of(
    st.sampled_from([RAW + token for token in NASTY_RAW]),
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            -1,
            2**63,
            1.7e308,
            "",
            " ",
            "\u0000",
            "\ud800",
            "\udfff",
            "\ufeff",
            "\u202e",
            "\U0001d518\U0001d52b\U0001d526 \U0001f600",
            "x" * 3000,
            "9" * 5000,
            "NaN",
            "Infinity",
            "0001-01-01",
            "9999-12-31",
            "2025-02-30",
            "%2F",
            "../../etc",
            [],
            {},
            [[[]]],
        ]
    ),
    st.text(max_size=40),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
PATH_VALUES = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(
        [
            "/",
            "%2F",
            "%",
            "%zz",
            "..",
            "+",
            " ",
            "=",
            "a/b+c=d e",
            "\u0000",
            "😀",
            "x" * 3000,
            "1" * 40,
            "+16505551234",
            "wamid.HBgL/+=",
            "-1",
            "0",
        ]
    ),
    st.from_regex(r"\A[0-9]{1,20}\Z"),
)
SAFE = st.sampled_from(["", "", "/", "%"])
# Query parameters that carry a secret: never in a failure message.
SECRET_QUERY = frozenset({"token", "hub.verify_token"})


@dataclass
class Tally:
    sent: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    unclear: list[str] = field(default_factory=list)
    skipped_for_time: int = 0
    unsendable: list[str] = field(default_factory=list)


def form_body(document: Any) -> bytes:
    """A document as Twilio's form post: each value as text (a raw token as itself, a lone surrogate
    kept as its bytes), so the form parser and the signature check see what a sender could send."""
    if not isinstance(document, dict):
        document = {"Body": document}
    fields = [
        (str(k), v.removeprefix(RAW) if isinstance(v, str) else json.dumps(v)) for k, v in document.items()
    ]
    return urlencode(fields, errors="surrogatepass").encode("ascii")


def twilio_signed_url(stack: DevStack) -> str:
    """What Twilio signs with no custom domain: the TwilioWebhookUrl output as deployed, whose host the
    local API Gateway hands the function (as tests/e2e/test_twilio.py signs)."""
    api_id = stack.provisioner.api_id("WebhookApi")
    return f"https://{api_id}.execute-api.{stack.region}.amazonaws.com/v1/webhooks/twilio"


def encode(document: Any) -> bytes:
    text = json.dumps(document)
    for token in NASTY_RAW:
        text = text.replace(json.dumps(RAW + token), token)
    return text.encode("utf-8", "surrogatepass")


def mutate(document: Any, draw: Any) -> Any:
    """The document with one value, somewhere in it, replaced by a nasty one (or a key added)."""
    document = copy.deepcopy(document)
    holders: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict | list):
            holders.append(node)
            for child in node.values() if isinstance(node, dict) else node:
                walk(child)

    walk(document)
    if not holders:
        return draw(NASTY)
    holder = draw(st.sampled_from(holders))
    keys = list(holder.keys()) if isinstance(holder, dict) else list(range(len(holder)))
    if isinstance(holder, dict) and (not keys or draw(st.booleans())):
        holder[draw(st.text(max_size=20))] = draw(NASTY)
    elif not keys:
        holder.append(draw(NASTY))
    else:
        holder[draw(st.sampled_from(keys))] = draw(NASTY)
    return document


def documents(pii: Pii, rng: random.Random) -> dict[str, Any]:
    """A valid document for each route that takes a body, to make wrong in one place."""
    phone, name = pii.phone(), pii.name()
    now = int(time.time())
    message = wh.text_message(wamid(rng), phone, now - 60, body=pii.text())
    return {
        "/webhooks/whatsapp": wh.webhook({"contacts": [wh.contact(phone, name=name)], "messages": [message]}),
        "/webhooks/cm": {
            "reference": "2f2d42ac-3809-40fb-bce5-dc720e400000",
            "messageContext": "",
            "from": {"number": "+" + phone, "name": name},
            "to": {"number": "00" + ENV["CM_BUSINESS_NUMBER"]},
            "message": {"text": pii.text(), "custom": {}},
            "groupings": ["", "", ""],
            "timeUtc": "2025-06-18T19:46:32",
            "channel": "WhatsApp",
        },
        "/webhooks/twilio": tw.inbound(phone, "SM" + f"{rng.getrandbits(128):032x}", Body=pii.text()),
        "/webhooks/shopify": shopify_order(rng.randint(10**12, 10**13), phone, name, pii.email(), now - 60),
        "/external-events": {
            "lead_phone": phone,
            "action": "Purchased an item",
            "revenue": {"amount": 12.5, "currency": "EUR"},
        },
        "/conversions": {
            "accountId": "102290129340398",
            "eventName": "Purchase",
            "eventId": "fuzz-1",
            "phoneE164": phone,
            "value": 10.0,
            "currency": "EUR",
        },
        "/v1/capture": {
            "batch": [
                {
                    "type": "track",
                    "event": "message.received",
                    "userId": "+" + phone,
                    "timestamp": "2025-06-18T19:46:32Z",
                    "context": {"channel": "whatsapp"},
                    "properties": {"messageId": wamid(rng)},
                }
            ]
        },
    }


@st.composite
def requests(
    draw: Any, routes: list[tuple[str, str]], bases: dict[str, Any], authenticated: bool, twilio_url: str
) -> Any:
    method, template = draw(st.sampled_from(routes))
    path = template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        value = quote(draw(PATH_VALUES), safe=draw(SAFE))
        path = path[:start] + value + path[end + 1 :]
    if draw(st.integers(0, 9)) == 0:
        path += draw(st.sampled_from(["/", "//", "/extra", "%2F"]))
    query: dict[str, str] = draw(
        st.dictionaries(st.sampled_from(QUERY_KEYS), st.text(max_size=30), max_size=3)
    )
    kind = draw(st.sampled_from(["none", "json", "mutated", "mutated", "mutated", "deep", "bytes", "text"]))
    if method == "GET" and draw(st.integers(0, 3)):
        kind = "none"
    body = b""
    if kind == "json":
        body = encode(draw(JSON_VALUES))
    elif kind == "mutated":
        base = bases.get(template, draw(st.sampled_from(list(bases.values()))))
        # Twilio posts forms: its document goes as one, to reach the form parser and the signature
        body = (form_body if template == "/webhooks/twilio" else encode)(mutate(base, draw))
    elif kind == "deep":
        depth = draw(st.sampled_from([1000, 5000, 100_000]))
        body = draw(st.sampled_from([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth]))
    elif kind == "bytes":
        body = draw(
            st.sampled_from([b'{"a": "\xed\xb3\xbf"}', b"\xff\xfe{}", b'{"text": "\xed\xa0\x80"}', b"\x00"])
        )
    elif kind == "text":
        body = draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    headers = {
        "Content-Type": draw(st.sampled_from(["application/json", "text/plain", "application/x-www-form"]))
    }
    credentials = "valid" if authenticated else draw(st.sampled_from(["none", "wrong"]))
    choose = lambda options: draw(st.sampled_from(options))  # noqa: E731
    headers, query = authorise(template, method, body, headers, query, credentials, choose, twilio_url)
    return method, path, query, headers, body, template


QUERY_KEYS = [
    "from",
    "to",
    "granularity",
    "status",
    "destination",
    "order_id",
    "limit",
    "shop",
    "token",
    "hub.mode",
    "hub.challenge",
    "hub.verify_token",
    "x",
]


def authorise(
    template: str,
    method: str,
    body: bytes,
    headers: dict[str, str],
    query: dict[str, str],
    credentials: str,
    choose: Callable[[list[Any]], Any],
    twilio_url: str,
) -> tuple[dict[str, str], dict[str, str]]:
    """Signs the request as its sender would (valid), not at all (none) or with a wrong secret;
    `choose` picks one of the ways a sender may fill a header; Twilio's over `twilio_url`."""
    headers = dict(headers)
    query = dict(query)
    if template == "/webhooks/whatsapp" and method == "POST":
        if credentials != "none":
            secret = ENV["WHATSAPP_APP_SECRET"] if credentials == "valid" else "not-the-secret"
            if choose([True, False]):
                headers["X-Hub-Signature-256"] = meta_signature(body, secret)
            else:
                dialog = ENV["WHATSAPP_360DIALOG_SECRET"] if credentials == "valid" else "not-the-secret"
                headers["x-360dialog-signature"] = meta_signature(body, dialog).removeprefix("sha256=")
    elif template == "/webhooks/whatsapp":
        query.setdefault("hub.mode", "subscribe")
        query["hub.verify_token"] = ENV["WHATSAPP_VERIFY_TOKEN"] if credentials == "valid" else "wrong"
    elif template == "/webhooks/shopify":
        if credentials != "none":
            secret = ENV["SHOPIFY_WEBHOOK_SECRET"] if credentials == "valid" else "not-the-secret"
            event_id = choose([str(time.time_ns()), "x" * 3000, "\u00e9v\u00e9nement", ""])
            topic = choose(["orders/create", "orders/paid", "refunds/create", "carts/update", ""])
            shop = choose([ENV["SHOPIFY_SHOP_DOMAIN"], "other.myshopify.com", ""])
            signed = shopify_headers(body, secret, shop=shop, topic=topic, event_id=event_id or None)
            headers.update({k: v for k, v in signed.items() if k != "Content-Type"})
    elif template == "/webhooks/twilio":
        # a form post, which the HTTP API hands over base64; Twilio signs the URL with its query, so a
        # signed case has none (the URL is the one signed) and an unsigned one keeps the drawn query
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if credentials != "none":
            query = {}
            token = ENV["TWILIO_AUTH_TOKEN"] if credentials == "valid" else "not-the-token"
            try:
                params = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                params = []  # not UTF-8: refused before its signature is looked at
            headers["X-Twilio-Signature"] = twilio_signature(twilio_url, params, token)
    elif template == "/webhooks/cm":
        if credentials == "valid":
            query["token"] = ENV["CM_WEBHOOK_TOKEN"]
        elif credentials == "wrong":
            query["token"] = "not-the-token"
        else:
            query.pop("token", None)
    elif credentials != "none":
        headers["X-Api-Key"] = ENV["API_KEY"] if credentials == "valid" else "not-the-key"
    return headers, query


def corpus(
    routes: list[tuple[str, str]], bases: dict[str, Any], authenticated: bool, twilio_url: str
) -> list[tuple[str, str, dict[str, str], dict[str, str], bytes, str]]:
    """The cases found by hand (issue 9), on every route, before the generated ones: an id holding
    "/+= ", JSON nested 100,000 deep, an encoded lone surrogate, numbers JSON cannot hold or no
    destination takes, a boolean for a number, a 3,000-character event id, impossible dates."""
    deep = b"[" * 100_000 + b"]" * 100_000
    surrogate = b'{"object": "whatsapp_business_account", "entry": [], "x": "\xed\xb3\xbf"}'
    cases: list[tuple[str, str, dict[str, str], dict[str, str], bytes, str]] = []
    credentials = "valid" if authenticated else "none"
    for method, template in routes:
        path = template
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + quote("a/b+c=d e", safe="") + path[end + 1 :]
        base = bases.get(template)
        bodies = [b"", deep, surrogate, b'{"a": 1e400}']
        if isinstance(base, dict):
            bodies += [encode(with_number(base, RAW + "1e400")), encode(with_number(base, True))]
        if template == "/webhooks/twilio":
            bodies += [form_body(base), form_body({**base, "Body": "\udcff", "x" * 3000: ""})]
        for index, body in enumerate(bodies):
            if method == "GET" and body:
                continue
            # Each case takes the next of the ways a sender signs (Meta or 360dialog; the Shopify
            # event ids, the 3,000-character one included).
            choose: Callable[[list[Any]], Any] = lambda options, i=index: options[i % len(options)]  # noqa: E731
            headers, query = authorise(
                template,
                method,
                body,
                {"Content-Type": "application/json"},
                {},
                credentials,
                choose,
                twilio_url,
            )
            cases.append((method, path, query, headers, body, template))
    for query in ({"to": "0001-01-01"}, {"from": "9999-12-31"}, {"from": "2025-02-30"}, {"to": "1e400"}):
        headers, _ = authorise("/metrics", "GET", b"", {}, {}, credentials, lambda options: options[0], "")
        cases.append(("GET", "/metrics", query, headers, b"", "/metrics"))
    for path in ("/deliveries/%2F", "/deliveries/%2F/retry", "/messages/%2F", "/contacts/%2F", "/orders/%2F"):
        method = "POST" if path.endswith("retry") else "GET"
        headers, _ = authorise(path, method, b"", {}, {}, credentials, lambda options: options[0], "")
        cases.append((method, path, {}, headers, b"", path))
    return cases


def with_number(document: Any, value: Any) -> Any:
    """The document with every number in it replaced by `value`."""
    if isinstance(document, dict):
        return {key: with_number(child, value) for key, child in document.items()}
    if isinstance(document, list):
        return [with_number(child, value) for child in document]
    if isinstance(document, int | float) and not isinstance(document, bool):
        return value
    return document


def stored(stack: DevStack, aws: AwsHelpers, bus: BusObserver) -> dict[str, int]:
    """Items per table and messages per queue (the DLQs and the bus observer's included)."""
    counts: dict[str, int] = {}
    for logical_id, resource in stack.template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::DynamoDB::Table":
            name = stack.physical_id(logical_id)
            total, start = 0, None
            while True:
                page = aws.dynamodb.scan(
                    TableName=name, Select="COUNT", **({"ExclusiveStartKey": start} if start else {})
                )
                total += page["Count"]
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
            counts[logical_id] = total
    for url in aws.sqs.list_queues().get("QueueUrls", []):
        counts[url.rsplit("/", 1)[-1]] = aws.queue_depth(url)
    counts["bus observer"] = aws.queue_depth(bus.queue_url)
    return counts


def fuzz(
    stack: DevStack,
    routes: list[tuple[str, str]],
    bases: dict[str, Any],
    count: int,
    authenticated: bool,
    budget_s: float,
    run_seed: int,
) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + budget_s
    client = httpx.Client(base_url=stack.api_url, timeout=HANG_S)
    twilio_url = twilio_signed_url(stack)

    @seed(run_seed)
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(requests(routes, bases, authenticated, twilio_url))
    def send(request: Any) -> None:
        send_one(request)

    def send_one(request: Any) -> None:
        method, path, query, headers, body, template = request
        if time.monotonic() > deadline:
            tally.skipped_for_time += 1
            return
        shown = {key: "***" if key in SECRET_QUERY else value for key, value in query.items()}
        label = f"{method} {template}: {path[:60]}?{urlencode(shown)[:80]} ({len(body)} B body)"
        raw_headers = {name: value.encode("utf-8") for name, value in headers.items()}
        try:
            request = client.build_request(method, path, params=query, headers=raw_headers, content=body)
        except (httpx.InvalidURL, ValueError) as error:
            # httpx itself refuses to write it (a URL it cannot form): not a request the stack saw.
            tally.unsendable.append(f"{label}: {error}")
            return
        tally.sent += 1
        try:
            response = client.send(request)
        except httpx.TimeoutException:
            tally.hangs.append(label)
            return
        except httpx.HTTPError as error:
            tally.unclear.append(f"{label}: {type(error).__name__}")
            return
        tally.by_status[response.status_code] += 1
        if response.status_code >= 500:
            tally.server_errors.append(f"{label} -> {response.status_code} {response.text[:120]!r}")
        elif response.status_code >= 400:
            try:
                json.loads(response.text)
            except ValueError:
                tally.unclear.append(f"{label} -> {response.status_code} not JSON: {response.text[:80]!r}")

    try:
        for case in corpus(routes, bases, authenticated, twilio_url):
            send_one(case)
        send()
    finally:
        client.close()
    return tally


@pytest.mark.timeout(900)
def test_no_request_gets_a_5xx_or_hangs_and_none_without_credentials_is_stored(
    stack: DevStack,
    aws: AwsHelpers,
    bus: BusObserver,
    figures: Figures,
    pii: Pii,
    rng: random.Random,
    sizes: Sizes,
) -> None:
    routes = sorted(
        {(route.method, route.path) for spec in stack.functions.values() for route in spec.api_routes}
    )
    bases = documents(pii, rng)
    budget = 300.0 if sizes.mode == "short" else 700.0
    drain(stack, 120)
    bus.take()
    before = stored(stack, aws, bus)
    anonymous = fuzz(
        stack, routes, bases, sizes.fuzz_unauthenticated, False, budget * 0.35, rng.randint(0, 2**31)
    )
    drained, _, pending = drain(stack, 120)
    after = stored(stack, aws, bus)
    changed = {name: (before.get(name), count) for name, count in after.items() if before.get(name) != count}
    signed = fuzz(stack, routes, bases, sizes.fuzz_authenticated, True, budget * 0.65, rng.randint(0, 2**31))
    drain(stack, 180)

    total = anonymous.sent + signed.sent
    figures.record(
        PHASE,
        routes=len(routes),
        requests=total,
        requests_without_credentials=anonymous.sent,
        requests_with_credentials=signed.sent,
        by_status={str(k): v for k, v in sorted((anonymous.by_status + signed.by_status).items())},
        server_errors=len(anonymous.server_errors) + len(signed.server_errors),
        hangs=len(anonymous.hangs) + len(signed.hangs),
        errors_not_json=len(anonymous.unclear) + len(signed.unclear),
        stored_without_credentials=sum(abs(b - (a or 0)) for a, b in changed.values()),
        skipped_for_time=anonymous.skipped_for_time + signed.skipped_for_time,
        unsendable=len(anonymous.unsendable) + len(signed.unsendable),
    )
    check = figures.check
    wanted = sizes.fuzz_unauthenticated + sizes.fuzz_authenticated
    check(
        PHASE, "requests", total >= wanted, f"only {total} of {wanted} requests sent within the time budget"
    )
    errors = anonymous.server_errors + signed.server_errors
    check(PHASE, "server_errors", not errors, f"{len(errors)}: {errors[:5]}")
    hangs = anonymous.hangs + signed.hangs
    check(PHASE, "hangs", not hangs, f"{len(hangs)} without an answer in {HANG_S} s: {hangs[:5]}")
    unclear = anonymous.unclear + signed.unclear
    check(PHASE, "errors_are_json", not unclear, f"{len(unclear)}: {unclear[:5]}")
    check(PHASE, "drained", drained, f"still busy after the requests without credentials: {pending}")
    check(PHASE, "stored_without_credentials", not changed, f"changed by unauthenticated requests: {changed}")
    figures.assert_phase(PHASE)


def test_a_fuzzed_twilio_case_is_a_form_signed_over_the_url_twilio_calls() -> None:
    # no stack: the cases the fuzz sends to /webhooks/twilio reach the form parser and, signed, pass
    # the signature check the function makes, or fail it with a wrong token
    from wa_conversions.capture import twilio_ingest

    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/webhooks/twilio"
    form = tw.inbound("14155238886", "SM" + "a" * 32, Body="\udcff caf\u00e9 +1")
    body = form_body(form)
    first = lambda options: options[0]  # noqa: E731

    signed, query = authorise("/webhooks/twilio", "POST", body, {}, {"x": "1"}, "valid", first, url)
    wrong, _ = authorise("/webhooks/twilio", "POST", body, {}, {}, "wrong", first, url)
    unsigned, kept = authorise("/webhooks/twilio", "POST", body, {}, {"x": "1"}, "none", first, url)

    params = twilio_ingest.read_form(body)
    assert dict(params)["MessageSid"] == form["MessageSid"]
    assert signed["Content-Type"] == "application/x-www-form-urlencoded" and query == {}
    twilio_ingest.check_signature(url, params, signed["X-Twilio-Signature"], ENV["TWILIO_AUTH_TOKEN"])
    with pytest.raises(ForbiddenError):
        twilio_ingest.check_signature(url, params, wrong["X-Twilio-Signature"], ENV["TWILIO_AUTH_TOKEN"])
    assert "X-Twilio-Signature" not in unsigned and kept == {"x": "1"}
