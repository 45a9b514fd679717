"""The report's ads and campaigns, as a browser shows them (headless Chromium): names, spend, revenue,
ROAS, CPA and cost per conversation, sortable; the spend vs revenue chart; the same table in ads.csv;
and --tz asked of GET /metrics."""

from __future__ import annotations

import csv
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import respx

from tests.support import chromium
from tools.report import main, write_report
from wa_conversions.analytics.metrics import MetricsQuery, compute
from wa_conversions.models.ad_day import AdDay

QUERY = MetricsQuery(start=date(2026, 6, 18), end=date(2026, 6, 19))


def spend(ad_id: str, name: str, campaign: str, amount: str, day: str = "2026-06-18") -> AdDay:
    return AdDay.model_validate(
        {
            "account_id": "1234567890",
            "date_start": day,
            "ad_id": ad_id,
            "ad_name": name,
            "adset_name": "Lookalike",
            "campaign_name": campaign,
            "spend": amount,
            "impressions": "5000",
            "clicks": "80",
            "account_currency": "USD",
        }
    )


def metrics() -> dict[str, Any]:
    counters = {
        "2026-06-18": {
            "ad#A1#clicks": 6,
            "ad#A1#conversations": 5,
            "ad#A1#orders": 2,
            "ad#A1#revenue": 300.0,
            "ad#A1#revenue:USD": 300.0,
            "ad#B2#clicks": 3,
            "ad#B2#conversations": 2,
            "ad#B2#orders": 1,
            "ad#B2#revenue": 45.0,
            "ad#B2#revenue:USD": 45.0,
            "orders": 3,
            "revenue": 345.0,
        }
    }
    rows = [
        spend("A1", "Summer carousel", "Summer sale", "60.00"),
        spend("B2", "Retargeting video", "Retargeting", "90.00"),
        spend("C3", "Untracked story", "Summer sale", "15.00", "2026-06-19"),
    ]
    found: dict[str, Any] = compute(QUERY, counters, rows).model_dump(by_alias=True)
    return found


