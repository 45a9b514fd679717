"""`python -m devstack serve`: the whole application on one machine, until Ctrl-C or SIGTERM.

stdout carries a single line, `devstack ready api=<url> aws=<url>`, once everything is up, so that
scripts can wait for it; everything else (the stack's log and the functions' output) goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from devstack.stack import DEFAULT_STACK_NAME, DevStack

log = logging.getLogger("devstack")
DEFAULT_ENV_FILE = Path("local.env")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the API locally against an embedded AWS (Ctrl-C stops)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=3000, help="API port; 0 picks a free one (default 3000)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument(
        "--env-file",
        type=Path,
        default=None,
        help="secrets and parameter overrides (default: local.env when it exists)",
    )
    parser.add_argument("--region", default=None, help="default: AWS_REGION, AWS_DEFAULT_REGION or us-east-1")
    parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="template parameters; they win over the env file",
    )
    parser.add_argument(
        "--no-reload",
        dest="reload",
        action="store_false",
        help="keep workers running when function or layer code changes",
    )
    parser.add_argument("--moto", choices=["thread", "process"], default="thread", help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.set_defaults(run=run)


def _overrides(pairs: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator:
            raise SystemExit(f"--parameter-overrides expects NAME=VALUE, got {pair!r}")
        overrides[name] = value
    return overrides


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    env_file: Path | None = args.env_file
    if env_file is None and DEFAULT_ENV_FILE.is_file():
        env_file = DEFAULT_ENV_FILE
    elif env_file is None:
        log.warning("no %s: starting without secrets", DEFAULT_ENV_FILE)

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    # Handlers first: a Ctrl-C during start-up must still tear down what was started.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    stack = DevStack(
        args.template,
        env_file,
        port=args.port,
        host=args.host,
        region=args.region,
        stack_name=args.stack_name,
        parameter_overrides=_overrides(args.parameter_overrides),
        moto=args.moto,
        reload=args.reload,
    )
    try:
        stack.start()
    except Exception as error:
        log.error("the local stack did not start: %s", error, exc_info=args.verbose)
        return 1
    try:
        # Anything this process itself runs (a debugger session, a plugin) talks to the same AWS.
        os.environ.update(stack.aws_environment())
        if not stopping.is_set():
            print(f"devstack ready api={stack.api_url} aws={stack.aws_endpoint}", flush=True)
            log.info("serving; Ctrl-C stops")
        while not stopping.wait(0.5):
            pass
        log.info("stopping")
    finally:
        stack.stop()
    return 0
