"""From per-day counters to the metrics GET /metrics answers."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadRequestError, UnprocessableError
from ..models.ad_day import AdDay
from ..models.histogram import percentile
from .ads import AdMetrics, CampaignMetrics, ad_metrics, by_campaign

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
# Only the documented form: fromisoformat also takes "20250618", "2025-W25-3" and non-ASCII digits.
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class MetricsQuery(BaseModel):
    start: date
    end: date
    granularity: Literal["day"] = "day"
    # The IANA zone days and hours are reported in (docs/analytics.md#time-zones).
    tz: str = "UTC"

    @property
    def days(self) -> list[str]:
        count = (self.end - self.start).days + 1
        return [(self.start + timedelta(days=i)).isoformat() for i in range(count)]

    @property
    def zone(self) -> tzinfo:
        return _zone(self.tz)

    @property
    def utc_days(self) -> tuple[date, date]:
        """The UTC days whose hours make up the range's local days: what to read."""
        first = datetime.combine(self.start, datetime.min.time(), tzinfo=self.zone)
        last = datetime.combine(self.end, datetime.max.time(), tzinfo=self.zone)
        try:
            low = first.astimezone(UTC).date()
        except OverflowError:  # 0001-01-01 east of UTC
            low = date.min
        try:
            high = last.astimezone(UTC).date()
        except OverflowError:  # 9999-12-31 west of UTC
            high = date.max
        return low, high


MAX_TZ_LENGTH = 64


def _zone(name: str) -> tzinfo:
    # UTC needs no time zone database (a runtime may have none: docs/analytics.md#time-zones).
    return UTC if name == "UTC" else ZoneInfo(name)


def parse_zone(raw: str | None, default: str = "UTC") -> str:
    """An IANA zone name ("America/Mexico_City"); 400 naming it when there is no such zone."""
    name = raw or default
    try:
        if len(name) <= MAX_TZ_LENGTH:
            _zone(name)
            return name
    # "America" is a directory of the zone database, not a zone: ZoneInfo raises IsADirectoryError
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    shown = name if len(name) <= 40 else name[:40] + "..."
    raise BadRequestError(f"tz must be an IANA time zone like America/Mexico_City, got {shown!r}", field="tz")


def parse_query(
    params: Mapping[str, str | None], today: date | datetime, default_tz: str = "UTC"
) -> MetricsQuery:
    """from/to are inclusive ISO dates, days in tz (default_tz when absent); to defaults to today
    there, from to 29 days before it."""
    tz = parse_zone(params.get("tz"), default_tz)
    if isinstance(today, datetime):
        today = today.astimezone(_zone(tz)).date()

    def parse(name: str) -> date | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return None
        try:
            if _DAY.fullmatch(raw):
                return date.fromisoformat(raw)
        except ValueError:
            pass
        shown = raw if len(raw) <= 40 else raw[:40] + "..."
        raise UnprocessableError(f"{name} must be a date like 2025-06-18, got {shown!r}", field=name)

    granularity = params.get("granularity") or "day"
    if granularity != "day":
        raise UnprocessableError("granularity must be 'day'", field="granularity")
    end = parse("to") or today
    try:
        start = parse("from") or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    except OverflowError:  # the default from would fall before year 1
        raise UnprocessableError(
            f"to is too early for the default {DEFAULT_RANGE_DAYS}-day range: pass from", field="to"
        ) from None
    if start > end:
        raise UnprocessableError("from is after to", field="from")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise UnprocessableError(f"The range is longer than {MAX_RANGE_DAYS} days", field="to")
    return MetricsQuery(start=start, end=end, tz=tz)


class Percentiles(BaseModel):
    median: int | None
    p90: int | None
    count: int


class HistogramBucket(BaseModel):
    seconds: int
    count: int


class Funnel(BaseModel):
    sent: int
    delivered: int
    read: int
    replied: int


