"""`make report TENANT=` (docs/tenants.md): the report CLI asks GET /metrics for one tenant and says
whose figures the page shows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import respx

from tools.report import main
from wa_conversions.analytics.metrics import MetricsQuery, compute

API = "http://127.0.0.1:3999"


def answer(tenant: str | None) -> dict[str, object]:
    query = MetricsQuery(start=date(2026, 6, 18), end=date(2026, 6, 18))
    counters = {"2026-06-18T10": {"orders": 2, "revenue": 80.0}}
    found: dict[str, object] = compute(query, counters, []).model_dump(by_alias=True)
    return {**found, "tenant": tenant} if tenant else found


def test_the_report_of_one_tenant_asks_for_it_and_names_it(tmp_path: Path) -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"{API}/metrics").mock(return_value=httpx.Response(200, json=answer("brand-b")))
        out = tmp_path / "index.html"
        main(["--api-url", API, "--api-key", "k", "--tenant", "brand-b", "--out", str(out)])
    assert route.calls.last.request.url.params["tenant"] == "brand-b"
    assert "<h1>WhatsApp conversations and ad revenue for brand-b</h1>" in out.read_text(encoding="utf-8")


def test_without_a_tenant_the_deployments_report_is_asked_for_as_before(tmp_path: Path) -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"{API}/metrics").mock(return_value=httpx.Response(200, json=answer(None)))
        out = tmp_path / "index.html"
        main(["--api-url", API, "--api-key", "k", "--out", str(out)])
    assert "tenant" not in route.calls.last.request.url.params
    assert "<h1>WhatsApp conversations and ad revenue</h1>" in out.read_text(encoding="utf-8")
