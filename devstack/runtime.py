"""Parent side of the function workers: one long-lived process per function, one invocation at a time."""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, TextIO

from devstack.aws import without_aws_overrides
from devstack.functions import FunctionSpec

log = logging.getLogger("devstack")

WORKER_SCRIPT: Final = Path(__file__).with_name("worker.py")
# Lambda gives the init phase (importing the handler module) its own 10 s, outside the timeout.
INIT_ALLOWANCE_S: Final = 10.0
# Written by the worker after each invocation's output (see devstack/worker.py).
END_OF_OUTPUT: Final = "\x1edevstack-end-of-output:"
# Time for the request and reply to cross the pipes, on top of the function's timeout.
_REPLY_SLACK_S: Final = 0.25


@dataclass(frozen=True)
class Invocation:
    """The outcome of one invocation, as Lambda's Invoke API would report it."""

    function: str
    request_id: str
    ok: bool
    result: Any = None
    error: Mapping[str, Any] | None = None
    duration_ms: float = 0.0

    @property
    def error_summary(self) -> str:
        if self.error is None:
            return ""
        return f"{self.error.get('errorType')}: {self.error.get('errorMessage')}"


def lambda_environment(
    spec: FunctionSpec, aws_environment: Mapping[str, str], inherited: Mapping[str, str]
) -> dict[str, str]:
    """The worker's environment: inherited, then AWS endpoint, then the template's, then Lambda's own."""
    environment = without_aws_overrides(dict(inherited))
    environment.update(aws_environment)
    environment.update(spec.environment)
    today = datetime.datetime.now(datetime.UTC).strftime("%Y/%m/%d")
    environment.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_s),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{today}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            "TZ": ":UTC",
            # What `sam local` sets; Powertools reads it to keep the X-Ray tracer off locally.
            "AWS_SAM_LOCAL": "true",
            # botocore adds "app/<id>" to the User-Agent, so `make bench` can tell whose call it is
            "AWS_SDK_UA_APP_ID": spec.logical_id,
        }
    )
    return environment


def _source_stamp(folders: tuple[Path, ...]) -> float:
    newest = 0.0
    for folder in folders:
        for path in folder.rglob("*.py"):
            try:
                newest = max(newest, path.stat().st_mtime)
            except OSError:
                continue
    return newest


class _Process:
    """One running worker process and its pipes."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str], log_stream: TextIO | None) -> None:
        self.spec = spec
        reply_read, reply_write = os.pipe()
        command = [
            sys.executable,
            "-u",
            str(WORKER_SCRIPT),
            "--reply-fd",
            str(reply_write),
            "--code-dir",
            str(spec.code_dir),
            "--handler",
            spec.handler,
            "--timeout",
            str(spec.timeout_s),
            "--function-arn",
            spec.arn,
        ]
        for folder in spec.layer_dirs:
            command += ["--layer-dir", str(folder)]
        try:
            self.popen = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=dict(environment),
                cwd=spec.code_dir,
                pass_fds=(reply_write,),
                # Its own session: Ctrl-C in a terminal must reach only the devstack, which then
                # stops the workers in order.
                start_new_session=True,
            )
        finally:
            os.close(reply_write)
        self.replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.output_ends: queue.Queue[str] = queue.Queue()
        self.initialised = False
        self._reply_file = os.fdopen(reply_read, "rb")
        self._log_stream = log_stream
        threading.Thread(target=self._read_replies, name=f"{spec.logical_id}-replies", daemon=True).start()
        threading.Thread(target=self._forward_logs, name=f"{spec.logical_id}-logs", daemon=True).start()

    def _read_replies(self) -> None:
        with self._reply_file:
            for line in self._reply_file:
                try:
                    self.replies.put(json.loads(line))
                except json.JSONDecodeError:
                    log.error("%s: unreadable reply from worker: %r", self.spec.logical_id, line[:200])
        self.replies.put(None)

    def _forward_logs(self) -> None:
        assert self.popen.stdout is not None
        prefix = f"[{self.spec.logical_id}] "
        with self.popen.stdout:
            for raw in self.popen.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                line, marker, request_id = line.partition(END_OF_OUTPUT)
                if marker:
                    self.output_ends.put(request_id)
                    if not line:
                        continue
                stream = self._log_stream or sys.stderr
                try:
                    stream.write(prefix + line + "\n")
                    stream.flush()
                except (ValueError, OSError):
                    # The stream was closed (e.g. by pytest's capture at the end of a test).
                    continue

    def wait_for_output(self, request_id: str, timeout_s: float = 1.0) -> None:
        """Waits until the invocation's output is forwarded, so logs stay in order with the caller's."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                if self.output_ends.get(timeout=remaining) == request_id:
                    return
            except queue.Empty:
                return

    def alive(self) -> bool:
        return self.popen.poll() is None

    def send(self, message: Mapping[str, Any]) -> None:
        stdin: IO[bytes] | None = self.popen.stdin
        assert stdin is not None
        stdin.write(json.dumps(message).encode() + b"\n")
        stdin.flush()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self, grace_s: float) -> None:
        if self.popen.stdin is not None:
            # End of input is the worker's signal to exit once it is idle.
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        try:
            self.popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
        # Handlers may have started children of their own in the worker's process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)