class AgentMetrics(BaseModel):
    sent: int = 0
    responses: int = 0
    assigned: int = 0
    resolved: int = 0
    handoffs: int = 0
    response_time_seconds: Percentiles


class ModeMetrics(BaseModel):
    sent: int = 0
    resolved: int = 0


class DayMetrics(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    date: str
    received: int
    sent: int
    delivered: int
    read: int
    replied: int
    new_contacts: int
    clicks: int
    orders: int
    revenue: float


class Metrics(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    granularity: str
    # the zone days and hours are in (from, to, daily, by_hour)
    tz: str = "UTC"
    response_time_seconds: Percentiles
    response_time_histogram: list[HistogramBucket]
    new_contacts: dict[str, int]
    delivery_rate: float | None
    read_rate: float | None
    reply_rate: float | None
    funnel: Funnel
    received: int
    failed: int
    by_country: dict[str, int]
    by_hour: dict[str, int]
    by_agent: dict[str, AgentMetrics]
    by_service_mode: dict[str, ModeMetrics]
    handoffs: int
    ads: dict[str, AdMetrics]
    # Ad-started conversations whose first business reply came within 24 h (Meta's free entry point).
    ad_started_answered_within_24h: float | None = None
    # the ads with spend, by campaign name (analytics.ads)
    by_campaign: dict[str, CampaignMetrics] = {}
    orders: int
    revenue: float
    refunds: float
    # Unattributed conversions per key tried and why it did not match ("token:expired": 2).
    unattributed_reasons: dict[str, int] = {}
    daily: list[DayMetrics]


def _rate(part: float, whole: float) -> float | None:
    # Stages are counted on the send day, so part <= whole; min() only guards odd data.
    return None if not whole else round(min(part / whole, 1.0), 4)


def _share(part: float, whole: float) -> float | None:
    return None if round(whole) <= 0 else round(min(part / whole, 1.0), 4)


def _int(value: float) -> int:
    return round(value)


def _money(value: float) -> float:
    return round(value, 2)


def compute(
    query: MetricsQuery, days: Mapping[str, Mapping[str, float]], spend: Sequence[AdDay] = ()
) -> Metrics:
    totals: dict[str, float] = defaultdict(float)
    histogram: dict[int, int] = defaultdict(int)
    agent_histograms: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    agents: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    modes: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    ads: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    countries: dict[str, float] = defaultdict(float)
    unattributed: dict[str, float] = defaultdict(float)
    hours: dict[str, float] = {f"{h:02d}": 0 for h in range(24)}
    daily: list[DayMetrics] = []
    days = _local_days(query, days, hours)
    for day in query.days:
        counters = days.get(day, {})
        day_clicks = 0.0
        for name, amount in counters.items():
            prefix, _, rest = name.partition("#")
            if not rest:
                totals[name] += amount
            elif prefix == "rt":
                histogram[int(rest)] += _int(amount)
            elif prefix == "country":
                countries[rest] += amount
            elif prefix == "unattributed":
                unattributed[rest] += amount
            elif prefix == "hour":
                hours[rest] = hours.get(rest, 0) + amount
            elif prefix in ("agent", "agentrt", "mode", "ad"):
                owner, _, metric = rest.rpartition("#")
                if prefix == "agentrt":
                    agent_histograms[owner][int(metric)] += _int(amount)
                elif prefix == "agent":
                    agents[owner][metric] += amount
                elif prefix == "mode":
                    modes[owner][metric] += amount
                else:
                    ads[owner][metric] += amount
                    if metric == "clicks":
                        day_clicks += amount
        daily.append(
            DayMetrics(
                date=day,
                received=_int(counters.get("received", 0)),
                sent=_int(counters.get("sent", 0)),
                delivered=_int(counters.get("delivered", 0)),
                read=_int(counters.get("read", 0)),
                replied=_int(counters.get("replied", 0)),
                new_contacts=_int(counters.get("new_contacts", 0)),
                clicks=_int(day_clicks),
                orders=_int(counters.get("orders", 0)),
                revenue=_money(counters.get("revenue", 0)),
            )
        )

    def percentiles(source: Mapping[int, int]) -> Percentiles:
        return Percentiles(
            median=percentile(source, 0.5),
            p90=percentile(source, 0.9),
            count=sum(c for c in source.values() if c > 0),
        )

    sent = totals["sent"]
    ad_rows = ad_metrics(ads, spend, keep={source for source, values in ads.items() if _nonzero(values)})
    return Metrics(
        from_=query.start.isoformat(),
        to=query.end.isoformat(),
        granularity=query.granularity,
        tz=query.tz,
        response_time_seconds=percentiles(histogram),
        response_time_histogram=[
            HistogramBucket(seconds=b, count=c) for b, c in sorted(histogram.items()) if c > 0
        ],
        new_contacts={d.date: d.new_contacts for d in daily},
        delivery_rate=_rate(totals["delivered"], sent),
        read_rate=_rate(totals["read"], sent),
        reply_rate=_rate(totals["replied"], sent),
        funnel=Funnel(
            sent=_int(sent),
            delivered=_int(totals["delivered"]),
            read=_int(totals["read"]),
            replied=_int(totals["replied"]),
        ),
        received=_int(totals["received"]),
        failed=_int(totals["failed"]),
        by_country={k: _int(v) for k, v in sorted(countries.items()) if _int(v)},
        by_hour={k: _int(v) for k, v in sorted(hours.items())},
        by_agent={
            agent: AgentMetrics(
                **{k: _int(v) for k, v in values.items() if k in AgentMetrics.model_fields},
                response_time_seconds=percentiles(agent_histograms.get(agent, {})),
            )
            for agent, values in sorted(agents.items())
            if _nonzero(values)
        },
        by_service_mode={
            mode: ModeMetrics(**{k: _int(v) for k, v in values.items() if k in ModeMetrics.model_fields})
            for mode, values in sorted(modes.items())
            if _nonzero(values)
        },
        handoffs=_int(totals["handoffs"]),
        ads=ad_rows,
        by_campaign=by_campaign(ad_rows),
        ad_started_answered_within_24h=_share(
            sum(v.get("answered24h", 0) for v in ads.values()),
            sum(v.get("conversations", 0) for v in ads.values()),
        ),
        orders=_int(totals["orders"]),
        revenue=_money(totals["revenue"]),
        refunds=_money(totals["refunds"]),
        unattributed_reasons={k: _int(v) for k, v in sorted(unattributed.items()) if _int(v)},
        daily=daily,
    )


def _local_days(
    query: MetricsQuery, buckets: Mapping[str, Mapping[str, float]], hours: dict[str, float]
) -> dict[str, dict[str, float]]:
    """UTC hour buckets ("2025-06-18T05") summed into the query's local days, inbound messages into
    its local hours. A bucket that is a whole day (counters from before hours were kept, or a day
    Meta reports spend for) is that day whatever the zone."""
    zone = query.zone
    wanted = set(query.days)
    local: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for bucket, counters in buckets.items():
        day, hour = bucket, None
        if len(bucket) == 13 and bucket[10] == "T":
            moment = datetime.fromisoformat(bucket + ":00+00:00").astimezone(zone)
            day, hour = moment.date().isoformat(), f"{moment.hour:02d}"
        if day not in wanted:
            continue
        into = local[day]
        for name, amount in counters.items():
            into[name] += amount
        if hour is not None:
            hours[hour] += counters.get("received", 0)
    return local


def _nonzero(values: Mapping[str, float]) -> bool:
    """Counters are moved between groups as late events reclassify a fact (a message first seen with no
    service mode, then attributed to an agent), so a group can be left holding only zeros: it is not
    part of the answer, whatever order the events came in."""
    return any(_int(v) for v in values.values())
