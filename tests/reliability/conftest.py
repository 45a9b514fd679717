"""The reliability tier: the local stack under a burst, destination faults, worker crashes and a
fuzzer, with every line it writes kept for the personal-data scan at the end.

One stack for the whole folder, started with the delivery retry base shortened by parameter
override (the template's defaults stay as deployed), its functions' output and its own log written
to files. The figures of every phase are printed as one JSON line at the end of the run, and written
to RELIABILITY_FIGURES when set (`make reliability` prints that file last).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.stack import QUICK_BATCHING_WINDOW, DevStack
from devstack.testing import AwsHelpers
from tests.reliability.bus import BusObserver
from tests.reliability.harness import (
    CLIENT_TIMEOUT_S,
    ROOT,
    CapturedOutput,
    Figures,
    Pii,
    Sizes,
    selected_sizes,
)

SIZES = selected_sizes()
SEED = int(os.environ.get("RELIABILITY_SEED") or time.time_ns() % 1_000_000_007)
_FIGURES = Figures(SIZES.mode, SEED)
# Retries after about a second, so that a run with injected faults ends within minutes.
PARAMETER_OVERRIDES = {"DeliveryRetryBaseSeconds": "1", "CmEventsRetryBaseSeconds": "1"}


@pytest.fixture(scope="package")
def sizes() -> Sizes:
    return SIZES


@pytest.fixture(scope="package")
def figures() -> Figures:
    return _FIGURES


@pytest.fixture(scope="package")
def rng() -> random.Random:
    return random.Random(SEED)


@pytest.fixture(scope="package")
def pii(rng: random.Random) -> Pii:
    return Pii(random.Random(rng.random()))


@pytest.fixture(scope="package")
def output_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the run's output goes: RELIABILITY_OUTPUT keeps it for a look after the run."""
    kept = os.environ.get("RELIABILITY_OUTPUT")
    if not kept:
        return tmp_path_factory.mktemp("reliability-output")
    folder = Path(kept)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="package")
def stack(output_dir: Path) -> Iterator[DevStack]:
    functions_log = CapturedOutput(output_dir / "functions.log")
    stack_log = logging.FileHandler(output_dir / "devstack.log", mode="w", encoding="utf-8")
    stack_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    devstack_logger = logging.getLogger("devstack")
    devstack_logger.addHandler(stack_log)
    previous_level = devstack_logger.level
    # The access log is INFO: it must be in the scanned output.
    devstack_logger.setLevel(logging.INFO)
    try:
        with DevStack(
            ROOT / "template.yaml",
            ROOT / "local.env",
            port=0,
            moto="process",
            parameter_overrides=PARAMETER_OVERRIDES,
            log_stream=functions_log,
            batching_window_cap=QUICK_BATCHING_WINDOW,
        ) as running:
            yield running
    finally:
        devstack_logger.removeHandler(stack_log)
        devstack_logger.setLevel(previous_level)
        stack_log.close()
        functions_log.close()


@pytest.fixture(scope="package")
def aws(stack: DevStack) -> AwsHelpers:
    return AwsHelpers(stack)


@pytest.fixture(scope="package")
def bus(stack: DevStack, aws: AwsHelpers) -> Iterator[BusObserver]:
    observer = BusObserver(stack, aws)
    yield observer
    observer.close()


@pytest.fixture
def api(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=CLIENT_TIMEOUT_S) as client:
        yield client


@pytest.fixture
def standins(stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.standins.url, timeout=CLIENT_TIMEOUT_S) as client:
        yield client
        client.delete("/_faults")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if len(_FIGURES.values) <= 2:
        return  # no phase of this tier ran
    line = _FIGURES.line()
    terminalreporter.write_sep("-", "reliability figures")
    terminalreporter.write_line(line)
    target = os.environ.get("RELIABILITY_FIGURES")
    if target:
        Path(target).write_text(line + "\n", encoding="utf-8")
