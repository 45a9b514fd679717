"""Local stand-ins for the destinations: Wax, Meta Graph (Conversions API), CM.com's event endpoint,
360dialog and the collector, on one port (http://127.0.0.1:3001 by default), under one path prefix each:

    /wax/v1/metric-events                       Wax metric events (Bearer token)
    /meta/<version>/<dataset id>/events         Meta Conversions API (Bearer token)
    /cm/v1.0/event                              CM.com events: Meta Conversions, MarkAsRead, Block, UnBlock
    /360dialog/clients/<client id>/external-events   360dialog off-thread events
    /collector/v1/capture                       the collector's batch of track items (Write Key)

Each request is checked against the shape its API documents (a wrong one gets 400 with the reason,
as the real API would refuse it) and recorded. Control endpoints:

    GET    /_requests   every request: [{destination, method, path, headers, body, status}]
    DELETE /_requests   forget them (and Wax's remembered unique_ids, the collector's messageIds)
    POST   /_faults     {"destination": "wax", "status": 429, "times": 1, "retry_after": 1,
                         "delay": 0, "match": "<text in the body>", "drop": null}: the next `times`
                         matching requests get `status` (and Retry-After), after `delay` seconds (a
                         delay past the client's timeout plays a timeout: the request is recorded
                         with its answer, as a destination that took it); `match` narrows it to
                         bodies with that text. `drop` closes the connection with a reset instead of
                         answering, `delay` seconds after reading the body: "before_record" leaves
                         the request unrecorded (it never arrived), "after_record" records it with
                         the answer it would have had (it arrived, the answer was lost);
                         `answer` is the JSON body a faulted request gets (e.g. Meta's error object)
    DELETE /_faults     remove every fault
    POST   /_meta       {"datasets": {"<waba id>": "<dataset id>"}, "bad_tokens": [...],
                         "missing_permissions": [...]}: the Graph objects `make doctor` checks
                         (GET|POST /meta/<version>/<waba id>/dataset, GET /meta/<version>/me/permissions,
                         GET /meta/<version>/<dataset id>); DELETE /_meta forgets them
    POST   /_insights   {"accounts": {"<ad account id>": [{"date_start": "2026-06-18", "ad_id": ...,
                         "spend": "12.50", ...}]}, "page_size": 2, "throttle": 1}: the rows
                         GET /meta/<version>/act_<id>/insights serves (level=ad, time_increment=1,
                         filtered to time_range, paged by `limit`/page_size with paging.next), the
                         first `throttle` requests answered with Meta's rate-limit error (code 80000
                         and its usage headers); DELETE /_insights forgets them
    POST   /_shopify    {"orders": {"<shop>": [<Admin GraphQL order nodes>]}, "tokens": {"<shop>":
                         "<token>"}, "page_size": 2, "throttle": 1}: the orders
                         POST /shopify/<shop>/admin/api/<version>/graphql.json serves (updated_at
                         filter, sorted by updatedAt, paged by cursor), the first `throttle` queries
                         answered THROTTLED with their cost; a 429 with Retry-After is a /_faults
                         fault for destination "shopify"; DELETE /_shopify forgets them

    python -m devstack.standins --port 3001
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from wa_conversions.models.meta_rules import (
    MAX_EVENT_AGE_DAYS,
    META_EVENT_NAMES,
    META_VALUE_REQUIRED,
    VALUE_REQUIRED,
    too_old,
)
from wa_conversions.models.money import is_currency

DEFAULT_PORT: Final = 3001
DEFAULT_URL: Final = f"http://127.0.0.1:{DEFAULT_PORT}"
DESTINATIONS: Final = ("wax", "meta", "cm", "dialog360", "collector", "shopify")
DROPS: Final = ("before_record", "after_record")
# Where each destination lives under the stand-in's URL, by the template parameter that points at it.
PARAMETER_PATHS: Final = {
    "WaxBaseUrl": "/wax",
    "MetaGraphBaseUrl": "/meta",
    "CmEventUrl": "/cm/v1.0/event",
    "Dialog360BaseUrl": "/360dialog",
    "CollectorUrl": "/collector/v1/capture",
    "ShopifyAdminBaseUrl": "/shopify",
}
CM_CHANNEL_EVENTS: Final = frozenset({"MarkAsRead", "Block", "UnBlock"})
_HASH = re.compile(r"^[a-f0-9]{64}$")
_CM_NUMBER = re.compile(r"^00\d{6,15}$")
_DIGITS = re.compile(r"^\+?\d{6,15}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
# The collector's events (docs/forwarding.md) and the properties each must carry, with its direction.
COLLECTOR_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "message.received": ("messageId", "chatId", "direction", "contentType", "hasMedia"),
    "message.sent": ("messageId", "chatId", "direction"),
    "message.delivered": ("messageId", "deliveredAt"),
    "message.read": ("messageId", "readAt"),
    "message.failed": ("messageId", "failedAt"),
    "contact.created": ("chatId", "source"),
    "conversion.attributed": ("conversionId", "kind"),
    "conversion.unattributed": ("conversionId", "kind"),
    "order.paid": ("conversionId", "kind"),
    "order.cancelled": ("conversionId", "kind"),
    "refund.created": ("conversionId", "kind"),
}
COLLECTOR_DIRECTIONS: Final = {"message.received": "inbound", "message.sent": "outbound"}


class ShapeError(ValueError):
    pass


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise ShapeError(message)


def _bearer(headers: dict[str, str]) -> None:
    value = headers.get("authorization", "")
    _need(value.startswith("Bearer ") and len(value) > 7, "missing Authorization: Bearer <token>")


def check_wax(body: Any, headers: dict[str, str]) -> None:
    _bearer(headers)
    _need(isinstance(body, dict), "body must be a JSON object")
    _need(isinstance(body.get("metric"), str) and body["metric"], "metric: required string")
    _need(
        isinstance(body.get("phone_number"), str) and _DIGITS.match(body["phone_number"]) is not None,
        "phone_number: country code + digits",
    )
    _need(isinstance(body.get("unique_id"), str) and body["unique_id"], "unique_id: required string")
    _need(isinstance(body.get("properties", {}), dict), "properties: must be an object")


def check_meta_event(event: Any, now: float) -> None:
    _need(isinstance(event, dict), "each event must be an object")
    _need(
        event.get("event_name") in META_EVENT_NAMES,
        f"event_name {event.get('event_name')!r} is invalid for business_messaging (subcode 2804066)",
    )
    source = event.get("action_source")
    _need(source in ("business_messaging", "website"), "action_source must be business_messaging or website")
    _need(isinstance(event.get("event_time"), int), "event_time: unix seconds as an integer")
    _need(not too_old(event["event_time"], now), f"event_time is more than {MAX_EVENT_AGE_DAYS} days old")
    user = event.get("user_data")
    _need(isinstance(user, dict), "user_data: an object")
    if source == "business_messaging":
        _need(event.get("messaging_channel") == "whatsapp", "messaging_channel must be whatsapp")
        _need(isinstance(user.get("ctwa_clid"), str), "user_data.ctwa_clid required")
    else:
        # Meta: event_source_url is required for website events; ctwa_clid belongs to business messaging.
        url = event.get("event_source_url")
        _need(isinstance(url, str) and url.startswith(("https://", "http://")), "event_source_url required")
        _need("ctwa_clid" not in user, "user_data.ctwa_clid is for business_messaging events")
        _need(
            any(k in user for k in ("em", "ph", "client_ip_address", "fbc", "fbp", "external_id")),
            "user_data: website events need customer information (em, ph, client_ip_address...)",
        )
    options = event.get("data_processing_options", [])
    _need(isinstance(options, list) and set(options) <= {"LDU"}, 'data_processing_options: [] or ["LDU"]')
    if options:
        for field in ("data_processing_options_country", "data_processing_options_state"):
            _need(isinstance(event.get(field), int), f"{field}: an integer with LDU")
    if "opt_out" in event:
        _need(isinstance(event["opt_out"], bool), "opt_out: a boolean")
    for field in ("em", "ph", "external_id", "fn", "ln", "ct", "st", "zp", "country"):
        if field in user:
            values = user[field]
            _need(
                isinstance(values, list) and all(isinstance(v, str) and _HASH.match(v) for v in values),
                f"user_data.{field}: list of SHA-256 lowercase hex",
            )
    custom = event.get("custom_data", {})
    if (name := event["event_name"]) in META_VALUE_REQUIRED:
        _need(
            isinstance(custom.get("value"), int | float),
            f"custom_data.value: a number is required for {name}",
        )
        _need(
            isinstance(custom.get("currency"), str) and is_currency(custom["currency"]),
            f"custom_data.currency: ISO 4217 code required for {name}",
        )


def check_meta(body: Any, headers: dict[str, str]) -> int:
    _bearer(headers)
    _need(isinstance(body, dict) and isinstance(body.get("data"), list), "data: a list of events")
    _need(1 <= len(body["data"]) <= 1000, "data: 1 to 1000 events")
    now = time.time()
    for event in body["data"]:
        check_meta_event(event, now)
    return len(body["data"])


def check_cm(body: Any, headers: dict[str, str]) -> None:
    _need(isinstance(body, dict), "body must be a JSON object")
    _need(body.get("channel") == "WhatsApp", "channel must be WhatsApp")
    for side in ("from", "to"):
        number = (body.get(side) or {}).get("number")
        _need(isinstance(number, str) and _CM_NUMBER.match(number) is not None, f"{side}.number: 00 + digits")
    event = body.get("event")
    _need(isinstance(event, dict) and isinstance(event.get("type"), str), "event.type required")
    token = (body.get("authentication") or {}).get("productToken") or headers.get("x-cm-producttoken")
    _need(bool(token), "product token required (authentication.productToken or X-CM-PRODUCTTOKEN)")
    kind = event["type"]
    custom = event.get("custom") or {}
    if kind == "MarkAsRead":
        _need(
            isinstance(custom.get("message_id"), str) and custom["message_id"], "custom.message_id required"
        )
        return
    if kind in CM_CHANNEL_EVENTS:
        return
    _need(kind in META_EVENT_NAMES, f"event.type {kind!r} is not an allowed type")
    _need(isinstance(custom.get("ctwa_id"), str) and custom["ctwa_id"], "custom.ctwa_id required")
    if kind in VALUE_REQUIRED:
        _need(
            bool(custom.get("currency")) and custom.get("value") not in (None, ""),
            f"custom.currency and custom.value are mandatory for {kind}",
        )


def check_dialog360(body: Any, headers: dict[str, str]) -> None:
    _need(
        isinstance(body, dict) and isinstance(body.get("api_key"), str) and body["api_key"],
        "api_key required",
    )
    event = body.get("external_event")
    _need(isinstance(event, dict), "external_event: object required")
    _need(
        isinstance(event.get("lead_phone"), str) and _DIGITS.match(event["lead_phone"]) is not None,
        "external_event.lead_phone required",
    )
    _need(isinstance(event.get("action"), str) and event["action"], "external_event.action required")
    revenue = event.get("revenue")
    if revenue is not None:
        _need(
            isinstance(revenue, dict) and isinstance(revenue.get("amount"), int | float),
            "external_event.revenue.amount: a number",
        )


def check_collector_item(item: Any) -> None:
    _need(isinstance(item, dict), "each item must be an object")
    _need(item.get("type") == "track", "type must be track")
    event = item.get("event")
    _need(event in COLLECTOR_REQUIRED, f"event {event!r} is not one of the seed's events")
    user = item.get("userId")
    # "+<E.164>" (the seed), else a business-scoped user id: never bare digits without the plus
    _need(
        isinstance(user, str) and (_E164.match(user) is not None or not user.lstrip("+").isdigit()),
        "userId: +<E.164> or a business-scoped user id",
    )
    _need(
        isinstance(item.get("timestamp"), str) and _ISO_UTC.match(item["timestamp"]) is not None,
        "timestamp: ISO 8601 UTC",
    )
    _need(isinstance(item.get("messageId"), str) and item["messageId"], "messageId: required string (dedupe)")
    context = item.get("context")
    _need(
        isinstance(context, dict) and context.get("channel") == "whatsapp", "context.channel must be whatsapp"
    )
    library = context.get("library")
    _need(
        isinstance(library, dict) and all(isinstance(library.get(k), str) for k in ("name", "version")),
        "context.library: {name, version}",
    )
    properties = item.get("properties")
    _need(isinstance(properties, dict), "properties: must be an object")
    for name in COLLECTOR_REQUIRED[event]:
        _need(properties.get(name) not in (None, ""), f"{event} needs properties.{name}")
    if event in COLLECTOR_DIRECTIONS:
        _need(
            properties["direction"] == COLLECTOR_DIRECTIONS[event],
            f"{event}: direction must be {COLLECTOR_DIRECTIONS[event]}",
        )
    if event == "message.received":
        _need(isinstance(properties["hasMedia"], bool), "properties.hasMedia: a boolean")
    for name in ("readAt", "deliveredAt", "failedAt", "sentAt"):
        if name in properties:
            _need(
                isinstance(properties[name], str) and _ISO_UTC.match(properties[name]) is not None,
                f"properties.{name}: ISO 8601 UTC",
            )


def check_collector(body: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    key = headers.get("x-write-key", "")
    basic = headers.get("authorization", "")
    _need(
        bool(key) or (basic.startswith("Basic ") and len(basic) > 6),
        "missing the Write Key (X-Write-Key or Basic)",
    )
    _need(isinstance(body, dict) and isinstance(body.get("batch"), list), "batch: a list of track items")
    _need(1 <= len(body["batch"]) <= 100, "batch: 1 to 100 items")
    for item in body["batch"]:
        check_collector_item(item)
    items: list[dict[str, Any]] = body["batch"]
    return items


@dataclass
class Fault:
    destination: str
    status: int | None = None
    times: int = 1
    retry_after: float | None = None
    delay: float = 0.0
    match: str | None = None
    drop: str | None = None
    # The JSON the faulted request gets instead of {"error": "injected"} (Meta's error objects).
    answer: Any = None


# Graph API objects the Meta stand-in plays for `make doctor` (GET/POST /{waba}/dataset,
# GET /me/permissions, GET /{dataset}); POST /_meta sets them, DELETE /_meta resets them.
META_PERMISSIONS: Final = ("whatsapp_business_management", "whatsapp_business_manage_events")


def meta_dataset_for(waba_id: str) -> str:
    """The dataset id Meta would create for a WABA: stable, so a second create returns it again."""
    return str(int(uuid.uuid5(uuid.NAMESPACE_URL, f"dataset:{waba_id}").int % 10**15))


class StandIns:
    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.host = host
        self.requested_port = port
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.wax_ids: set[tuple[str, str]] = set()
        self.collector_ids: set[str] = set()
        # WABA id -> its dataset; tokens Meta refuses (code 190); permissions the token lacks
        self.meta_datasets: dict[str, str] = {}
        self.meta_bad_tokens: set[str] = set()
        self.meta_missing_permissions: set[str] = set()
        # ad account id -> its insights rows; rate-limit answers still to give; the most rows a page holds
        self.insights: dict[str, list[dict[str, Any]]] = {}
        self.insights_throttle = 0
        self.insights_page_size = 0
        # Shopify's Admin API: shop -> its orders (GraphQL nodes), access tokens, THROTTLED answers to give
        self.shopify_orders: dict[str, list[dict[str, Any]]] = {}
        self.shopify_tokens: dict[str, str] = {}
        self.shopify_throttle = 0
        self.shopify_page_size = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> StandIns:
        handler = type("StandInHandler", (_Handler,), {"standins": self})
        self._server = ThreadingHTTPServer((self.host, self.requested_port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="standins", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandIns:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "the stand-ins are not running"
        port = self._server.server_address[1]
        return f"http://{self.host}:{port}"

    def parameter_overrides(self, names: list[str] | None = None) -> dict[str, str]:
        """Template parameters pointing the destinations here."""
        return {
            name: self.url + path for name, path in PARAMETER_PATHS.items() if names is None or name in names
        }

    # -- state -------------------------------------------------------------------------------------

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.wax_ids.clear()
            self.collector_ids.clear()

    def set_meta(self, spec: Any) -> None:
        """POST /_meta {"datasets": {waba: dataset}, "bad_tokens": [...], "missing_permissions": [...]}."""
        _need(isinstance(spec, dict), "body must be a JSON object")
        datasets = spec.get("datasets", {})
        _need(isinstance(datasets, dict), "datasets: {waba id: dataset id}")
        with self._lock:
            self.meta_datasets.update({str(k): str(v) for k, v in datasets.items()})
            self.meta_bad_tokens |= {str(t) for t in spec.get("bad_tokens", [])}
            self.meta_missing_permissions |= {str(p) for p in spec.get("missing_permissions", [])}

    def reset_meta(self) -> None:
        with self._lock:
            self.meta_datasets.clear()
            self.meta_bad_tokens.clear()
            self.meta_missing_permissions.clear()

    def set_insights(self, spec: Any) -> None:
        _need(isinstance(spec, dict), "body must be a JSON object")
        accounts = spec.get("accounts", {})
        _need(isinstance(accounts, dict), "accounts: {ad account id: [rows]}")
        with self._lock:
            for account, rows in accounts.items():
                _need(isinstance(rows, list), f"accounts.{account}: a list of rows")
                self.insights[str(account).removeprefix("act_")] = [dict(r) for r in rows]
            self.insights_throttle = int(spec.get("throttle", 0))
            self.insights_page_size = int(spec.get("page_size", 0))

    def reset_insights(self) -> None:
        with self._lock:
            self.insights.clear()
            self.insights_throttle = 0
            self.insights_page_size = 0

    def ad_insights(
        self, account: str, version: str, headers: dict[str, str], query: str
    ) -> tuple[int, Any, dict[str, str]]:
        """GET /{version}/act_{id}/insights as the Marketing API answers it
        (https://developers.facebook.com/docs/marketing-api/insights)."""
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        params = dict(_query_pairs(query))
        token = token or params.get("access_token", "")
        if not token or token in self.meta_bad_tokens:
            return 400, _graph_error("Invalid OAuth access token - Cannot parse access token", 190), {}
        with self._lock:
            if self.insights_throttle > 0:
                self.insights_throttle -= 1
                usage = {
                    account: [
                        {
                            "type": "ads_insights",
                            "call_count": 100,
                            "total_cputime": 100,
                            "total_time": 100,
                            "estimated_time_to_regain_access": 0,
                        }
                    ]
                }
                return (
                    400,
                    _graph_error("(#80000) There have been too many calls from this ad-account.", 80000),
                    {
                        "x-business-use-case-usage": json.dumps(usage),
                        "x-fb-ads-insights-throttle": json.dumps(
                            {
                                "app_id_util_pct": 100,
                                "acc_id_util_pct": 100,
                                "ads_api_access_tier": "standard_access",
                            }
                        ),
                    },
                )
            rows = list(self.insights.get(account, []))
            page_size = self.insights_page_size
        try:
            _need(params.get("level") == "ad", "level must be ad")
            _need(params.get("time_increment") == "1", "time_increment must be 1 (daily)")
            fields = [f for f in params.get("fields", "").split(",") if f]
            _need(bool(fields), "fields is required")
            window = json.loads(params.get("time_range") or "{}")
            _need(
                isinstance(window, dict) and {"since", "until"} <= set(window), "time_range: {since, until}"
            )
            limit = int(params.get("limit", "25"))
            offset = int(params.get("after", "0") or 0)
        except (ValueError, ShapeError) as error:
            return 400, _graph_error(f"(#100) {error}", 100), {}
        chosen = [
            {
                **{k: row[k] for k in fields if k in row},
                "date_start": row["date_start"],
                "date_stop": row.get("date_stop", row["date_start"]),
            }
            for row in rows
            if window["since"] <= str(row.get("date_start", "")) <= window["until"]
        ]
        size = min(limit, page_size) if page_size else limit
        page = chosen[offset : offset + size]
        body: dict[str, Any] = {
            "data": page,
            "paging": {"cursors": {"before": str(offset), "after": str(offset + len(page))}},
        }
        if offset + size < len(chosen):
            following = {**params, "after": str(offset + size)}
            from urllib.parse import urlencode

            body["paging"]["next"] = (
                f"{self.url}/meta/{version}/act_{account}/insights?{urlencode(following)}"
            )
        return 200, body, {}

    def graph(self, method: str, path: str, headers: dict[str, str], query: str) -> tuple[int, Any]:
        """The Graph API calls `make doctor` makes, as Meta documents them (docs/forwarding.md)."""
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not token:
            token = next((v for k, v in _query_pairs(query) if k == "access_token"), "")
        if not token or token in self.meta_bad_tokens:
            return 400, _graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        match = re.fullmatch(r"/(v[\d.]+)/([^/]+)(?:/([^/]+))?", path)
        if match is None:
            return 400, _graph_error(f"Unknown path components: {path}", 2500)
        _, node, edge = match.groups()
        with self._lock:
            if node == "me" and edge == "permissions" and method == "GET":
                return 200, {
                    "data": [
                        {"permission": name, "status": "granted"}
                        for name in META_PERMISSIONS
                        if name not in self.meta_missing_permissions
                    ]
                }
            if edge == "dataset":
                if method == "POST":
                    dataset = self.meta_datasets.setdefault(node, meta_dataset_for(node))
                    return 200, {"id": dataset}
                found = self.meta_datasets.get(node)
                return 200, {"data": [{"id": found}] if found else []}
            if edge is None and method == "GET" and node in self.meta_datasets.values():
                if "whatsapp_business_manage_events" in self.meta_missing_permissions:
                    return 403, _graph_error("(#10) Permission denied: whatsapp_business_manage_events", 10)
                return 200, {"id": node, "name": f"WhatsApp dataset {node}"}
        return 400, _graph_error(
            f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to "
            "missing permissions, or does not support this operation",
            100,
        )

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def take_fault(self, destination: str, raw_body: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.destination == destination and (not fault.match or fault.match in raw_body):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def recorded(self, destination: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.requests if destination is None or r["destination"] == destination]

    def set_shopify(self, spec: Any) -> None:
        _need(isinstance(spec, dict), "body must be a JSON object")
        orders = spec.get("orders", {})
        _need(isinstance(orders, dict), "orders: {shop: [order nodes]}")
        with self._lock:
            for shop, nodes in orders.items():
                _need(isinstance(nodes, list), f"orders.{shop}: a list of order nodes")
                known = {str(n.get("legacyResourceId")): n for n in self.shopify_orders.get(shop, [])}
                known.update({str(n.get("legacyResourceId")): dict(n) for n in nodes if isinstance(n, dict)})
                self.shopify_orders[str(shop)] = list(known.values())
            self.shopify_tokens.update({str(k): str(v) for k, v in (spec.get("tokens") or {}).items()})
            self.shopify_throttle = int(spec.get("throttle", 0))
            self.shopify_page_size = int(spec.get("page_size", 0))

    def reset_shopify(self) -> None:
        with self._lock:
            self.shopify_orders.clear()
            self.shopify_tokens.clear()
            self.shopify_throttle = 0
            self.shopify_page_size = 0

    def admin_graphql(self, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        """The `orders` query of Shopify's Admin GraphQL API
        (https://shopify.dev/docs/api/admin-graphql/latest/queries/orders), with its cost extension."""
        match = re.fullmatch(r"/([^/]+)/admin/api/(\d{4}-\d{2})/graphql\.json", path)
        if match is None:
            return 404, {"errors": "Not Found"}
        shop = match[1]
        token = headers.get("x-shopify-access-token", "")
        with self._lock:
            expected = self.shopify_tokens.get(shop)
            if not token or (expected is not None and token != expected):
                return 401, {
                    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
                }
            if self.shopify_throttle > 0:
                self.shopify_throttle -= 1
                # 152 points asked, 100 left, 100 back per second: the client waits about half a second
                return 200, {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {"cost": _shopify_cost(None, 100.0)},
                }
            nodes = list(self.shopify_orders.get(shop, []))
            page_size = self.shopify_page_size
        try:
            _need(isinstance(body, dict) and isinstance(body.get("query"), str), "body: {query, variables}")
            _need("orders(" in body["query"], "only the orders query is played here")
            variables = body.get("variables") or {}
            first = int(variables.get("first") or 0)
            _need(1 <= first <= 250, "first: 1 to 250")
            search = str(variables.get("query") or "")
            since = re.search(r"updated_at:>=?'?([^' ]+)'?", search)
            offset = int(variables.get("after") or 0) if str(variables.get("after") or "0").isdigit() else -1
            _need(offset >= 0, "after: a cursor this API gave")
        except (ValueError, TypeError, ShapeError) as error:
            return 200, {"errors": [{"message": str(error), "extensions": {"code": "BAD_REQUEST"}}]}
        chosen = sorted(
            (n for n in nodes if since is None or str(n.get("updatedAt", "")) >= since[1]),
            key=lambda n: str(n.get("updatedAt", "")),
        )
        size = min(first, page_size) if page_size else first
        page = chosen[offset : offset + size]
        return 200, {
            "data": {
                "orders": {
                    "nodes": page,
                    "pageInfo": {
                        "hasNextPage": offset + size < len(chosen),
                        "endCursor": str(offset + len(page)) if page else None,
                    },
                }
            },
            "extensions": {"cost": _shopify_cost(12, 1988.0)},
        }

    def answer(self, destination: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        """The destination's answer to a well-routed request (after faults)."""
        if destination == "shopify":
            return self.admin_graphql(path, body, headers)
        try:
            if destination == "wax":
                _need(path.endswith("/metric-events"), f"no route {path}")
                check_wax(body, headers)
                key = (body["metric"], body["unique_id"])
                with self._lock:
                    if key in self.wax_ids:
                        return 409, {
                            "error": "conflict",
                            "message": "unique_id already exists for this metric",
                        }
                    self.wax_ids.add(key)
                return 201, {"id": str(uuid.uuid4())}
            if destination == "meta":
                _need(re.fullmatch(r"/v[\d.]+/[^/]+/events", path) is not None, f"no route {path}")
                received = check_meta(body, headers)
                return 200, {"events_received": received, "messages": [], "fbtrace_id": uuid.uuid4().hex}
            if destination == "cm":
                _need(path == "/v1.0/event", f"no route {path}")
                check_cm(body, headers)
                return 200, {"status": "accepted"}
            if destination == "collector":
                _need(path == "/v1/capture", f"no route {path}")
                items = check_collector(body, headers)
                with self._lock:
                    # The collector dedupes on messageId, as Segment does: a repeat is acknowledged.
                    fresh = {item["messageId"] for item in items} - self.collector_ids
                    self.collector_ids |= fresh
                return 200, {"accepted": len(fresh), "duplicates": len(items) - len(fresh), "errors": []}
            _need(re.fullmatch(r"/clients/[^/]+/external-events", path) is not None, f"no route {path}")
            check_dialog360(body, headers)
            return 200, {"external_event_id": str(uuid.uuid4())}
        except ShapeError as error:
            if destination == "meta":
                return 400, {
                    "error": {
                        "message": str(error),
                        "type": "OAuthException",
                        "code": 100,
                        "error_subcode": 2804066 if "event_name" in str(error) else 2804003,
                    }
                }
            return 400, {"error": "bad_request", "message": str(error)}


def _shopify_cost(actual: int | None, available: float) -> dict[str, Any]:
    return {
        "requestedQueryCost": 152,
        "actualQueryCost": actual,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": available, "restoreRate": 100.0},
    }


def _graph_error(message: str, code: int) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": uuid.uuid4().hex}
    }


def _query_pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query)


_PREFIXES: Final = (
    ("/shopify", "shopify"),
    ("/wax", "wax"),
    ("/meta", "meta"),
    ("/cm", "cm"),
    ("/360dialog", "dialog360"),
    ("/collector", "collector"),
)


class _Handler(BaseHTTPRequestHandler):
    standins: StandIns
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode("utf-8", "replace") if length else ""

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/_requests":
            self._reply(200, self.standins.recorded())
            return
        insights = re.fullmatch(r"/meta/(v[\d.]+)/act_([^/]+)/insights", path)
        if insights is not None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, answer, extra = self.standins.ad_insights(insights[2], insights[1], headers, query)
            self._record("meta_insights", None, headers, status, "GET")
            self._reply(status, answer, extra)
            return
        if path.startswith("/meta/"):
            self._graph("GET", path[len("/meta") :], query, None)
            return
        self._reply(404, {"error": "not_found"})

    def _graph(self, method: str, path: str, query: str, body: Any) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, answer = self.standins.graph(method, path, headers, query)
        self._record("meta", body, headers, status, method)
        version = path.split("/")[1] if path.count("/") >= 1 else ""
        self._reply(status, answer, {"facebook-api-version": version})

    def do_DELETE(self) -> None:
        path = self.path.split("?")[0]
        if path == "/_requests":
            self.standins.clear()
            self._reply(200, {"cleared": True})
        elif path == "/_faults":
            with self.standins._lock:
                self.standins.faults.clear()
            self._reply(200, {"cleared": True})
        elif path == "/_meta":
            self.standins.reset_meta()
            self._reply(200, {"cleared": True})
        elif path == "/_insights":
            self.standins.reset_insights()
            self._reply(200, {"cleared": True})
        elif path == "/_shopify":
            self.standins.reset_shopify()
            self._reply(200, {"cleared": True})
        else:
            self._reply(404, {"error": "not_found"})

    def do_POST(self) -> None:
        raw = self._body()
        path, _, query = self.path.partition("?")
        if path == "/_meta":
            try:
                self.standins.set_meta(json.loads(raw or "{}"))
            except (ValueError, ShapeError) as error:
                self._reply(400, {"error": "bad_request", "message": str(error)})
                return
            self._reply(200, {"set": True})
            return
        if path == "/_shopify":
            try:
                self.standins.set_shopify(json.loads(raw or "{}"))
            except (ValueError, TypeError, ShapeError) as error:
                self._reply(400, {"error": "bad_request", "message": str(error)})
                return
            self._reply(200, {"set": True})
            return
        if path == "/_insights":
            try:
                self.standins.set_insights(json.loads(raw or "{}"))
            except (ValueError, TypeError, ShapeError) as error:
                self._reply(400, {"error": "bad_request", "message": str(error)})
                return
            self._reply(200, {"set": True})
            return
        if re.fullmatch(r"/meta/v[\d.]+/[^/]+/dataset", path):
            self._graph("POST", path[len("/meta") :], query, raw or None)
            return
        if path == "/_faults":
            try:
                spec = json.loads(raw)
                _need(spec.get("destination") in DESTINATIONS, f"destination: one of {DESTINATIONS}")
                _need(spec.get("drop") in (None, *DROPS), f"drop: one of {DROPS}")
                fields = ("destination", "status", "times", "retry_after", "delay", "match", "drop", "answer")
                fault = Fault(**{k: spec[k] for k in fields if k in spec})
            except (ValueError, TypeError, ShapeError) as error:
                self._reply(400, {"error": "bad_request", "message": str(error)})
                return
            self.standins.add_fault(fault)
            self._reply(201, {"added": fault.__dict__})
            return
        for prefix, destination in _PREFIXES:
            if path == prefix or path.startswith(prefix + "/"):
                self._destination(destination, path[len(prefix) :], raw)
                return
        self._reply(404, {"error": "not_found", "message": f"no stand-in at {path}"})

    def _destination(self, destination: str, path: str, raw: str) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        fault = self.standins.take_fault(destination, raw)
        status: int
        answer: Any
        extra: dict[str, str] = {}
        if fault is not None and fault.drop is not None:
            self._drop(fault, destination, path, body, headers)
            return
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            status = fault.status
            answer = fault.answer if fault.answer is not None else {"error": "injected", "status": status}
            if fault.retry_after is not None:
                extra["Retry-After"] = str(
                    int(fault.retry_after) if float(fault.retry_after).is_integer() else fault.retry_after
                )
        else:
            status, answer = self.standins.answer(destination, path, body, headers)
        self._record(destination, body, headers, status)
        # the client may have given up (a timeout fault): then there is nothing to answer
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._reply(status, answer, extra)

    def _record(
        self, destination: str, body: Any, headers: dict[str, str], status: int, method: str = "POST"
    ) -> None:
        self.standins.record(
            {
                "destination": destination,
                "method": method,
                "path": self.path,
                "headers": headers,
                "body": body,
                "status": status,
                "at": time.time(),
            }
        )

    def _drop(self, fault: Fault, destination: str, path: str, body: Any, headers: dict[str, str]) -> None:
        """The body was read; no answer will come: a reset after `delay` (a timeout when longer than
        the client waits). "after_record" first takes the request as the destination would."""
        if fault.drop == "after_record":
            status = fault.status
            if status is None:
                status, _ = self.standins.answer(destination, path, body, headers)
            self._record(destination, body, headers, status)
        if fault.delay:
            time.sleep(fault.delay)
        self.close_connection = True
        connection: socket.socket = self.connection
        with contextlib.suppress(OSError):
            # Linger 0: closing sends RST, which the client reads as a reset, not an orderly end.
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            connection.close()
        # what the server flushes and closes after the handler: nothing is left to send
        self.wfile = io.BytesIO()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.standins",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    with StandIns(args.host, args.port) as standins:
        print(f"stand-ins ready at {standins.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
