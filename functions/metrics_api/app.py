"""GET /metrics?from=&to=&granularity=day[&tenant=] (X-Api-Key): conversation and ad metrics for a
range of days, read from the aggregator's day counters (one item per UTC day and shard, one Query
per month of the range, never a scan: docs/analytics.md#storage); one tenant's with ?tenant=
(docs/tenants.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Query

from wa_conversions.analytics.metrics import compute, parse_query
from wa_conversions.analytics.tenancy import ad_ids_of, spend_of_tenant
from wa_conversions.analytics.wiring import metrics_reader, spend_reader
from wa_conversions.http_api import TenantQuery, operator_resolver, query_tenant

logger = Logger()
app = operator_resolver()


def _report_time_zone() -> str:
    from wa_conversions.config import MetricsApiSettings, load_settings

    zone: str = load_settings(MetricsApiSettings).report_time_zone
    return zone


@app.get("/metrics")
def get_metrics(
    from_: Annotated[
        str | None, Query(alias="from", description="First day, 2025-06-18 (default: 29 days before to)")
    ] = None,
    to: Annotated[str | None, Query(description="Last day, inclusive (default: today)")] = None,
    granularity: Annotated[str | None, Query(description="day, the only one")] = None,
    tz: Annotated[
        str | None, Query(description="An IANA zone the days are in (default ReportTimeZone)")
    ] = None,
    tenant: TenantQuery = None,
) -> dict[str, Any]:
    from wa_conversions.config import MetricsApiSettings, load_settings

    given = {"from": from_, "to": to, "granularity": granularity, "tz": tz}
    owner = query_tenant(load_settings(MetricsApiSettings), tenant)
    query = parse_query(given, datetime.now(tz=UTC), _report_time_zone())
    # The UTC days whose hours make up the local days asked for (docs/analytics.md#time-zones).
    days = metrics_reader().read_days(*query.utc_days, tenant=owner.id if owner else None)
    # insights' days are the ad account's days: the range's dates are taken as they are
    spend = spend_reader().read(query.start, query.end)
    if owner is not None:
        spend = spend_of_tenant(spend, owner.ad_account_ids, ad_ids_of(days))
    answer: dict[str, Any] = compute(query, days, spend).model_dump(by_alias=True)
    if owner is not None:
        answer["tenant"] = owner.id  # only then: a single-business answer is as it was
    return answer


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
