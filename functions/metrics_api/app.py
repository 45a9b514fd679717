"""GET /metrics?from=&to=&granularity=day[&tenant=] (X-Api-Key): conversation and ad metrics for a
range of days, read from the aggregator's day counters (one item per UTC day and shard, one Query
per month of the range, never a scan: docs/analytics.md#storage); one tenant's with ?tenant=
(docs/tenants.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from wa_conversions.analytics.metrics import compute, parse_query
from wa_conversions.analytics.tenancy import ad_ids_of, spend_of_tenant
from wa_conversions.http_api import operator_resolver, query_tenant
from wa_conversions.store.ad_spend import AdSpendReader
from wa_conversions.store.analytics import AnalyticsReader

logger = Logger()
app = operator_resolver()


@cache
def _reader() -> AnalyticsReader:
    from wa_conversions import aws
    from wa_conversions.config import MetricsApiSettings, load_settings

    return AnalyticsReader(aws.dynamodb(), load_settings(MetricsApiSettings).table_name)


@cache
def _spend() -> AdSpendReader:
    from wa_conversions import aws
    from wa_conversions.config import MetricsApiSettings, load_settings

    return AdSpendReader(aws.dynamodb(), load_settings(MetricsApiSettings).table_name)


def _report_time_zone() -> str:
    from wa_conversions.config import MetricsApiSettings, load_settings

    zone: str = load_settings(MetricsApiSettings).report_time_zone
    return zone


@app.get("/metrics")
def get_metrics() -> dict[str, Any]:
    from wa_conversions.config import MetricsApiSettings, load_settings

    params = app.current_event.query_string_parameters or {}
    tenant = query_tenant(app, load_settings(MetricsApiSettings))
    query = parse_query(params, datetime.now(tz=UTC), _report_time_zone())
    # The UTC days whose hours make up the local days asked for (docs/analytics.md#time-zones).
    days = _reader().read_days(*query.utc_days, tenant=tenant.id if tenant else None)
    # insights' days are the ad account's days: the range's dates are taken as they are
    spend = _spend().read(query.start, query.end)
    if tenant is not None:
        spend = spend_of_tenant(spend, tenant.ad_account_ids, ad_ids_of(days))
    answer: dict[str, Any] = compute(query, days, spend).model_dump(by_alias=True)
    if tenant is not None:
        answer["tenant"] = tenant.id  # only then: a single-business answer is as it was
    return answer


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
