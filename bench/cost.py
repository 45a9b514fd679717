"""docs/cost.md, rendered from the figures `make bench` measured and the template's capacity defaults.

The figures ride along in the page (a JSON comment at its end), so tests/unit/test_cost_doc.py can
render them again and find any hand edit, or a template default that changed since the last run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .aws_calls import META_BATCH, ORDER
from .payloads import ROOT

# On-demand, us-east-1 (https://aws.amazon.com/api-gateway/pricing/, /lambda/pricing/, /sqs/pricing/,
# /eventbridge/pricing/, /dynamodb/pricing/on-demand/), in dollars per unit.
PRICE = {
    "api_rest_request": 3.50e-6,
    "api_http_request": 1.00e-6,
    "lambda_request": 0.20e-6,
    "lambda_gb_s": 0.0000133334,  # arm64
    "sqs_request": 0.40e-6,
    "event": 1.00e-6,
    "write_unit": 0.625e-6,
    "read_unit": 0.125e-6,
}
# The stream the cost model prices: one update per webhook.
MIX = {
    "1 update: a new contact's ad-click message": 0.05,
    "1 update: a known contact's message": 0.15,
    "3 updates, a webhook each: a reply's sent, delivered and read statuses": 0.80,
}
MIX_LABELS = {
    "1 update: a new contact's ad-click message": "a new contact's ad-click message",
    "1 update: a known contact's message": "a known contact's message",
    "3 updates, a webhook each: a reply's sent, delivered and read statuses": "statuses (a third each sent,"
    " delivered and read, measured as one reply's three)",
}
# The naive design it is compared with: per update, one REST request, one 256 MB invocation of 100 ms
# and five AWS calls, each priced as a one-unit DynamoDB write.
NAIVE = {"requests": 1, "invocations": 1, "gb_s": 0.25 * 0.1, "write_units": 5}
# The functions API Gateway invokes: no queue receive or delete for theirs.
ACKNOWLEDGING = ("WhatsAppWebhookFunction", "ShopifyWebhookFunction")
ORDER_DESTINATIONS = 4
MARKER = "<!-- figures: "


def _template_defaults() -> dict[str, Any]:
    from devstack.cfn import load_template

    template = load_template(ROOT / "template.yaml")
    parameters = template["Parameters"]
    queue = template["Resources"]["WhatsAppIngestQueue"]["Properties"]
    return {
        "rate": int(parameters["WebhookRateLimit"]["Default"]),
        "burst": int(parameters["WebhookBurstLimit"]["Default"]),
        "reserved": int(parameters["WebhookReservedConcurrency"]["Default"]),
        "processors": int(parameters["ProcessorMaxConcurrency"]["Default"]),
        "consumers": int(parameters["QueueMaxConcurrency"]["Default"]),
        "retention_days": int(queue["MessageRetentionPeriod"]) // 86400,
        "memory_gb": int(template["Globals"]["Function"]["MemorySize"]) / 1024,
    }


def unit_cost(work: dict[str, Any], memory_gb: float) -> dict[str, float]:
    """Dollars per unit of work, by service. Each queue consumer's invocation adds the event-source
    mapping's receive and delete; the bus's deliveries to its queues are not counted (a lower bound)."""
    invocations = sum(work["invocations"].values())
    consumed = invocations - sum(work["invocations"].get(name, 0) for name in ACKNOWLEDGING)
    sqs = sum(count for call, count in work["calls"].items() if call.startswith("sqs:")) + 2 * consumed
    return {
        # each webhook of the unit is one request on the webhooks' HTTP API (the operator API is REST)
        "API Gateway": work.get("requests", 1) * PRICE["api_http_request"],
        "Lambda": invocations * PRICE["lambda_request"]
        + work["invoked_ms"] / 1000 * memory_gb * PRICE["lambda_gb_s"],
        "SQS": sqs * PRICE["sqs_request"],
        "EventBridge": work["events"] * PRICE["event"],
        "DynamoDB": work["write_units"] * PRICE["write_unit"] + work["read_units"] * PRICE["read_unit"],
    }


def mix_cost(works: dict[str, dict[str, Any]], memory_gb: float) -> dict[str, float]:
    """Dollars per million updates of MIX's stream, by service (a unit of several updates, per update)."""
    total: dict[str, float] = {}
    for name, share in MIX.items():
        for service, dollars in unit_cost(works[name], memory_gb).items():
            per_update = dollars / works[name]["updates"]
            total[service] = total.get(service, 0.0) + share * per_update * 1_000_000
    return total