class FunctionWorker:
    """A function's execution environment. Invocations are serialised: concurrency 1."""

    def __init__(
        self,
        spec: FunctionSpec,
        environment: Mapping[str, str],
        *,
        reload: bool = False,
        log_stream: TextIO | None = None,
    ) -> None:
        self.spec = spec
        self.environment = dict(environment)
        self.reload = reload
        self.log_stream = log_stream
        self._lock = threading.Lock()
        self._process: _Process | None = None
        self._stamp = 0.0
        self._closed = False

    @property
    def source_folders(self) -> tuple[Path, ...]:
        return (self.spec.code_dir, *self.spec.layer_dirs)

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.popen.pid if process is not None and process.alive() else None

    def start(self) -> None:
        with self._lock:
            self._ensure_process()

    def _ensure_process(self) -> _Process:
        if self._closed:
            raise RuntimeError(f"{self.spec.logical_id}: the worker is stopped")
        process = self._process
        if process is not None and process.alive():
            if not self.reload or _source_stamp(self.source_folders) == self._stamp:
                return process
            log.info("%s: source changed, starting a fresh worker", self.spec.logical_id)
            process.stop(grace_s=2.0)
        if self.reload:
            self._stamp = _source_stamp(self.source_folders)
        self._process = _Process(self.spec, self.environment, self.log_stream)
        return self._process

    def invoke(self, event: Any) -> Invocation:
        request_id = str(uuid.uuid4())
        with self._lock:
            started = time.monotonic()
            process = self._ensure_process()
            try:
                process.send({"request_id": request_id, "event": event})
            except (BrokenPipeError, OSError):
                # It died between invocations; one fresh start, as Lambda would give a new sandbox.
                process.kill()
                self._process = None
                process = self._ensure_process()
                process.send({"request_id": request_id, "event": event})
            # Lambda times the init phase (the first import) on its own, then the handler by Timeout.
            init_budget = _REPLY_SLACK_S + (0.0 if process.initialised else INIT_ALLOWANCE_S)
            try:
                reply = process.replies.get(timeout=init_budget + self.spec.timeout_s)
                if reply is not None and reply.get("started"):
                    reply = process.replies.get(timeout=self.spec.timeout_s + _REPLY_SLACK_S)
            except queue.Empty:
                process.kill()
                self._process = None
                log.error("%s: task timed out after %d s", self.spec.logical_id, self.spec.timeout_s)
                return self._failure(
                    request_id,
                    started,
                    "Sandbox.Timedout",
                    f"RequestId: {request_id} Error: Task timed out after {self.spec.timeout_s:.2f} seconds",
                )
            if reply is None:
                code = process.popen.wait()
                self._process = None
                log.error("%s: worker exited with status %s", self.spec.logical_id, code)
                return self._failure(
                    request_id,
                    started,
                    "Runtime.ExitError",
                    f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}",
                )
            process.initialised = True
            duration_ms = (time.monotonic() - started) * 1000
            process.wait_for_output(request_id)
            if reply.get("ok"):
                return Invocation(
                    self.spec.logical_id,
                    request_id,
                    True,
                    json.loads(reply["result_json"]),
                    None,
                    duration_ms,
                )
            return Invocation(self.spec.logical_id, request_id, False, None, reply.get("error"), duration_ms)

    def _failure(self, request_id: str, started: float, error_type: str, message: str) -> Invocation:
        return Invocation(
            self.spec.logical_id,
            request_id,
            False,
            None,
            {"errorType": error_type, "errorMessage": message, "stackTrace": []},
            (time.monotonic() - started) * 1000,
        )

    def restart(self) -> None:
        """A fresh process, dropping whatever the handler cached (clients, idempotency state...)."""
        with self._lock:
            if self._process is not None:
                self._process.stop(grace_s=2.0)
                self._process = None
            self._ensure_process()

    def stop(self, grace_s: float = 2.0) -> None:
        self._closed = True
        if self._lock.acquire(timeout=grace_s):
            try:
                if self._process is not None:
                    self._process.stop(grace_s)
                    self._process = None
            finally:
                self._lock.release()
            return
        # An invocation is still running: end it rather than wait for the function's timeout.
        process = self._process
        if process is not None:
            process.kill()
