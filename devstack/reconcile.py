"""`python -m devstack reconcile [--shop SHOP] [--since TIME]`: run ShopifyReconcileFunction of a running
local stack (`make dev`) now, through the stack's Lambda Invoke endpoint, and print each shop's outcome.

The function reads the orders of SHOPIFY_SHOPS (local.env) from the Admin API stand-in (POST
/_shopify on it sets the orders it serves, docs/shopify.md) and queues what it finds for the orders
processor, as webhooks are. Without --since each shop goes on from its cursor.
"""

from __future__ import annotations

import argparse

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
    from devstack.invoke import invoke_and_print

    event = {k: v for k, v in (("shop", args.shop), ("since", args.since)) if v}
    return invoke_and_print(args.api_url, FUNCTION, event)
