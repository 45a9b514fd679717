"""Ad spend from Meta's Marketing API insights: one row per ad per day, for the metrics' ROAS and CPA.

GET /{version}/act_{id}/insights?level=ad&time_increment=1 pages with `paging.next`; a rate-limit
answer (codes 4, 17, 32, 613, 80000, 80004) is waited out, as long as Meta's usage headers say and
the time budget allows, then the account is left for the next run. Days are the ad account's own
days (Meta reports insights in the account's time zone).
https://developers.facebook.com/docs/marketing-api/insights
https://developers.facebook.com/docs/marketing-api/overview/rate-limiting
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from ..models.ad_day import AdDay

if TYPE_CHECKING:
    import httpx

FIELDS = (
    "ad_id",
    "ad_name",
    "adset_name",
    "campaign_name",
    "spend",
    "impressions",
    "clicks",
    "account_currency",
)
PAGE_LIMIT = 500
# Meta's throttling codes: app (4), user/account (17), page (32), custom (613), ads insights BUC (80000)
# and ads management BUC (80004); https://developers.facebook.com/docs/graph-api/overview/rate-limiting
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80000, 80004})
# https://developers.facebook.com/docs/marketing-api/insights/best-practices (x-fb-ads-insights-throttle)
NEAR_LIMIT_PCT = 90.0
NEAR_LIMIT_PAUSE = 5.0
# left for the page in flight (the HTTP client's 60 s read timeout) and storing the account, so a run
# stops before Lambda's timeout rather than being cut off mid-account
DEADLINE_RESERVE_SECONDS = 70.0
# Meta keeps insights for 37 months; one run reads at most a year
MAX_RANGE_DAYS = 366
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class InsightsError(Exception):
    """Meta refused the request (a bad token, a wrong account): retrying will not help."""


class ThrottledError(Exception):
    """Meta's rate limit outlasted the time budget, or Meta did not answer (a timeout, a 5xx): the
    account is read again on the next run."""


def account_ids(raw: str) -> list[str]:
    """MetaAdAccountIds: "act_1, 2" -> ["1", "2"] (the act_ prefix is optional)."""
    found = [part.strip().removeprefix("act_") for part in raw.replace(";", ",").split(",")]
    return [part for part in found if part]


def wait_seconds(headers: httpx.Headers, attempt: int) -> float:
    """How long Meta asks to wait: estimated_time_to_regain_access (minutes) of x-business-use-case-usage,
    else an exponential backoff (1, 2, 4 s...)."""
    backoff = float(2**attempt)
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return backoff
    try:
        usage = json.loads(raw)
        minutes = max(
            (
                float(entry.get("estimated_time_to_regain_access") or 0)
                for entries in usage.values()
                for entry in entries
            ),
            default=0.0,
        )
    except (ValueError, AttributeError, TypeError):
        return backoff
    return max(backoff, minutes * 60)


def near_limit(headers: httpx.Headers) -> bool:
    """x-fb-ads-insights-throttle's app_id_util_pct / acc_id_util_pct at NEAR_LIMIT_PCT or more: Meta
    throttles at 100, so the next page waits a little rather than run into it."""
    raw = headers.get("x-fb-ads-insights-throttle")
    if not raw:
        return False
    try:
        usage = json.loads(raw)
        used = max(float(usage.get("app_id_util_pct") or 0), float(usage.get("acc_id_util_pct") or 0))
    except (ValueError, AttributeError, TypeError):
        return False
    return used >= NEAR_LIMIT_PCT


class InsightsClient:
    def __init__(
        self,
        client: httpx.Client,
        *,
        base_url: str,
        version: str,
        token: str,
        max_wait_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        seconds_left: Callable[[], float] | None = None,
    ) -> None:
        """seconds_left: the function's remaining time (Lambda's context), so a run stops in time."""
        self._seconds_left = seconds_left
        self._client = client
        self._base = base_url.rstrip("/")
        self._version = version
        self._token = token
        self._max_wait = max_wait_seconds
        self._sleep = sleep

    def ad_days(self, account_id: str, since: date, until: date) -> list[AdDay]:
        """Every page of the account's daily ad insights from since to until (inclusive)."""
        rows: list[AdDay] = []
        for found in self._pages(account_id, since, until):
            if not (isinstance(found, dict) and found.get("ad_id") and found.get("date_start")):
                continue
            try:
                rows.append(AdDay.model_validate({**found, "account_id": account_id}))
            except ValidationError as error:
                fields = ", ".join(str(e["loc"][0]) for e in error.errors() if e["loc"])
                raise InsightsError(
                    f"account {account_id}: a row Meta sent does not parse ({fields})"
                ) from None
        return rows

    def _pages(self, account_id: str, since: date, until: date) -> Iterator[dict[str, Any]]:
        import httpx

        url: str | None = f"{self._base}/{self._version}/act_{account_id}/insights"
        params: dict[str, str] | None = {
            "level": "ad",
            "time_increment": "1",
            "fields": ",".join(FIELDS),
            "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
            "limit": str(PAGE_LIMIT),
        }
        waited = 0.0
        attempt = 0
        while url is not None:
            if self._left() < DEADLINE_RESERVE_SECONDS:
                raise ThrottledError(f"account {account_id}: not read before the function's deadline")
            try:
                response = self._client.get(
                    url, params=params, headers={"Authorization": f"Bearer {self._token}"}
                )
            except httpx.HTTPError as failure:
                # a timeout or a dropped connection: the account is read again on the next run
                raise ThrottledError(f"account {account_id}: {type(failure).__name__}") from None
            if response.status_code != 200:
                error = _error(response)
                if error.get("code") in THROTTLE_CODES or response.status_code == 429:
                    pause = wait_seconds(response.headers, attempt)
                    if waited + pause > self._max_wait or pause > self._left() - DEADLINE_RESERVE_SECONDS:
                        raise ThrottledError(f"account {account_id}: rate limited (code {error.get('code')})")
                    self._sleep(pause)
                    waited += pause
                    attempt += 1
                    continue
                if response.status_code >= 500:
                    raise ThrottledError(f"account {account_id}: Meta answered {response.status_code}")
                message = error.get("message")
                raise InsightsError(
                    f"account {account_id}: Meta answered {response.status_code} (code {error.get('code')}): "
                    f"{message[:200] if isinstance(message, str) else ''}"
                )
            body = _document(response)
            if body is None:
                # a 200 that is not Graph's page (a proxy's page, a cut answer): read again next run
                raise ThrottledError(f"account {account_id}: Meta's answer was not a JSON object")
            data = body.get("data")
            yield from data if isinstance(data, list) else []
            # paging.next carries the cursor and every parameter, the token included
            paging = body.get("paging")
            url = paging.get("next") if isinstance(paging, dict) else None
            params = None
            attempt = 0
            if (
                url is not None
                and near_limit(response.headers)
                and waited + NEAR_LIMIT_PAUSE <= self._max_wait
            ):
                self._sleep(NEAR_LIMIT_PAUSE)
                waited += NEAR_LIMIT_PAUSE

    def _left(self) -> float:
        return float("inf") if self._seconds_left is None else self._seconds_left()


