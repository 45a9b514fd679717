"""`make demo`, analytics step: GET /metrics over the days the demo's events fell on, print the
headline numbers and write the report to report/index.html."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from devstack.sample_events import whatsapp_post
from devstack.stack import DevStack
from tools.report import write_report
from wa_conversions.analytics.metrics import MAX_RANGE_DAYS
from wa_conversions.store import keys

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "report" / "index.html"
DEMO_CONTACT = "16505551234"  # the sample ad click's buyer, as the attribution step left it
DEMO_AD = "120226305854810726"  # the sample click's ad (events/payloads/, its referral.source_id)


def _days_with_data(stack: DevStack) -> list[str]:
    """The days the aggregator counted something on (the demo's payloads carry their own dates)."""
    table = stack.physical_id("Table")
    days: set[str] = set()
    paginator = stack.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(
        TableName=table,
        FilterExpression="begins_with(sk, :day)",
        ExpressionAttributeValues={":day": {"S": keys.day_sk("")}},
        ProjectionExpression="#d",
        ExpressionAttributeNames={"#d": "day"},
    ):
        # a UTC day ("2025-06-18"), or an hour item of before ("2025-06-18T05"): the first ten characters
        days.update(item["day"]["S"][:10] for item in page["Items"])
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
        spend = (
            ""
            if ad.get("spend") is None
            else f", spend {ad['spend']:.2f} {ad['currency']}, ROAS {ad['roas']}"
        )
        print(
            f"  Ad {ad.get('ad_name') or source_id}: {ad['clicks']} clicks,"
            f" {ad['conversations']} conversations,"
            f" {ad['orders']} orders, revenue {ad['revenue']:.2f}{spend}"
        )


def _read_spend(stack: DevStack, env: dict[str, str], days: list[str]) -> None:
    """Meta's insights for the demo's days, played by the stand-in (the sample ad, and one whose
    clicks were never captured), read as the daily schedule would (`make insights`)."""
    account = env.get("META_AD_ACCOUNT_IDS", "").split(",")[0].strip().removeprefix("act_")
    if not account or not days:
        return

    def row(day: str, ad_id: str, name: str, campaign: str, spend: str) -> dict[str, str]:
        return {
            "date_start": day,
            "ad_id": ad_id,
            "ad_name": name,
            "adset_name": "Lookalike 1% US",
            "campaign_name": campaign,
            "spend": spend,
            "impressions": "4210",
            "clicks": "57",
            "account_currency": "USD",
        }

    stack.standins.set_insights(
        {
            "accounts": {
                account: [
                    row(days[-1], DEMO_AD, "Summer sale carousel", "Summer sale", "82.40"),
                    row(days[-1], "120226305854810999", "Retargeting video", "Retargeting", "35.00"),
                ]
            }
        }
    )
    invocation = stack.invoke("AdInsightsFunction", {"since": days[-1], "until": days[-1]})
    print(
        "  AdInsightsFunction (make insights) read the ad spend  ->",
        "ok" if invocation.ok else invocation.error_summary,
    )


def _converse(stack: DevStack, api: httpx.Client, env: dict[str, str]) -> None:
    """An agent answers the demo's ad click through the CRM (POST /v1/capture) and the buyer replies
    on WhatsApp, so the response time, the funnel and the agent figures have something to show."""
    contact = api.get(f"/contacts/{DEMO_CONTACT}", headers={"X-Api-Key": env["API_KEY"]}).json()
    clicked = datetime.fromisoformat(contact["referrals"][0]["received_at"].replace("Z", "+00:00"))

    def track(event: str, seconds: int, **properties: Any) -> dict[str, Any]:
        when = (
            (clicked + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
        return {
            "type": "track",
            "event": event,
            "userId": f"+{DEMO_CONTACT}",
            "timestamp": when,
            "context": {"channel": "whatsapp", "library": {"name": "crm-demo", "version": "1.0.0"}},
            "properties": properties,
        }

    reply_id = "wamid.DEMO-agent-reply-1"
    batch = [
        track("chat.assigned", 60, chatId="demo-chat", agentId="agent_ana"),
        track(
            "message.sent",
            150,
            messageId=reply_id,
            chatId="demo-chat",
            agentId="agent_ana",
            contentType="text",
        ),
        track("message.delivered", 155, messageId=reply_id),
        track("message.read", 200, messageId=reply_id),
    ]
    answer = api.post("/v1/capture", json={"batch": batch}, headers={"X-Api-Key": env["API_KEY"]})
    print(f"  POST /v1/capture (agent_ana answers the ad click after 2.5 min)  -> {answer.status_code}")
    buyer_reply = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": DEMO_CONTACT}],
                            "messages": [
                                {
                                    "from": DEMO_CONTACT,
                                    "id": "wamid.DEMO-buyer-reply-1",
                                    "type": "text",
                                    "timestamp": str(int(clicked.timestamp()) + 400),
                                    "text": {"body": "Great, ordering now"},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    body = json.dumps(buyer_reply).encode("utf-8")
    event = whatsapp_post(body, env["WHATSAPP_APP_SECRET"])
    answer = api.post("/webhooks/whatsapp", content=body, headers=event["headers"])
    print(f"  POST /webhooks/whatsapp (the buyer replies)  -> {answer.status_code}")
    stack.wait_until_idle()


def run(stack: DevStack, api: httpx.Client, env: dict[str, str]) -> None:
    _converse(stack, api, env)
    stack.wait_until_idle()
    days = _days_with_data(stack)
    _read_spend(stack, env, days)
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
