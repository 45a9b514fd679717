"""Ad spend end to end on the local stack: WhatsApp ad clicks and Shopify orders over HTTP, Meta's
insights from the stand-in read by AdInsightsFunction through the stack's Lambda Invoke endpoint (as
`make insights` runs it), then GET /metrics and the report: ROAS and CPA as a hand calculation gives.

The scenario lives on 2024-04-10/11, days no other test uses."""

from __future__ import annotations

import argparse
import random
import uuid
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from devstack import insights
from devstack.sample_events import read_env
from devstack.shopify_samples import shopify_headers
from devstack.stack import DevStack
from tests.support import attribution as sc
from tests.support import chromium
from tools.report import write_report
from wa_conversions.signatures import meta_signature

pytestmark = pytest.mark.e2e
ENV = read_env()
D1, D2 = "2024-04-10", "2024-04-11"
CLICK_AT = int(datetime(2024, 4, 10, 9, 0, tzinfo=UTC).timestamp())
ORDER_VALUE = 409.94  # the Shopify fixture order's total_price, USD
ACCOUNT = ENV["META_AD_ACCOUNT_IDS"].removeprefix("act_")


def click(api: httpx.Client, ad_id: str) -> str:
    """A new contact clicks the ad; returns the phone as a US buyer types it at checkout."""
    line, exchange = random.randint(1000, 9999), random.randint(200, 999)
    wa_id = f"1415{exchange}{line}"
    body = sc.referral_webhook(
        wa_id, CLICK_AT, f"CLID-{uuid.uuid4().hex[:8]}", f"wamid.{uuid.uuid4().hex}", source_id=ad_id
    )
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta_signature(body, ENV["WHATSAPP_APP_SECRET"]),
    }
    assert api.post("/webhooks/whatsapp", content=body, headers=headers).status_code == 200
    return f"(415) {exchange}-{line}"


def buy(api: httpx.Client, phone: str) -> None:
    payload = sc.order(order_id=random.randint(10**11, 10**12), created_at=CLICK_AT + 3600, phone=phone)
    body = sc.encode(payload)
    headers = shopify_headers(
        body, ENV["SHOPIFY_WEBHOOK_SECRET"], shop=ENV["SHOPIFY_SHOP_DOMAIN"], topic="orders/create"
    )
    assert api.post("/webhooks/shopify", content=body, headers=headers).status_code == 200


def insight(day: str, ad_id: str, name: str, spend: str) -> dict[str, str]:
    return {
        "date_start": day,
        "date_stop": day,
        "ad_id": ad_id,
        "ad_name": name,
        "adset_name": "E2E ad set",
        "campaign_name": "E2E campaign",
        "spend": spend,
        "impressions": "2500",
        "clicks": "60",
        "account_currency": "USD",
    }


def test_two_ads_with_spend_clicks_and_orders_give_the_hand_calculated_roas_and_cpa(
    api: httpx.Client, stack: DevStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = f"e2e-spend-{uuid.uuid4().hex[:6]}", f"e2e-spend-{uuid.uuid4().hex[:6]}"
    buyers = [click(api, first), click(api, first), click(api, second)]
    stack.wait_until_idle()
    for phone in buyers:
        buy(api, phone)
    stack.standins.set_insights(
        {
            "accounts": {
                ACCOUNT: [
                    insight(D1, first, "Spring carousel", "60.00"),
                    insight(D2, first, "Spring carousel", "40.00"),
                    insight(D1, second, "Spring video", "25.00"),
                ]
            },
            "page_size": 2,
            "throttle": 1,
        }
    )

    assert insights.run(argparse.Namespace(since=D1, until=D2, api_url=stack.api_url)) == 0
    assert f'"{ACCOUNT}"' in capsys.readouterr().out
    stack.wait_until_idle()

    response = api.get("/metrics", params={"from": D1, "to": D2}, headers={"X-Api-Key": ENV["API_KEY"]})
    assert response.status_code == 200, response.text
    metrics = response.json()
    one, two = metrics["ads"][first], metrics["ads"][second]
    assert (one["clicks"], one["conversations"], one["orders"], one["spend"]) == (2, 2, 2, 100.0)
    assert (two["clicks"], two["conversations"], two["orders"], two["spend"]) == (1, 1, 1, 25.0)
    assert one["roas"] == round(2 * ORDER_VALUE / 100, 4) and one["cpa"] == 50.0  # 819.88 / 100; 100 / 2
    assert two["roas"] == round(ORDER_VALUE / 25, 4) and two["cpa"] == 25.0  # 409.94 / 25; 25 / 1
    assert one["cost_per_conversation"] == 50.0 and two["cost_per_conversation"] == 25.0

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self._in: bool = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "tr":
                self.rows.append([])
            self._in = tag in ("td", "th")

        def handle_data(self, data: str) -> None:
            if self._in and self.rows:
                self.rows[-1].append(data.strip())

    page = write_report(metrics, tmp_path / "index.html")
    cells = Cells()
    cells.feed(chromium.dump_dom(page))
    shown = {row[0]: row for row in cells.rows if row}
    assert shown["Spring carousel"][3:6] == [
        "USD 100.00",
        f"USD {2 * ORDER_VALUE:,.2f}",
        f"{2 * ORDER_VALUE / 100:.2f}",
    ]
    assert shown["Spring video"][3:6] == ["USD 25.00", f"USD {ORDER_VALUE:,.2f}", f"{ORDER_VALUE / 25:.2f}"]