def naive_cost() -> float:
    return (
        NAIVE["requests"] * PRICE["api_rest_request"]
        + NAIVE["invocations"] * PRICE["lambda_request"]
        + NAIVE["gb_s"] * PRICE["lambda_gb_s"]
        + NAIVE["write_units"] * PRICE["write_unit"]
    )


def naive_order_cost(webhooks: int, destinations: int = ORDER_DESTINATIONS) -> float:
    """The naive design for an order: each webhook as a naive update, and per destination one more
    invocation of 100 ms and one one-unit write (its record)."""
    per_destination = NAIVE["invocations"] * PRICE["lambda_request"] + NAIVE["gb_s"] * PRICE["lambda_gb_s"]
    return webhooks * naive_cost() + destinations * (per_destination + PRICE["write_unit"])


def _money(dollars: float) -> str:
    return f"${dollars:,.2f}"


def _history(history: dict[str, Any] | None) -> list[str]:
    """The analytics aggregator's cost per event over a contact's first events (aws_calls.contact_history)."""
    if not history:
        return []
    lines = [
        "",
        f"### Over a contact's first {history['events']} events",
        "",
        "The analytics count alone (the aggregator's code, which the WhatsApp processor runs for its own"
        " updates' events, [analytics](analytics.md#how-it-works)), per event, over one contact's"
        " history (its message, then the"
        " reply sent, delivered and read, 30 s apart, again and again), against moto: the write units"
        " stay flat because an event writes only its own fact's item, the contact's small head and the"
        " hour's counters ([analytics](analytics.md#storage)). Read units are the strongly"
        " consistent Query of the contact's facts, by the bytes it returned: they grow with the facts"
        " kept (30 days, at most 600).",
        "",
        "| events | write units | read units | AWS calls |",
        "|---|---|---|---|",
    ]
    for span, figures in history["per_event"].items():
        lines.append(
            f"| {span} | {figures['write_units']:g} | {figures['read_units']:g} | {figures['aws_calls']:g} |"
        )
    day = history.get("busy_day")
    if day:
        lines += [
            "",
            "### Over a busy day",
            "",
            f"The same, over a day of {day['contacts']} contacts spread across its hours (a third from one"
            " of 8 ads, each answered by one of 12 agents, the reply delivered and read), its first and"
            " last events: flat, because each UTC hour's counters have their own item, and an update is"
            " charged for the whole item it leaves. Measured on like traffic of 600 contacts before"
            " hours had items of their own, one item per day grew past 10 KB by the day's end, and an"
            " event's write units from 7.6 to 26.9, growing further with more contacts, ads and agents.",
            "",
            "| events | write units | AWS calls |",
            "|---|---|---|",
        ]
        for span, figures in day["per_event"].items():
            lines.append(f"| {span} | {figures['write_units']:g} | {figures['aws_calls']:g} |")
    return lines


def _orders(work: dict[str, Any] | None, memory_gb: float) -> list[str]:
    """A hundred thousand orders like the bench's, priced as the stream is."""
    if work is None:
        return []
    lines = [
        "## A hundred thousand orders",
        "",
        f"Each as the bench's: {work['name'].removeprefix('an order: ')} (Shopify's orders/create and"
        f" orders/paid, {work['requests']} webhooks), at the same prices.",
        "",
        "| service | per 100,000 orders |",
        "|---|---|",
    ]
    total = {service: dollars * 100_000 for service, dollars in unit_cost(work, memory_gb).items()}
    for service, dollars in total.items():
        lines.append(f"| {service} | {_money(dollars)} |")
    product = sum(total.values())
    naive = naive_order_cost(work["requests"]) * 100_000
    lines += [
        f"| **total** | **{_money(product)}** |",
        "",
        f"The naive design (each webhook as a naive update, and per destination one invocation of"
        f" 100 ms and a one-unit write) costs {_money(naive)} per 100,000 orders: the product is"
        f" **{product / naive:.2f}x** that.",
        "",
    ]
    return lines


