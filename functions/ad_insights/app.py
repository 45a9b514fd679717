"""Scheduled daily (and `make insights [SINCE=]`): Meta's ad insights for the MetaAdAccountIds
accounts, stored as spend per ad per day for GET /metrics' ROAS and CPA (docs/analytics.md).

The event may name the days: {"since": "2026-06-01", "until": "2026-06-30"}; by default the last
INSIGHTS_LOOKBACK_DAYS. Re-reading a day replaces it. An account Meta throttled or refused fails the
run once the others are stored, so the schedule's retry reads it again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()


class InsightsRunError(Exception):
    """Some accounts were not read; the run is retried (their stored days are left as they were)."""


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from wa_conversions import aws
    from wa_conversions.analytics.insights import InsightsClient, account_ids, parse_range, refresh
    from wa_conversions.analytics.wiring import insights_http
    from wa_conversions.config import AdInsightsSettings, load_settings
    from wa_conversions.secret_store import get_secret
    from wa_conversions.store.ad_spend import AdSpendRepository

    settings = load_settings(AdInsightsSettings)
    since, until = parse_range(event or {}, datetime.now(tz=UTC).date(), settings.lookback_days)
    accounts = account_ids(settings.ad_account_ids)
    if not accounts:
        logger.warning("MetaAdAccountIds is empty: no ad insights read")
        return {"since": since.isoformat(), "until": until.isoformat(), "accounts": {}}

    def seconds_left() -> float:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return remaining() / 1000 if callable(remaining) else float("inf")

    client = InsightsClient(
        insights_http(),
        base_url=settings.graph_base_url,
        version=settings.api_version,
        token=get_secret(settings, "META_ACCESS_TOKEN"),
        max_wait_seconds=settings.max_wait_seconds,
        seconds_left=seconds_left,
    )
    store = AdSpendRepository(aws.dynamodb(), settings.table_name, settings.retention())
    # the accounts a run cut short did not reach go first in the next (docs/analytics.md#ad-spend)
    outcome = refresh(client, store, store.least_recently_read(accounts), since, until)
    result = {"since": since.isoformat(), "until": until.isoformat(), "accounts": outcome}
    logger.info("Ad insights read", extra=result)
    failed = sorted(account for account, found in outcome.items() if "error" in found)
    if failed:
        raise InsightsRunError(f"ad accounts not read: {', '.join(failed)}")
    return result
