"""The local stack's function workers time a handler as Lambda does: the Timeout starts once the init
phase (the first import) is over, the context counts it down, and an invocation past it is stopped."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.functions import FunctionSpec
from devstack.runtime import FunctionWorker

HANDLER = """
import time

time.sleep(float(__import__("os").environ.get("INIT_SECONDS", "0")))


def handler(event, context):
    if event.get("remaining"):
        return context.get_remaining_time_in_millis()
    time.sleep(event["sleep"])
    return "finished"
"""


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[FunctionWorker]:
    (tmp_path / "app.py").write_text(HANDLER)
    spec = FunctionSpec(
        logical_id="SlowFunction",
        name="test-SlowFunction",
        arn="arn:aws:lambda:us-east-1:123456789012:function:test-SlowFunction",
        code_dir=tmp_path,
        handler="app.handler",
        runtime="python3.13",
        memory_mb=128,
        timeout_s=1,
        environment={},
        layer_dirs=(),
    )
    environment = {"PATH": os.environ.get("PATH", ""), "INIT_SECONDS": "0.5"}
    running = FunctionWorker(spec, environment, log_stream=sys.stderr)
    yield running
    running.stop()


def test_a_first_invocation_past_its_timeout_is_stopped_at_the_timeout(worker: FunctionWorker) -> None:
    started = time.monotonic()
    invocation = worker.invoke({"sleep": 4})
    took = time.monotonic() - started

    assert not invocation.ok
    assert invocation.error is not None and invocation.error["errorType"] == "Sandbox.Timedout"
    # 0.5 s of init, then the 1 s Timeout: not the init allowance on top of it
    assert took < 2.5


def test_the_context_counts_down_the_functions_timeout(worker: FunctionWorker) -> None:
    remaining = worker.invoke({"remaining": True})
    finished = worker.invoke({"sleep": 0.1})

    assert remaining.ok and 800 < remaining.result <= 1000
    assert finished.ok and finished.result == "finished"
