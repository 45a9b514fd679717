"""The forwarding step of `make demo`: what each enabled destination's stand-in received for the
attributed order of the attribution step, what the collector received of the whole conversation,
and how the delivery log recorded it."""

from __future__ import annotations

import json
from typing import Any

import httpx

from devstack.stack import DevStack

NAMES = {
    "wax": "Wax",
    "meta": "Meta CAPI",
    "cm": "CM.com",
    "dialog360": "360dialog",
    "collector": "Collector",
}
SECRET_KEYS = frozenset({"api_key", "productToken"})


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("***" if k in SECRET_KEYS else _redacted(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def _collector_lines(body: Any) -> list[str]:
    """One line per track item: the seed's event, when, and its properties."""
    items = body.get("batch") if isinstance(body, dict) else None
    return [
        f"{item.get('event'):<24} {item.get('timestamp')}  "
        f"{json.dumps(item.get('properties'), ensure_ascii=False)}"
        for item in items or []
        if isinstance(item, dict)
    ]


def _compact(destination: str, body: Any) -> str:
    """The part of each request that tells what was sent, on one line."""
    if not isinstance(body, dict):
        return str(body)
    if destination == "collector":
        return "\n             ".join(_collector_lines(body))
    if destination == "meta":
        events = body.get("data") or []
        body = {"events": len(events), **(events[0] if events else {})}
        if isinstance(body.get("user_data"), dict):
            body["user_data"] = {
                k: (v if k != "ctwa_clid" else v[:16] + "...")
                for k, v in body["user_data"].items()
                if k in ("ctwa_clid", "whatsapp_business_account_id")
            } | {"hashed": sorted(k for k in body["user_data"] if k in ("em", "ph", "external_id"))}
    return json.dumps(_redacted(body), ensure_ascii=False)


def run(stack: DevStack, api: httpx.Client, env: dict[str, str]) -> None:
    stack.wait_until_idle()
    with httpx.Client(base_url=stack.standins.url, timeout=10.0) as standins:
        requests = standins.get("/_requests").json()
    conversions = [
        r
        for r in requests
        if not (
            r["destination"] == "cm"
            and ((r.get("body") or {}).get("event") or {}).get("type") in ("MarkAsRead", "Block", "UnBlock")
        )
    ]
    if not conversions:
        print("No conversion reached a destination (no attributed order in this demo run).")
        return
    print(f"Stand-ins on {stack.standins.url} received:")
    for request in conversions:
        name = NAMES.get(request["destination"], request["destination"])
        print(f"  {name:<10} {request['method']} {request['path']} -> {request['status']}")
        print(f"             {_compact(request['destination'], request.get('body'))}")
    log = api.get("/deliveries").json().get("deliveries", [])
    print("Delivery log (GET /deliveries):")
    for item in log:
        reason = f" ({item['reason']})" if item.get("reason") else ""
        print(
            f"  {item['destination']:<10} {item['status']:<10} attempts={item['attempts']} "
            f"{item['eventId']}{reason}"
        )
