"""`python -m devstack insights [--since DAY] [--until DAY]`: run AdInsightsFunction of a running
local stack (`make dev`) now, through the stack's Lambda Invoke endpoint, and print what it stored.

The function reads Meta's ad insights of META_AD_ACCOUNT_IDS (local.env) from the stand-in
(POST /_insights on it sets the rows it serves) and replaces the stored spend of those days.
"""

from __future__ import annotations

import argparse

FUNCTION = "AdInsightsFunction"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "insights",
        help="read Meta's ad insights into the local stack now",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--since", help="first day, YYYY-MM-DD (default: the lookback days before --until)")
    parser.add_argument("--until", help="last day, YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--api-url", default="http://127.0.0.1:3000", help="the local stack's API URL")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from devstack.invoke import invoke_and_print

    event = {k: v for k, v in (("since", args.since), ("until", args.until)) if v}
    return invoke_and_print(args.api_url, FUNCTION, event)
