"""`python -m devstack reconcile [--shop SHOP] [--since TIME]`: run ShopifyReconcileFunction of a running
local stack (`make dev`) now, through the stack's Lambda Invoke endpoint, and print each shop's outcome.

The function reads the orders of SHOPIFY_SHOPS (local.env) from the Admin API stand-in (POST
/_shopify on it sets the orders it serves, docs/shopify.md) and queues what it finds for the orders
processor, as webhooks are. Without --since each shop goes on from its cursor.
"""

from __future__ import annotations

import argparse
import json

FUNCTION = "ShopifyReconcileFunction"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "reconcile",
        help="reconcile the shops' orders from the Admin API into the local stack now",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--shop", help="one shop (*.myshopify.com) of SHOPIFY_SHOPS; default: all of them")
    parser.add_argument("--since", help="ISO 8601 time or day, UTC (default: each shop's cursor)")
    parser.add_argument("--api-url", default="http://127.0.0.1:3000", help="the local stack's API URL")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import httpx

    event = {k: v for k, v in (("shop", args.shop), ("since", args.since)) if v}
    url = f"{args.api_url.rstrip('/')}/2015-03-31/functions/{FUNCTION}/invocations"
    try:
        response = httpx.post(url, json=event, timeout=330.0)
    except httpx.HTTPError as error:
        raise SystemExit(f"no local stack at {args.api_url} ({error}): start it with `make dev`") from None
    if response.status_code != 200 or response.headers.get("X-Amz-Function-Error"):
        raise SystemExit(f"{FUNCTION} failed ({response.status_code}): {response.text}")
    print(json.dumps(response.json(), indent=2))
    return 0
