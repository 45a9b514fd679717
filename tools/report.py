"""The analytics report: one self-contained HTML page (inline CSS and SVG, nothing fetched) with the
funnel, daily volume, the response-time distribution, revenue by ad, spend against revenue, and a
sortable table of the ads and campaigns (names, spend, revenue, ROAS, CPA, cost per conversation), also
written as CSV next to the page (ads.csv).

    python -m tools.report --api-url http://127.0.0.1:3000 --api-key KEY \\
        [--from 2025-06-01 --to 2025-06-30] [--tz America/Mexico_City] [--out report/index.html]
    python -m tools.report --metrics metrics.json [--out report/index.html]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

WIDTH = 640
BAR = 26
GAP = 10
LABEL = 150
NONE = "-"
COLORS = ("#25d366", "#128c7e", "#075e54", "#34b7f1")

STYLE = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
  margin:24px auto;max-width:1360px;color:#1f2d2b;background:#f7f9f8}
h1{font-size:22px;margin:0}
.muted{color:#6b7c79;fill:#6b7c79;font-size:12px}
.kpis{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.kpi{background:#fff;border-radius:8px;padding:10px 14px;min-width:120px;box-shadow:0 1px 2px #0001}
.kpi span{display:block;color:#6b7c79;font-size:12px}
.kpi b{font-size:20px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
figure{background:#fff;border-radius:8px;margin:0;padding:14px;box-shadow:0 1px 2px #0001}
figcaption{font-weight:600;margin-bottom:8px}
svg{width:100%;height:auto}
svg text{font-size:12px;fill:#1f2d2b}
.axis{stroke:#c9d3d1}
.legend{font-size:12px}
.key{margin-right:12px}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e9e8}
table.sortable th{cursor:pointer;user-select:none;white-space:nowrap}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.wide{grid-column:1/-1;overflow-x:auto}
"""
# Clicking a header sorts its table by that column (numbers by their data-value); inline, so the page
# stays one file that fetches nothing.
SORT_SCRIPT = """
function sortTable(table, th, up) {
  var column = Array.prototype.indexOf.call(th.parentNode.children, th);
  table.querySelectorAll("th").forEach(function (o) { o.removeAttribute("aria-sort"); });
  th.setAttribute("aria-sort", up ? "ascending" : "descending");
  var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
    var nx = parseFloat(x), ny = parseFloat(y), c;
    if (x === "" || y === "") return x === y ? 0 : (x === "" ? 1 : -1);  // no value: always last
    c = isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny;
    return up ? c : -c;
  });
  rows.forEach(function (r) { body.appendChild(r); });
}
// #sort=roas-desc (a column's key): a link that opens the page sorted
var wanted = /sort=([a-z_]+)-?(asc|desc)?/.exec(location.hash);
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th) {
    th.addEventListener("click", function () {
      sortTable(table, th, th.getAttribute("aria-sort") !== "ascending");
    });
    if (wanted && th.dataset.key === wanted[1]) sortTable(table, th, wanted[2] !== "desc");
  });
});
"""
# One row per ad, then per campaign: the CSV export (report/ads.csv) and the page's tables.
CSV_COLUMNS = (
    "level",
    "ad_id",
    "ad_name",
    "adset_name",
    "campaign_name",
    "currency",
    "spend",
    "impressions",
    "clicks",
    "conversations",
    "orders",
    "revenue",
    "revenue_other_currencies",
    "roas",
    "cpa",
    "cost_per_conversation",
)


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m".replace(".0m", "m")
    return f"{seconds / 3600:.1f}h".replace(".0h", "h")


def _percent(rate: float | None) -> str:
    return NONE if rate is None else f"{rate * 100:.1f}%"


def _empty(height: int = 60) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img"><text x="{WIDTH / 2}" y="{height / 2}" '
        'text-anchor="middle" class="muted">No data in this range</text></svg>'
    )


