"""docs/cost.md cannot drift from what `make bench` measured, nor from the template's capacity."""

from __future__ import annotations

import math
from pathlib import Path

from bench import aws_calls, cost

ROOT = Path(__file__).resolve().parents[2]


def test_the_cost_page_is_what_its_figures_and_the_template_render_to() -> None:
    page = (ROOT / "docs" / "cost.md").read_text(encoding="utf-8")

    # a hand edit, or a template default changed since the last `make bench`, shows up here
    assert cost.render(cost.figures_of(page)) == page, (
        "docs/cost.md is stale: `make bench`, or `python -m bench.cost` to re-render its own figures"
    )


def test_write_units_follow_dynamodbs_sizes() -> None:
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
    key = {"pk": {"S": "CONTACT#1"}, "sk": {"S": "PROFILE"}}
    assert aws_calls.item_size(key) == len("pk") + 9 + len("sk") + 7
    assert aws_calls.item_size({"n": {"N": "-12345.600"}}) == 1 + 1 + math.ceil(6 / 2)
    assert aws_calls.item_size({"m": {"M": {"a": {"BOOL": True}}}}) == 1 + 3 + 1 + 1 + 1
    filler = 1024 - aws_calls.item_size({**key, "body": {"S": ""}})
    exactly_one_kb = {**key, "body": {"S": "x" * filler}}
    assert aws_calls.item_size(exactly_one_kb) == 1024
    assert aws_calls._units(aws_calls.item_size(exactly_one_kb)) == 1
    one_byte_more = {**key, "body": {"S": "x" * (filler + 1)}}
    assert aws_calls._units(aws_calls.item_size(one_byte_more)) == 2


def test_a_unit_of_several_updates_is_priced_per_update_in_the_stream() -> None:
    one = {"calls": {"sqs:SendMessageBatch": 1}, "invocations": {"WhatsAppWebhookFunction": 1}}
    unit = {**one, "invoked_ms": 100.0, "events": 1, "write_units": 10, "read_units": 1.0, "requests": 1}
    works = {name: {**unit, "updates": 1} for name in cost.MIX}
    tripled = {**unit, "calls": {"sqs:SendMessageBatch": 3}, "invocations": {"WhatsAppWebhookFunction": 3}}
    tripled |= {"invoked_ms": 300.0, "events": 3, "write_units": 30, "read_units": 3.0, "requests": 3}
    status = aws_calls.STATUS
    assert status in cost.MIX and status in cost.MIX_LABELS
    alone = cost.mix_cost(works, 0.25)
    # the same work, measured as one unit of three updates, costs the same per million updates
    assert cost.mix_cost({**works, status: {**tripled, "updates": 3}}, 0.25) == alone


def test_orders_that_arrive_together_are_shown_per_order_beside_one_alone() -> None:
    meta = "MetaCapiForwarderFunction"

    def order(count: int, meta_invocations: int, meta_requests: int) -> dict[str, object]:
        return {
            "updates": count,
            "requests": 2 * count,
            "aws_calls": 40 * count,
            "write_units": 120 * count,
            "read_units": 0.0,
            "events": 2 * count,
            "invoked_ms": 1000.0 * count,
            "calls": {},
            "invocations": {"ShopifyWebhookFunction": 2 * count, meta: meta_invocations},
            "calls_by_function": {meta: 6 * count},
            "sent": {"meta": meta_requests, "wax": count},
        }

    lines = cost._meta_batch(order(20, 1, 1), order(1, 2, 2), 0.25)
    table = {
        line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in lines if line.startswith("| ")
    }

    assert table["Meta forwarder invocations"] == ["2.00", "0.05 |"]
    assert table["Conversions API requests"] == ["2.00", "0.05 |"]
    assert table["write units"] == ["120.0", "120.0 |"]
    # fewer Lambda invocations (a batch's is shared) make an order in a batch cheaper
    alone, together = (float(cell.strip("$ |").replace(",", "")) for cell in table["cost per 100,000 orders"])
    assert together < alone