def _meta_batch(batch: dict[str, Any] | None, single: dict[str, Any] | None, memory_gb: float) -> list[str]:
    """Orders arriving together, as a busy hour brings them: the Meta forwarder's batching window
    gathers their conversions, so its invocations and Conversions API requests are shared."""
    if batch is None or single is None:
        return ["Not measured: orders arriving together, whose conversions go to Meta in one batch.", ""]
    orders = batch["updates"]
    meta = "MetaCapiForwarderFunction"

    def per_order(work: dict[str, Any], count: int) -> list[str]:
        dollars = sum(unit_cost(work, memory_gb).values()) / count * 100_000
        return [
            f"{work['aws_calls'] / count:.1f}",
            f"{work['write_units'] / count:.1f}",
            f"{work['invocations'].get(meta, 0) / count:.2f}",
            f"{work.get('sent', {}).get('meta', 0) / count:.2f}",
            f"{work['calls_by_function'].get(meta, 0) / count:.1f}",
            _money(dollars),
        ]

    rows = zip(per_order(single, 1), per_order(batch, orders), strict=True)
    names = (
        "AWS calls",
        "write units",
        "Meta forwarder invocations",
        "Conversions API requests",
        "the Meta forwarder's AWS calls",
        "cost per 100,000 orders",
    )
    lines = [
        "### Orders that arrive together",
        "",
        f"{orders} such orders posted at once: the Meta forwarder's queue hands it up to 1,000 records"
        " gathered over 20 s (`BatchSize`, `MaximumBatchingWindowInSeconds`; the local stack batches as"
        " Lambda does), and their conversions go to Meta in as few requests as their datasets allow"
        " ([forwarding](forwarding.md)). Per order:",
        "",
        f"| | alone | {orders} at once |",
        "|---|---|---|",
        *(f"| {name} | {alone} | {together} |" for name, (alone, together) in zip(names, rows, strict=True)),
        "",
        "What a batch shares is the forwarder's invocation and its request to Meta; every conversion still"
        " has its own delivery record, claimed before the send and settled after it (the at-most-once"
        " guarantee, [idempotency](idempotency.md#delivery-log)), and the other destinations' queues"
        " take 10 a batch.",
        "",
    ]
    return lines