def horizontal_bars(rows: Sequence[tuple[str, float, str]], color: str) -> str:
    """One bar per (label, value, caption) row, scaled to the largest value."""
    if not rows or max(value for _, value, _ in rows) <= 0:
        return _empty()
    top = max(value for _, value, _ in rows)
    height = len(rows) * (BAR + GAP) + GAP
    span = WIDTH - LABEL - 270
    parts = [f'<svg viewBox="0 0 {WIDTH} {height}" role="img">']
    for index, (label, value, caption) in enumerate(rows):
        y = GAP + index * (BAR + GAP)
        width = max(1.0, span * max(value, 0) / top)
        parts.append(
            f'<text x="{LABEL - 8}" y="{y + BAR * 0.68}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar" x="{LABEL}" y="{y}" width="{width:.1f}" height="{BAR}" fill="{color}" '
            f'data-label="{escape(label)}" data-value="{value}"><title>{escape(label)}: '
            f"{escape(caption)}</title></rect>"
            f'<text x="{LABEL + width + 6:.1f}" y="{y + BAR * 0.68}">{escape(caption)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def columns(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> str:
    """Grouped columns: one group per label, one column per series."""
    values = [v for _, data in series for v in data]
    if not labels or not values or max(values) <= 0:
        return _empty(120)
    top = max(values)
    height, base, left = 220, 190, 56
    group = (WIDTH - left - 10) / len(labels)
    column = max(1.0, group * 0.8 / len(series))
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img">',
        f'<line x1="{left}" y1="{base}" x2="{WIDTH - 10}" y2="{base}" class="axis"/>',
        f'<text x="{left - 4}" y="16" text-anchor="end" class="muted">{_num(top)}</text>',
    ]
    every = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        x0 = left + i * group + group * 0.1
        for s, (name, data) in enumerate(series):
            value = data[i]
            h = (base - 24) * value / top
            parts.append(
                f'<rect class="bar" x="{x0 + s * column:.1f}" y="{base - h:.1f}" width="{column:.1f}" '
                f'height="{h:.1f}" fill="{COLORS[s % len(COLORS)]}" data-label="{escape(label)}" '
                f'data-series="{escape(name)}" data-value="{value}"><title>{escape(label)} {escape(name)}: '
                f"{_num(value)}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{left + i * group + group / 2:.1f}" y="{base + 16}" text-anchor="middle" '
                f'class="muted">{escape(label)}</text>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{COLORS[s % len(COLORS)]}"></i>{escape(name)}</span>'
        for s, (name, _) in enumerate(series)
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _figure(chart_id: str, title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="muted">{escape(note)}</p>' if note else ""
    caption = f"<figcaption>{escape(title)}</figcaption>"
    return f'<figure class="chart" id="{chart_id}">{caption}{body}{note_html}</figure>'


def ad_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The ads, then the campaigns, as CSV_COLUMNS rows. Revenue is in the ad account's currency
    (what ROAS uses); revenue in other currencies is listed apart, never converted."""
    rows: list[dict[str, Any]] = []

    def money(entry: dict[str, Any]) -> tuple[float | None, str]:
        by_currency: dict[str, float] = entry.get("revenue_by_currency") or {}
        currency = entry.get("currency")
        if currency is None:
            return entry.get("revenue"), ""
        others = " ".join(f"{c} {v:.2f}" for c, v in sorted(by_currency.items()) if c != currency)
        unknown = round(float(entry.get("revenue") or 0) - sum(by_currency.values()), 2)
        if "revenue" in entry and unknown:  # counted before revenue was counted per currency (analytics.ads)
            others = f"{others} {unknown:.2f} in an unrecorded currency".strip()
        return by_currency.get(currency, 0.0), others

    for ad_id, ad in metrics.get("ads", {}).items():
        revenue, others = money(ad)
        rows.append(
            {
                "level": "ad",
                "ad_id": ad_id,
                "ad_name": ad.get("ad_name"),
                "adset_name": ad.get("adset_name"),
                "campaign_name": ad.get("campaign_name"),
                "currency": ad.get("currency"),
                "spend": ad.get("spend"),
                "impressions": ad.get("impressions"),
                "clicks": ad.get("clicks", 0),
                "conversations": ad.get("conversations", 0),
                "orders": ad.get("orders", 0),
                "revenue": revenue,
                "revenue_other_currencies": others,
                "roas": ad.get("roas"),
                "cpa": ad.get("cpa"),
                "cost_per_conversation": ad.get("cost_per_conversation"),
            }
        )
    for name, campaign in metrics.get("by_campaign", {}).items():
        revenue, others = money(campaign)
        rows.append(
            {
                "level": "campaign",
                "ad_id": " ".join(campaign.get("ads", [])),
                "ad_name": None,
                "adset_name": None,
                "campaign_name": name,
                "currency": campaign.get("currency"),
                "spend": campaign.get("spend"),
                "impressions": campaign.get("impressions"),
                "clicks": campaign.get("clicks", 0),
                "conversations": campaign.get("conversations", 0),
                "orders": campaign.get("orders", 0),
                "revenue": revenue,
                "revenue_other_currencies": others,
                "roas": campaign.get("roas"),
                "cpa": campaign.get("cpa"),
                "cost_per_conversation": campaign.get("cost_per_conversation"),
            }
        )
    return rows


# A cell a spreadsheet would run as a formula: https://owasp.org/www-community/attacks/CSV_Injection
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # an ad named "=HYPERLINK(...)" stays text
    return value


def ads_csv(metrics: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in ad_rows(metrics):
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: Any, shown: str | None = None, *, number: bool = False) -> str:
    sort_value = "" if value is None else str(value)
    text = NONE if value is None or value == "" else (shown if shown is not None else str(value))
    css = ' class="n"' if number else ""
    return f'<td{css} data-value="{escape(sort_value)}">{escape(text)}</td>'


def _ratio(value: float | None) -> str:
    return NONE if value is None else f"{value:,.2f}"


def _sortable_table(table_id: str, rows: list[dict[str, Any]], first: tuple[str, ...]) -> str:
    labels = {
        "ad_name": "Ad",
        "ad_id": "Ad id",
        "campaign_name": "Campaign",
        "adset_name": "Ad set",
        "ads": "Ads",
    }
    numbers = (
        ("spend", "Spend"),
        ("revenue", "Revenue"),
        ("roas", "ROAS"),
        ("cpa", "CPA"),
        ("cost_per_conversation", "Cost / conv."),
        ("clicks", "Clicks"),
        ("conversations", "Conv."),
        ("orders", "Orders"),
    )
    head = "".join(f'<th data-key="{k}">{labels[k]}</th>' for k in first) + "".join(
        f'<th class="n" data-key="{key}">{label}</th>' for key, label in numbers
    )
    body = []
    for row in rows:
        cells = []
        for key in first:
            value = row["ad_id"] if key == "ads" else row[key]
            if key == "ad_name" and not value:
                value = row["ad_id"]
            cells.append(_cell(value))
        currency = row["currency"] or ""
        for key, _ in numbers:
            value = row[key]
            if key in ("spend", "revenue", "cpa", "cost_per_conversation") and value is not None:
                shown = f"{currency} {value:,.2f}".strip()
                if key == "revenue" and row["revenue_other_currencies"]:
                    shown += f" (+ {row['revenue_other_currencies']})"
                cells.append(_cell(value, shown, number=True))
            elif key == "roas":
                cells.append(_cell(value, _ratio(value), number=True))
            else:
                cells.append(_cell(value, None if value is None else _num(value), number=True))
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table class="sortable" id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def render(metrics: dict[str, Any], *, title: str = "WhatsApp conversations and ad revenue") -> str:
    funnel = metrics["funnel"]
    sent = funnel["sent"] or 0
    funnel_rows = [
        (
            stage.capitalize(),
            float(funnel[stage]),
            f"{_num(funnel[stage])}"
            + (f"  ({funnel[stage] / sent * 100:.0f}% of sent)" if sent and stage != "sent" else ""),
        )
        for stage in ("sent", "delivered", "read", "replied")
    ]
    daily = metrics.get("daily", [])
    days = [d["date"][5:] for d in daily]
    volume = columns(
        days,
        [
            ("received", [float(d["received"]) for d in daily]),
            ("sent", [float(d["sent"]) for d in daily]),
        ],
    )
    histogram = metrics.get("response_time_histogram", [])
    response = columns(
        [_duration(b["seconds"]) for b in histogram], [("replies", [float(b["count"]) for b in histogram])]
    )
    ads = sorted(metrics.get("ads", {}).items(), key=lambda item: -item[1]["revenue"])
    revenue_rows = [
        (
            ad.get("ad_name") or source_id,
            float(ad["revenue"]),
            f"{ad['revenue']:,.2f} · {ad['orders']} orders · {ad['conversations']} conv."
            f" · {ad['clicks']} clicks",
        )
        for source_id, ad in ads
        if ad["revenue"] or ad.get("spend") is None
    ]
    table = ad_rows(metrics)
    by_ad = [row for row in table if row["level"] == "ad"]
    spent = sorted((row for row in by_ad if row["spend"] is not None), key=lambda r: -(r["spend"] or 0))
    spend_chart = columns(
        [str(row["ad_name"] or row["ad_id"])[:24] for row in spent],
        [
            ("spend", [float(row["spend"] or 0) for row in spent]),
            ("revenue", [float(row["revenue"] or 0) for row in spent]),
        ],
    )
    ad_table = (
        _sortable_table("table-ads", by_ad, ("ad_name", "campaign_name", "adset_name"))
        if by_ad
        else '<p class="muted">No ads in this range.</p>'
    )
    campaign_rows = [row for row in table if row["level"] == "campaign"]
    campaign_table = (
        _sortable_table("table-campaigns", campaign_rows, ("campaign_name", "ads"))
        if campaign_rows
        else '<p class="muted">No ad spend in this range (make insights reads it from Meta).</p>'
    )
    # per currency: two ad accounts' spend is never summed without a rate (docs/analytics.md#ad-spend)
    spend_by_currency: dict[str, float] = defaultdict(float)
    for row in spent:
        spend_by_currency[str(row["currency"] or "")] += float(row["spend"] or 0)
    spend_total = " · ".join(f"{c} {v:,.2f}".strip() for c, v in sorted(spend_by_currency.items()))
    rt = metrics["response_time_seconds"]
    kpis = [
        ("Median response", _duration(rt["median"])),
        ("p90 response", _duration(rt["p90"])),
        ("Delivery rate", _percent(metrics["delivery_rate"])),
        ("Read rate", _percent(metrics["read_rate"])),
        ("Reply rate", _percent(metrics["reply_rate"])),
        ("New contacts", _num(sum(metrics["new_contacts"].values()))),
        ("Orders", _num(metrics.get("orders", 0))),
        ("Revenue", f"{metrics.get('revenue', 0):,.2f}"),
        ("Ad spend", spend_total if spent else NONE),
    ]
    kpi_html = "".join(
        f'<div class="kpi"><span>{escape(name)}</span><b>{escape(value)}</b></div>' for name, value in kpis
    )
    countries = ", ".join(f"{escape(k)} {v}" for k, v in metrics.get("by_country", {}).items()) or NONE
    agents = "".join(
        f"<tr><td>{escape(agent)}</td><td>{a['sent']}</td><td>{a['responses']}</td>"
        f"<td>{_duration(a['response_time_seconds']['median'])}</td><td>{a['assigned']}</td>"
        f"<td>{a['resolved']}</td></tr>"
        for agent, a in metrics.get("by_agent", {}).items()
    )
    agent_table = (
        "<table><tr><th>Agent</th><th>Sent</th><th>Replies</th><th>Median response</th>"
        f"<th>Assigned</th><th>Resolved</th></tr>{agents}</table>"
        if agents
        else '<p class="muted">No agent data (send message.sent with agentId to POST /v1/capture).</p>'
    )
    period = f"{metrics['from']} to {metrics['to']} ({metrics.get('tz') or 'UTC'} days)"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
{STYLE}</style></head><body>
<h1>{escape(title)}</h1><p class="muted">{escape(period)}</p>
<div class="kpis">{kpi_html}</div>
<div class="grid">
{
        _figure(
            "chart-funnel",
            "Message funnel: sent → delivered → read → replied",
            horizontal_bars(funnel_rows, COLORS[0]),
        )
    }
{_figure("chart-daily-volume", "Daily volume", volume)}
{
        _figure(
            "chart-response-time",
            "Response-time distribution (first reply after a customer's message)",
            response,
            f"{rt['count']} replies; buckets by their lower bound",
        )
    }
{
        _figure(
            "chart-revenue-by-ad",
            "Revenue by ad",
            horizontal_bars(revenue_rows, COLORS[2]),
            "Attributed orders, net of refunds",
        )
    }
{
        _figure(
            "chart-spend-revenue",
            "Spend vs revenue by ad",
            spend_chart,
            "In the ad account's currency; revenue in another currency is not converted",
        )
    }
<figure class="chart wide" id="ads"><figcaption>Ads (click a column to sort)</figcaption>{ad_table}</figure>
<figure class="chart wide" id="campaigns"><figcaption>Campaigns</figcaption>{campaign_table}
<p class="muted">ROAS: attributed revenue net of refunds / spend. CPA: spend / attributed orders.
Also in ads.csv next to this page.</p></figure>
<figure class="chart" id="table-agents"><figcaption>Agents</figcaption>{agent_table}
<p class="muted">Traffic by country: {countries}</p></figure>
</div><script>{SORT_SCRIPT}</script></body></html>
"""


def fetch_metrics(
    api_url: str,
    api_key: str,
    start: str | None,
    end: str | None,
    tz: str | None = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    import httpx

    pairs = (("from", start), ("to", end), ("granularity", "day"), ("tz", tz), ("tenant", tenant))
    params = {k: v for k, v in pairs if v}
    response = httpx.get(
        f"{api_url.rstrip('/')}/metrics", params=params, headers={"X-Api-Key": api_key}, timeout=30.0
    )
    if response.status_code != 200:
        raise SystemExit(f"GET /metrics answered {response.status_code}: {response.text}")
    found: dict[str, Any] = response.json()
    return found


def write_report(metrics: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tenant = metrics.get("tenant")  # GET /metrics?tenant= names the tenant it answered for
    title = "WhatsApp conversations and ad revenue" + (f" for {tenant}" if isinstance(tenant, str) else "")
    out.write_text(render(metrics, title=title), encoding="utf-8")
    (out.parent / "ads.csv").write_text(ads_csv(metrics), encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--api-url", help="base URL of the API, e.g. http://127.0.0.1:3000")
    source.add_argument("--metrics", type=Path, help="a JSON file holding a GET /metrics answer")
    parser.add_argument("--api-key", default="", help="X-Api-Key for --api-url")
    parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: 29 days before --to)")
    parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default: today)")
    parser.add_argument(
        "--tz",
        help="IANA time zone of the days and hours, e.g. America/Mexico_City (default: ReportTimeZone)",
    )
    parser.add_argument("--tenant", help="one tenant's report, by its id in Tenants (docs/tenants.md)")
    parser.add_argument("--out", type=Path, default=Path("report/index.html"))
    args = parser.parse_args(argv)
    if args.metrics:
        metrics = json.loads(args.metrics.read_text())
    else:
        metrics = fetch_metrics(args.api_url, args.api_key, args.start, args.end, args.tz, args.tenant)
    written = write_report(metrics, args.out)
    print(f"Report written to {written} and {written.parent / 'ads.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
