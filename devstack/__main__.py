"""Command line: `python -m devstack <command>`. Each command lives in a module of its own that
provides `add_parser(subparsers)`; the parser's `run` default is called with the parsed arguments."""

from __future__ import annotations

import argparse
import sys

from devstack import demo, insights, layer_requirements, openapi, reconcile, redrive, serve

COMMANDS = (serve, demo, layer_requirements, redrive, insights, reconcile, openapi)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