class Tables(HTMLParser):
    """Each table's rows of cell texts, and the spend vs revenue chart's bars."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.bars: list[dict[str, str | None]] = []
        self._table: str | None = None
        self._figure: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "figure":
            self._figure = found.get("id")
        elif tag == "table" and found.get("id"):
            self._table = found["id"]
            self.tables[self._table or ""] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "rect" and self._figure == "chart-spend-revenue":
            self.bars.append(found)

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None


def rendered(page: Path, fragment: str = "") -> Tables:
    parsed = Tables()
    parsed.feed(chromium.dump_dom(page, fragment))
    return parsed


def test_the_page_shows_each_ad_and_campaign_with_names_spend_and_roas(tmp_path: Path) -> None:
    page = write_report(metrics(), tmp_path / "index.html")

    shown = rendered(page)

    header, *ads = shown.tables["table-ads"]
    assert header[:3] == ["Ad", "Campaign", "Ad set"]
    assert header[3:8] == ["Spend", "Revenue", "ROAS", "CPA", "Cost / conv."]
    by_name = {row[0]: row for row in ads}
    # A1: 300 / 60 = 5.00 ROAS, 60 / 2 orders = 30 CPA, 60 / 5 conversations = 12 per conversation
    assert by_name["Summer carousel"][1:8] == [
        "Summer sale",
        "Lookalike",
        "USD 60.00",
        "USD 300.00",
        "5.00",
        "USD 30.00",
        "USD 12.00",
    ]
    # B2: 45 / 90 = 0.50 ROAS; C3 spent with no captured click: listed, with no CPA
    assert by_name["Retargeting video"][3:6] == ["USD 90.00", "USD 45.00", "0.50"]
    assert by_name["Untracked story"][3:7] == ["USD 15.00", "USD 0.00", "0.00", "-"]
    campaigns = {row[0]: row for row in shown.tables["table-campaigns"][1:]}
    # Summer sale: A1 + C3 = 75 spend, 300 revenue: ROAS 4.00, CPA 75 / 2 = 37.50
    assert campaigns["Summer sale"][1:6] == ["A1 C3", "USD 75.00", "USD 300.00", "4.00", "USD 37.50"]
    bars = {(b["data-label"], b["data-series"]): float(b["data-value"] or 0) for b in shown.bars}
    assert bars[("Summer carousel", "spend")] == 60.0 and bars[("Summer carousel", "revenue")] == 300.0
    assert bars[("Retargeting video", "spend")] == 90.0


def test_the_ads_table_sorts_by_a_column_in_the_browser(tmp_path: Path) -> None:
    page = write_report(metrics(), tmp_path / "index.html")

    by_roas = [row[0] for row in rendered(page, "#sort=roas-desc").tables["table-ads"][1:]]
    by_spend = [row[0] for row in rendered(page, "#sort=spend-asc").tables["table-ads"][1:]]

    assert by_roas == ["Summer carousel", "Retargeting video", "Untracked story"]
    assert by_spend == ["Untracked story", "Summer carousel", "Retargeting video"]


def test_the_same_table_is_written_as_csv(tmp_path: Path) -> None:
    write_report(metrics(), tmp_path / "index.html")

    rows = list(csv.DictReader((tmp_path / "ads.csv").read_text().splitlines()))

    ad = next(r for r in rows if r["level"] == "ad" and r["ad_id"] == "A1")
    assert (ad["ad_name"], ad["campaign_name"], ad["spend"], ad["revenue"]) == (
        "Summer carousel",
        "Summer sale",
        "60.0",
        "300.0",
    )
    assert (ad["roas"], ad["cpa"], ad["cost_per_conversation"], ad["currency"]) == (
        "5.0",
        "30.0",
        "12.0",
        "USD",
    )
    campaign = next(r for r in rows if r["level"] == "campaign" and r["campaign_name"] == "Retargeting")
    assert (campaign["spend"], campaign["roas"]) == ("90.0", "0.5")


@respx.mock
def test_tz_is_asked_of_get_metrics(tmp_path: Path) -> None:
    route = respx.get("http://api.test/metrics").mock(
        return_value=httpx.Response(200, json={**metrics(), "tz": "America/Mexico_City"})
    )

    assert (
        main(
            [
                "--api-url",
                "http://api.test",
                "--api-key",
                "k",
                "--tz",
                "America/Mexico_City",
                "--out",
                str(tmp_path / "index.html"),
            ]
        )
        == 0
    )

    assert route.calls.last.request.url.params["tz"] == "America/Mexico_City"
    assert "(America/Mexico_City days)" in (tmp_path / "index.html").read_text()
    assert route.calls.last.request.headers["x-api-key"] == "k"


def test_a_name_that_a_spreadsheet_would_run_as_a_formula_stays_text_in_the_csv(tmp_path: Path) -> None:
    rows = [spend("A1", '=HYPERLINK("http://x.test","win")', "+Summer", "60.00")]
    found = compute(QUERY, {"2026-06-18": {"ad#A1#clicks": 1}}, rows).model_dump(by_alias=True)
    write_report(found, tmp_path / "index.html")

    written = list(csv.DictReader((tmp_path / "ads.csv").read_text().splitlines()))

    ad = next(r for r in written if r["level"] == "ad")
    assert ad["ad_name"] == '\'=HYPERLINK("http://x.test","win")'
    assert ad["campaign_name"] == "'+Summer"
    assert next(r for r in written if r["level"] == "campaign")["campaign_name"] == "'+Summer"


def test_the_headline_spend_is_per_currency(tmp_path: Path) -> None:
    euro = AdDay.model_validate(
        {**spend("E1", "Euro ad", "Euro", "10.00").model_dump(by_alias=True), "account_id": "2"}
        | {"account_currency": "EUR"}
    )
    found = compute(QUERY, {}, [spend("A1", "Dollar ad", "Dollar", "60.00"), euro]).model_dump(by_alias=True)

    page = write_report(found, tmp_path / "index.html").read_text()

    assert "<span>Ad spend</span><b>EUR 10.00 · USD 60.00</b>" in page