def render(figures: dict[str, Any]) -> str:
    """The page, from the last JSON line of `make bench` (its `work` and cold-import figures)."""
    defaults = _template_defaults()
    works = {work["name"]: work for work in figures["work"] if not work.get("collector")}
    collector = {work["name"]: work for work in figures["work"] if work.get("collector")}
    lines = [
        "# Cost and capacity",
        "",
        "Generated by `make bench` (`bench/cost.py`) from what it measured: do not edit by hand.",
        f"Measured {figures['measured']} on {figures['machine']}, under load from other work on the"
        " machine: the timings (Lambda's share below) run high; the counts do not depend on load.",
        "",
        "## Per unit of work",
        "",
        "AWS calls the functions made through the local stack (moto's recorder, the functions' own"
        " requests only), DynamoDB write units by DynamoDB's rules from the items written",
        '([bench/README.md](../bench/README.md#aws-calls-and-write-units)). "Before the 200" are the'
        " webhook function's calls: Meta waits for them."
        + (
            " The stack runs as a default deployment for this stream: the collector destination,"
            " which forwards every lifecycle event, off (its template default); the rows marked"
            " *+ collector* are the same webhooks with it on."
            if collector
            else ""
        ),
        "",
        "| webhook | updates | before the 200 | AWS calls | write units | read units | bus events"
        " | invocations |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for work in figures["work"]:
        label = work["name"] + (" *+ collector*" if work.get("collector") else "")
        lines.append(
            f"| {label} | {work['updates']} | {work['ack_path_calls']} | {work['aws_calls']}"
            f" | {work['write_units']} | {work['read_units']:g} | {work['events']}"
            f" | {sum(work['invocations'].values())} |"
        )
    lines += ["", "Calls by action:", ""]
    for work in figures["work"]:
        calls = ", ".join(f"{call} {count}" for call, count in work["calls"].items())
        lines.append(f"- {work['name']}{' *+ collector*' if work.get('collector') else ''}: {calls}")

    lines += _history(figures.get("history"))
    lines += [
        "",
        "## A million updates",
        "",
        "A mixed stream, one update per webhook: "
        + ", ".join(f"{share:.0%} {MIX_LABELS[name]}" for name, share in MIX.items())
        + ". On-demand prices, us-east-1: API Gateway HTTP $1.00/M requests (the webhooks' API; the"
        " operator API's REST, $3.50/M, is not in this stream; an HTTP API meters a request in 512 KB"
        " steps, so a 3 MB webhook bills as 6, and the flat $1.00/M holds for this stream of one-update"
        " webhooks), Lambda arm64"
        " $0.0000133334/GB-s + $0.20/M, SQS $0.40/M, EventBridge $1.00/M events, DynamoDB $0.625/M write"
        " units and $0.125/M read units. Lambda's GB-s are the local stack's handler time at the"
        f" template's {defaults['memory_gb'] * 1024:.0f} MB, moto's answers included (AWS answers faster).",
        "",
        "| service | per million updates |",
        "|---|---|",
    ]
    total = mix_cost(works, defaults["memory_gb"])
    for service, dollars in total.items():
        lines.append(f"| {service} | {_money(dollars)} |")
    product, naive = sum(total.values()), naive_cost() * 1_000_000
    lines += [
        f"| **total** | **{_money(product)}** |",
        "",
        f"The naive design (per update one REST request, one {NAIVE['gb_s'] / 0.1 * 1024:.0f} MB"
        f" invocation of 100 ms, five one-unit writes) costs {_money(naive)} per million updates:"
        f" the product is **{product / naive:.2f}x** that, against a target of at most 0.5x.",
        "",
    ]
    if all(name in collector for name in MIX):
        with_collector = sum(mix_cost(collector, defaults["memory_gb"]).values())
        lines += [
            f"With the collector destination on, the same stream costs {_money(with_collector)} per"
            f" million updates ({with_collector / naive:.2f}x naive): each lifecycle event is one more"
            " delivery, recorded before and after its send"
            " ([collector](forwarding.md#collector-segment-compatible)).",
            "",
        ]
    lines += []
    lines += _orders(works.get(ORDER), defaults["memory_gb"])
    lines += _meta_batch(works.get(META_BATCH), works.get(ORDER), defaults["memory_gb"])
    lines += [
        "## The webhooks' API type",
        "",
        "The webhook routes (`GET`/`POST /webhooks/whatsapp`, `POST /webhooks/cm`, `/twilio`, `/shopify`)"
        " are on an HTTP API (`WebhookApi`, payload format 2.0): $1.00 per million requests against a"
        " REST API's $3.50, and less latency added"
        " ([choosing](https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-vs-rest.html)).",
        "What they need is all there: a Lambda proxy integration handing over the raw body (signatures"
        " are checked on its bytes; a form post such as Twilio's comes base64, and is decoded), the"
        " headers (names lower-cased, a repeated header's values joined by commas) and the query"
        " string (`rawQueryString` as sent, which Twilio's signature covers; `queryStringParameters`"
        " decoded), per-route throttles (`RouteSettings`, from `WebhookRateLimit` and"
        " `WebhookBurstLimit`), access logs without personal data, and a stage (`v1`) in the public URL"
        " Twilio signs. What an HTTP API lacks (AWS WAF, usage plans and API keys, request validation,"
        " resource policies, edge-optimized endpoints) no webhook route uses. The operator API"
        " (`X-Api-Key`, few requests) stays on the REST API.",
        "",
        "The webhook routes are kept on the REST API too, with their throttles (the stack's `Legacy*`"
        " outputs): a deployment from before `WebhookApi` keeps receiving from providers still pointed"
        " there, which pay REST's price until re-pointed; an unused route costs nothing"
        " ([pricing](https://aws.amazon.com/api-gateway/pricing/)).",
        "",
        "## Burst",
        "",
        f"Each webhook route (`POST /webhooks/whatsapp`, `/cm`, `/twilio`, `/shopify`) takes"
        f" **{defaults['rate']} requests/s, {defaults['burst']} at once**: the rate is Meta's sizing for"
        " one number at Cloud API's default 80 messages/s, 3 x outbound + inbound (3 x 80 + 80)"
        " ([webhooks](https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks),"
        " [throughput](https://developers.facebook.com/docs/whatsapp/throughput)); `WebhookRateLimit`"
        " and `WebhookBurstLimit` size it for more numbers. Each acknowledging function has"
        f" {defaults['reserved']} concurrent executions reserved (`WebhookReservedConcurrency`): as many"
        f" as a route admits at once, and enough for {defaults['rate']} requests/s at up to"
        f" {defaults['reserved'] / defaults['rate'] * 1000:.0f} ms per acknowledgement.",
        "",
        "So the largest burst a default deployment holds with nothing lost and nothing refused, its"
        f" functions warm, is **{defaults['burst']} webhooks at once, then {defaults['rate']}/s**."
        f" Everything acknowledged waits in SQS ({defaults['retention_days']} days' retention) for the"
        f" processors, at most {defaults['processors']} at once (`ProcessorMaxConcurrency`; every other"
        f" queue's consumer {defaults['consumers']}, `QueueMaxConcurrency`), so a backlog beyond what"
        " they keep up with is queued, not refused, and cannot take the account's concurrency from the"
        " webhooks. Above the route's rate or burst, or while cold environments start, API Gateway"
        " answers 429 (or 5xx): nothing is lost, since Meta redelivers an unacknowledged webhook, but"
        " it arrives later.",
        "",
        "## Cold starts",
        "",
        f"Import of each handler from `sam build`'s artifact ({figures['cold_import_layout']} layout),"
        " no `.pyc` but what the build ships, against `import boto3`:",
        "",
        "| handler | vs import boto3 |",
        "|---|---|",
    ]
    for function, ratio in sorted(figures["cold_import_vs_boto3"].items()):
        lines.append(f"| {function} | {'failed' if ratio is None else f'{ratio:.2f}x'} |")
    lines += [
        "",
        "Targets: the acknowledging handlers (`*_webhook`) within 1.2x, every other within 1.6x.",
        "",
    ]
    for function, ratio in sorted((figures.get("first_call_vs_import") or {}).items()):
        lines.append(
            f"`{function}`'s first request in a fresh interpreter (boto3's import and clients, the"
            f" secret's read, the queue send) takes **{ratio:.2f}x** its import; the target is 1.5x."
        )
    lines += ["", f"{MARKER}{json.dumps(figures, sort_keys=True)} -->", ""]
    return "\n".join(lines)


def figures_of(page: str) -> dict[str, Any]:
    """The figures a rendered page was made from."""
    start = page.rindex(MARKER) + len(MARKER)
    loaded: dict[str, Any] = json.loads(page[start : page.rindex(" -->")])
    return loaded


def write(path: Path, figures: dict[str, Any]) -> None:
    path.write_text(render(figures), encoding="utf-8")


if __name__ == "__main__":
    # `python -m bench.cost`: re-render docs/cost.md from the figures it holds (after a template change)
    page = ROOT / "docs" / "cost.md"
    write(page, figures_of(page.read_text(encoding="utf-8")))
