"""`python -m devstack demo` (`make demo`): the product end to end on one machine.

Starts the local stack, posts the sample webhooks of events/ to it over HTTP, waits until every queue
is drained, prints what was captured, runs each capability's own demo step, then stops.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from devstack.stack import QUICK_BATCHING_WINDOW, DevStack

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
LOG = ROOT / "build" / "demo.log"
CAPTURE_SAMPLES = (
    "whatsapp_text_ctwa_referral.json",
    "whatsapp_status_sent.json",
    "whatsapp_status_delivered.json",
    "whatsapp_status_read.json",
    "whatsapp_automatic_event_purchase.json",
)
SAMPLE_CONTACT = "16505551234"
SAMPLE_MESSAGES = (
    "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUQ0N0VFMDA2MTQ0RkJFNkNDNAA=",
    "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
)
# Each capability adds a module with run(stack, api, env); those present run in this order.
STEPS = ("demo_attribution", "demo_forwarding", "demo_cm", "demo_analytics")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the product end to end on the sample payloads", description=__doc__
    )
    parser.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    parser.set_defaults(run=run)


def post_event(api: httpx.Client, event: dict[str, Any]) -> httpx.Response:
    """Replays an API Gateway event from events/ as the HTTP request it stands for: a REST API's
    (payload 1.0) or an HTTP API's (2.0, whose rawPath holds the stage the local API serves without)."""
    body = event.get("body") or ""
    content = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "host"}
    if event.get("version") == "2.0":
        context = event["requestContext"]
        stage = "" if context["stage"] == "$default" else f"/{context['stage']}"
        query = event.get("rawQueryString") or ""
        path = event["rawPath"].removeprefix(stage) + (f"?{query}" if query else "")
        return api.request(context["http"]["method"], path, content=content, headers=headers)
    return api.request(
        event["httpMethod"],
        event["path"],
        params=event.get("queryStringParameters"),
        content=content,
        headers=headers,
    )


def _print_capture(api: httpx.Client, out: Any) -> None:
    contact = api.get(f"/contacts/{SAMPLE_CONTACT}").json()
    print("\nContact", file=out)
    print(
        f"  +{contact['phone']}  {contact['name']}  first seen {contact['first_seen_at']}"
        f"  messages in/out {contact['messages']['inbound']}/{contact['messages']['outbound']}",
        file=out,
    )
    print("Referrals (ad clicks)", file=out)
    for referral in contact["referrals"]:
        clid = referral["ctwa_clid"] or "-"
        print(
            f"  ad {referral['source_id']} ({referral['source_type']}) '{referral['headline']}'"
            f"  ctwa_clid {clid[:24]}…  at {referral['received_at']}",
            file=out,
        )
    print("Messages", file=out)
    for message_id in SAMPLE_MESSAGES:
        message = api.get(f"/messages/{quote(message_id, safe='')}").json()
        lifecycle = ", ".join(f"{state} {at[11:19]}" for state, at in message["statuses"].items())
        print(
            f"  {message['direction']:<8} {message['type']:<8} {message['status']:<9} [{lifecycle}]", file=out
        )


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    LOG.parent.mkdir(exist_ok=True)
    print(
        "Starting the local stack (embedded AWS, the functions of template.yaml);"
        f" logs: {LOG.relative_to(ROOT)}",
        file=out,
    )
    with (
        LOG.open("w") as log,
        DevStack(
            ROOT / "template.yaml",
            ROOT / "local.env",
            port=args.port,
            log_stream=log,
            batching_window_cap=QUICK_BATCHING_WINDOW,
        ) as stack,
    ):
        env = dict(stack.env_values)
        api = httpx.Client(base_url=stack.api_url, timeout=10.0, headers={"X-Api-Key": env["API_KEY"]})
        print(f"API on {stack.api_url}\n\nPosting the sample WhatsApp webhooks from events/", file=out)
        for name in CAPTURE_SAMPLES:
            response = post_event(api, json.loads((EVENTS / name).read_text()))
            print(f"  POST /webhooks/whatsapp  {name:<42} → {response.status_code}", file=out)
            response.raise_for_status()
        stack.wait_until_idle()
        _print_capture(api, out)
        for step in STEPS:
            try:
                module = importlib.import_module(f"devstack.{step}")
            except ModuleNotFoundError:
                continue
            print(f"\n== {step.removeprefix('demo_')} ==", file=out)
            module.run(stack, api, env)
        api.close()
    print("\nStopped the local stack.", file=out)
    return 0
