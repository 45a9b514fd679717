"""GET /metrics?from=&to=&granularity=day (X-Api-Key): conversation and ad metrics for a range of
days, read from the aggregator's day counters (a few Query calls, never a scan)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from wa_conversions.analytics.metrics import compute, parse_query
from wa_conversions.http_api import operator_resolver
from wa_conversions.store.analytics import AnalyticsReader

logger = Logger()
app = operator_resolver()


@cache
def _reader() -> AnalyticsReader:
    from wa_conversions import aws
    from wa_conversions.config import MetricsApiSettings, load_settings

    return AnalyticsReader(aws.dynamodb(), load_settings(MetricsApiSettings).table_name)


@app.get("/metrics")
def get_metrics() -> dict[str, Any]:
    params = app.current_event.query_string_parameters or {}
    query = parse_query(params, datetime.now(tz=UTC).date())
    days = _reader().read_days(query.start, query.end)
    return compute(query, days).model_dump(by_alias=True)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
