"""One function's execution environment: a long-lived process that plays the Lambda Python runtime.

The parent (devstack.runtime) starts it as a script, `python -u devstack/worker.py ...`, so that it
imports nothing from the devstack package: its sys.path is the function's, not the tool's. The
channel is private: requests arrive as JSON lines on the original stdin, which is then replaced by
/dev/null, and replies go to a pipe passed by descriptor. stdout and stderr are left to the handler;
the parent reads them and prefixes each line with the function's name.
"""

from __future__ import annotations

import argparse
import contextlib
import decimal
import functools
import importlib
import json
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

Handler = Callable[[Any, Any], Any]
# Must match devstack.runtime; this script cannot import it.
END_OF_OUTPUT = "\x1edevstack-end-of-output:"


class LambdaContext:
    """The attributes and method of the Lambda runtime's context object."""

    def __init__(self, request_id: str, deadline_ms: float, function_arn: str) -> None:
        environ = os.environ
        self.aws_request_id = request_id
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = function_arn
        # A string, as the real runtime reads it from the environment.
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext(function_name={self.function_name!r}, aws_request_id={self.aws_request_id!r})"


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _install_root_log_handler() -> _RequestIdFilter:
    # The Lambda runtime gives the root logger a handler in this format; code that logs with the
    # standard library (not Powertools) shows up locally the way it does in CloudWatch.
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    return request_filter


def _error(error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message, "stackTrace": stack or []}


def _exception_error(error: BaseException) -> dict[str, Any]:
    stack = traceback.format_list(traceback.extract_tb(error.__traceback__))
    return _error(type(error).__name__, str(error), stack)


def _decimal_default(value: Any) -> Any:
    # The Lambda runtime serialises Decimal (what DynamoDB returns for numbers) rather than failing.
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class Runtime:
    def __init__(self, handler_spec: str, timeout_s: float, function_arn: str) -> None:
        self.function_arn = function_arn
        module_path, _, self.function_name = handler_spec.rpartition(".")
        self.module_name = module_path.replace("/", ".")
        self.timeout_ms = timeout_s * 1000
        self.handler: Handler | None = None
        self.request_filter = _install_root_log_handler()

    def _load(self) -> dict[str, Any] | None:
        """Imports the handler on first use, as Lambda's init phase does; None when it worked."""
        try:
            module = importlib.import_module(self.module_name)
        except Exception as error:
            # Let the next invocation retry the import (Lambda re-runs init after a failed one).
            sys.modules.pop(self.module_name, None)
            traceback.print_exc(file=sys.stderr)
            return _error(
                "Runtime.ImportModuleError", f"Unable to import module '{self.module_name}': {error}"
            )
        handler = getattr(module, self.function_name, None)
        if not callable(handler):
            return _error(
                "Runtime.HandlerNotFound",
                f"Handler '{self.function_name}' missing on module '{self.module_name}'",
            )
        self.handler = handler
        return None

    def invoke(
        self, request_id: str, event: Any, started: Callable[[], None] = lambda: None
    ) -> dict[str, Any]:
        """`started` is called once the init phase is over and the handler's timeout begins."""
        if self.handler is None:
            init_error = self._load()
            if init_error is not None:
                return {"request_id": request_id, "ok": False, "error": init_error}
        assert self.handler is not None
        self.request_filter.request_id = request_id
        started()
        context = LambdaContext(request_id, time.time() * 1000 + self.timeout_ms, self.function_arn)
        try:
            result = self.handler(event, context)
            payload = json.dumps(result, default=_decimal_default)
        except Exception as error:
            # Lambda logs an unhandled error with its traceback before returning it to the caller.
            print(f"[ERROR] {type(error).__name__}: {error}\tRequestId: {request_id}", file=sys.stderr)
            traceback.print_exception(error, file=sys.stderr)
            return {"request_id": request_id, "ok": False, "error": _exception_error(error)}
        finally:
            self.request_filter.request_id = ""
        return {"request_id": request_id, "ok": True, "result_json": payload}


def _serve(requests: BinaryIO, replies: BinaryIO, runtime: Runtime) -> None:
    def write(reply: dict[str, Any]) -> None:
        replies.write(json.dumps(reply).encode() + b"\n")
        replies.flush()

    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        request_id: str = request["request_id"]
        # The parent times the handler from here, as Lambda does once the init phase is over.
        started = functools.partial(write, {"request_id": request_id, "started": True})
        reply = runtime.invoke(request_id, request["event"], started)
        sys.stdout.flush()
        sys.stderr.flush()
        # Tells the parent that the invocation's output has all been written to the log pipe.
        os.write(2, f"{END_OF_OUTPUT}{request_id}\n".encode())
        write(reply)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reply-fd", type=int, required=True)
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--layer-dir", action="append", default=[])
    parser.add_argument("--handler", required=True)
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--function-arn", required=True)
    args = parser.parse_args(argv)

    # Ctrl-C in a terminal reaches the whole process group; the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    request_fd = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    # Subprocesses the handler starts must not hold the channel open.
    os.set_inheritable(request_fd, False)
    os.set_inheritable(args.reply_fd, False)

    # Like /var/task then /opt/python; the script's own folder (devstack/) must not be importable.
    sys.path[0:1] = [args.code_dir, *args.layer_dir]
    os.chdir(args.code_dir)

    runtime = Runtime(args.handler, args.timeout, args.function_arn)
    with (
        os.fdopen(request_fd, "rb") as requests,
        os.fdopen(args.reply_fd, "wb") as replies,
        contextlib.suppress(BrokenPipeError),
    ):
        _serve(requests, replies, runtime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
