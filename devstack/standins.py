"""Local stand-ins for the destinations: Wax, Meta Graph (Conversions API), CM.com's event endpoint
and 360dialog, on one port (http://127.0.0.1:3001 by default), under one path prefix each:

    /wax/v1/metric-events                       Wax metric events (Bearer token)
    /meta/<version>/<dataset id>/events         Meta Conversions API (Bearer token)
    /cm/v1.0/event                              CM.com events: Meta Conversions, MarkAsRead, Block, UnBlock
    /360dialog/clients/<client id>/external-events   360dialog off-thread events

Each request is checked against the shape its API documents (a wrong one gets 400 with the reason,
as the real API would refuse it) and recorded. Control endpoints:

    GET    /_requests   every request: [{destination, method, path, headers, body, status}]
    DELETE /_requests   forget them (and Wax's remembered unique_ids)
    POST   /_faults     {"destination": "wax", "status": 429, "times": 1, "retry_after": 1,
                         "delay": 0, "match": "<text in the body>"}: the next `times` matching
                         requests get `status` (and Retry-After), after `delay` seconds (a delay past
                         the client's timeout plays a timeout); `match` narrows it to bodies with that text
    DELETE /_faults     remove every fault

    python -m devstack.standins --port 3001
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from wa_conversions.forwarding.names import META_EVENT_NAMES

DEFAULT_PORT: Final = 3001
DEFAULT_URL: Final = f"http://127.0.0.1:{DEFAULT_PORT}"
DESTINATIONS: Final = ("wax", "meta", "cm", "dialog360")
# Where each destination lives under the stand-in's URL, by the template parameter that points at it.
PARAMETER_PATHS: Final = {
    "WaxBaseUrl": "/wax",
    "MetaGraphBaseUrl": "/meta",
    "CmEventUrl": "/cm/v1.0/event",
    "Dialog360BaseUrl": "/360dialog",
}
CM_CHANNEL_EVENTS: Final = frozenset({"MarkAsRead", "Block", "UnBlock"})
_HASH = re.compile(r"^[a-f0-9]{64}$")
_CM_NUMBER = re.compile(r"^00\d{6,15}$")
_DIGITS = re.compile(r"^\+?\d{6,15}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


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
    _need(event.get("action_source") == "business_messaging", "action_source must be business_messaging")
    _need(event.get("messaging_channel") == "whatsapp", "messaging_channel must be whatsapp")
    _need(isinstance(event.get("event_time"), int), "event_time: unix seconds as an integer")
    _need(now - event["event_time"] <= 7 * 86400, "event_time is more than 7 days old")
    user = event.get("user_data")
    _need(isinstance(user, dict) and isinstance(user.get("ctwa_clid"), str), "user_data.ctwa_clid required")
    for field in ("em", "ph", "external_id"):
        if field in user:
            values = user[field]
            _need(
                isinstance(values, list) and all(isinstance(v, str) and _HASH.match(v) for v in values),
                f"user_data.{field}: list of SHA-256 lowercase hex",
            )
    custom = event.get("custom_data", {})
    if event["event_name"] == "Purchase":
        _need(
            isinstance(custom.get("value"), int | float),
            "custom_data.value: a number is required for Purchase",
        )
        _need(
            isinstance(custom.get("currency"), str) and _CURRENCY.match(custom["currency"]) is not None,
            "custom_data.currency: ISO 4217 code required for Purchase",
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
    if kind in {"Purchase", "OrderCreated", "OrderShipped"}:
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


@dataclass
class Fault:
    destination: str
    status: int | None = None
    times: int = 1
    retry_after: float | None = None
    delay: float = 0.0
    match: str | None = None


class StandIns:
    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.host = host
        self.requested_port = port
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.wax_ids: set[tuple[str, str]] = set()
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

    def answer(self, destination: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        """The destination's answer to a well-routed request (after faults)."""
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


_PREFIXES: Final = (("/wax", "wax"), ("/meta", "meta"), ("/cm", "cm"), ("/360dialog", "dialog360"))


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
        if self.path.split("?")[0] == "/_requests":
            self._reply(200, self.standins.recorded())
            return
        self._reply(404, {"error": "not_found"})

    def do_DELETE(self) -> None:
        path = self.path.split("?")[0]
        if path == "/_requests":
            self.standins.clear()
            self._reply(200, {"cleared": True})
        elif path == "/_faults":
            with self.standins._lock:
                self.standins.faults.clear()
            self._reply(200, {"cleared": True})
        else:
            self._reply(404, {"error": "not_found"})

    def do_POST(self) -> None:
        raw = self._body()
        path = self.path.split("?")[0]
        if path == "/_faults":
            try:
                spec = json.loads(raw)
                _need(spec.get("destination") in DESTINATIONS, f"destination: one of {DESTINATIONS}")
                fault = Fault(
                    **{
                        k: spec[k]
                        for k in ("destination", "status", "times", "retry_after", "delay", "match")
                        if k in spec
                    }
                )
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
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            status, answer = fault.status, {"error": "injected", "status": fault.status}
            if fault.retry_after is not None:
                extra["Retry-After"] = str(
                    int(fault.retry_after) if float(fault.retry_after).is_integer() else fault.retry_after
                )
        else:
            status, answer = self.standins.answer(destination, path, body, headers)
        self.standins.record(
            {
                "destination": destination,
                "method": "POST",
                "path": self.path,
                "headers": headers,
                "body": body,
                "status": status,
                "at": time.time(),
            }
        )
        # the client may have given up (a timeout fault): then there is nothing to answer
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._reply(status, answer, extra)


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
