"""The analytics report: one self-contained HTML page (inline CSS and SVG, nothing fetched) with the
funnel, daily volume, the response-time distribution and revenue by ad.

    python -m wa_conversions.analytics.report --api-url http://127.0.0.1:3000 --api-key KEY \\
        [--from 2025-06-01 --to 2025-06-30] [--out report/index.html]
    python -m wa_conversions.analytics.report --metrics metrics.json [--out report/index.html]
"""

from __future__ import annotations

import argparse
import json
import sys
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
"""


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
    height, base, left = 220, 190, 40
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
    ad_rows = [
        (
            source_id,
            float(ad["revenue"]),
            f"{ad['revenue']:,.2f} · {ad['orders']} orders · {ad['conversations']} conv."
            f" · {ad['clicks']} clicks",
        )
        for source_id, ad in ads
    ]
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
    period = f"{metrics['from']} to {metrics['to']} (UTC days)"
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
            "Revenue by ad (source_id)",
            horizontal_bars(ad_rows, COLORS[2]),
            "Attributed orders, net of refunds",
        )
    }
<figure class="chart" id="table-agents"><figcaption>Agents</figcaption>{agent_table}
<p class="muted">Traffic by country: {countries}</p></figure>
</div></body></html>
"""


def fetch_metrics(api_url: str, api_key: str, start: str | None, end: str | None) -> dict[str, Any]:
    import httpx

    params = {k: v for k, v in (("from", start), ("to", end), ("granularity", "day")) if v}
    response = httpx.get(
        f"{api_url.rstrip('/')}/metrics", params=params, headers={"X-Api-Key": api_key}, timeout=30.0
    )
    if response.status_code != 200:
        raise SystemExit(f"GET /metrics answered {response.status_code}: {response.text}")
    found: dict[str, Any] = response.json()
    return found


def write_report(metrics: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(metrics), encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wa_conversions.analytics.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--api-url", help="base URL of the API, e.g. http://127.0.0.1:3000")
    source.add_argument("--metrics", type=Path, help="a JSON file holding a GET /metrics answer")
    parser.add_argument("--api-key", default="", help="X-Api-Key for --api-url")
    parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: 29 days before --to)")
    parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--out", type=Path, default=Path("report/index.html"))
    args = parser.parse_args(argv)
    if args.metrics:
        metrics = json.loads(args.metrics.read_text())
    else:
        metrics = fetch_metrics(args.api_url, args.api_key, args.start, args.end)
    written = write_report(metrics, args.out)
    print(f"Report written to {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
