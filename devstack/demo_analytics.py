"""`make demo`, analytics step: GET /metrics over the days the demo's events fell on, print the
headline numbers and write the report to report/index.html."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from devstack.stack import LocalStack
from wa_conversions.analytics.metrics import MAX_RANGE_DAYS
from wa_conversions.analytics.report import write_report

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "report" / "index.html"


def _days_with_data(stack: LocalStack) -> list[str]:
    """The days the aggregator counted something on (the demo's payloads carry their own dates)."""
    table = stack.physical_id("Table")
    days: set[str] = set()
    paginator = stack.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(
        TableName=table,
        FilterExpression="begins_with(sk, :day)",
        ExpressionAttributeValues={":day": {"S": "DAY#"}},
        ProjectionExpression="#d",
        ExpressionAttributeNames={"#d": "day"},
    ):
        days.update(item["day"]["S"] for item in page["Items"])
    return sorted(days)


def _print(metrics: dict[str, Any]) -> None:
    rt = metrics["response_time_seconds"]
    funnel = metrics["funnel"]

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    print(f"  Range {metrics['from']} .. {metrics['to']}")
    print(f"  Response time   median {rt['median']} s, p90 {rt['p90']} s over {rt['count']} replies")
    print(f"  New contacts    {sum(metrics['new_contacts'].values())}")
    print(
        f"  Funnel          sent {funnel['sent']} → delivered {funnel['delivered']} → read {funnel['read']}"
        f" → replied {funnel['replied']}"
    )
    print(
        f"  Rates           delivery {rate(metrics['delivery_rate'])}, read {rate(metrics['read_rate'])},"
        f" reply {rate(metrics['reply_rate'])}"
    )
    print(f"  By country      {metrics['by_country'] or '-'}")
    for source_id, ad in metrics["ads"].items():
        print(
            f"  Ad {source_id}: {ad['clicks']} clicks, {ad['conversations']} conversations,"
            f" {ad['orders']} orders, revenue {ad['revenue']:.2f}"
        )


def run(stack: LocalStack, api: httpx.Client, env: dict[str, str]) -> None:
    stack.wait_until_idle()
    days = _days_with_data(stack)
    params = {"granularity": "day"}
    if days:
        last = date.fromisoformat(days[-1])
        # GET /metrics answers at most MAX_RANGE_DAYS days: the latest ones with data.
        first = max(date.fromisoformat(days[0]), last - timedelta(days=MAX_RANGE_DAYS - 1))
        params |= {"from": first.isoformat(), "to": last.isoformat()}
    response = api.get("/metrics", params=params, headers={"X-Api-Key": env["API_KEY"]})
    response.raise_for_status()
    metrics = response.json()
    _print(metrics)
    written = write_report(metrics, REPORT)
    print(f"  Report written to {written.relative_to(ROOT)}")