def _document(response: httpx.Response) -> dict[str, Any] | None:
    try:
        found = response.json()
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _error(response: httpx.Response) -> dict[str, Any]:
    found = (_document(response) or {}).get("error")
    return found if isinstance(found, dict) else {}


class SpendStore(Protocol):
    def replace(self, account_id: str, since: date, until: date, rows: Iterable[AdDay]) -> int: ...


def parse_range(event: Mapping[str, Any], today: date, lookback_days: int) -> tuple[date, date]:
    """The run's days: {"since": "YYYY-MM-DD", "until": ...} (`make insights SINCE=`), else the last
    lookback_days up to today. ValueError names a bad one."""

    def day(name: str) -> date | None:
        raw = event.get(name)
        if raw in (None, ""):
            return None
        try:
            if isinstance(raw, str) and _DAY.fullmatch(raw):
                return date.fromisoformat(raw)
        except ValueError:
            pass
        raise ValueError(f"{name} must be a date like 2026-06-18, got {str(raw)[:40]!r}")

    until = day("until") or today
    since = day("since") or until - timedelta(days=lookback_days - 1)
    if since > until:
        raise ValueError("since is after until")
    if (until - since).days + 1 > MAX_RANGE_DAYS:
        raise ValueError(f"the range is longer than {MAX_RANGE_DAYS} days")
    return since, until


def refresh(
    client: InsightsClient, store: SpendStore, accounts: Iterable[str], since: date, until: date
) -> dict[str, dict[str, Any]]:
    """Each account's ad days from since to until, stored in place of what was stored for them. An
    account Meta throttles or refuses is left as it was and reported: {"error": "..."}."""
    outcome: dict[str, dict[str, Any]] = {}
    for account in accounts:
        try:
            rows = client.ad_days(account, since, until)
        except (ThrottledError, InsightsError) as error:
            outcome[account] = {"error": str(error), "retry": isinstance(error, ThrottledError)}
            continue
        outcome[account] = {"ad_days": store.replace(account, since, until, rows)}
    return outcome
