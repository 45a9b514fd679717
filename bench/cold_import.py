"""Cold import of every Lambda handler against `import boto3`, each in a fresh interpreter.

The clock runs inside the child, around the import statement only, so interpreter start-up and
process creation (which Lambda pays whatever the handler imports) do not dilute the ratio. sys.path
is laid out as Lambda's: the function's folder (/var/task) first, then the layer (/opt/python), then
the installed packages.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .payloads import ROOT

FUNCTIONS = ROOT / "functions"
LAYER = ROOT / "layers" / "core"
BOTO3 = "import boto3"
BARE = "interpreter start-up"

# -P keeps the working directory off sys.path, so only the paths set here can satisfy an import.
CHILD = """\
import sys, time
sys.path[0:0] = sys.argv[1:3]
started = time.perf_counter()
import {module}
sys.stdout.write(repr(time.perf_counter() - started))
"""


@dataclass
class Target:
    label: str
    module: str | None  # None: start the interpreter and import nothing
    task_root: Path
    service: str
    import_s: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def import_ms(self) -> float:
        return statistics.median(self.import_s) * 1000

    @property
    def best_import_ms(self) -> float:
        return min(self.import_s) * 1000

    @property
    def wall_ms(self) -> float:
        return statistics.median(self.wall_s) * 1000


def discover_functions() -> list[str]:
    """Every handler folder, so a function added later is measured without touching the benchmark."""
    return sorted(path.parent.name for path in FUNCTIONS.glob("*/app.py"))


def _environment(service: str) -> dict[str, str]:
    # PYTHONPATH or PYTHONDONTWRITEBYTECODE from the caller would change what is imported or cached.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(
        AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        AWS_REGION=env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "us-east-1")),
        POWERTOOLS_SERVICE_NAME=service,
        POWERTOOLS_METRICS_NAMESPACE="WaConversions",
        POWERTOOLS_LOG_LEVEL="INFO",
    )
    return env


def _run_once(target: Target) -> None:
    code = CHILD.format(module=target.module) if target.module else "pass"
    command = [sys.executable, "-P", "-c", code, str(target.task_root), str(LAYER)]
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=target.task_root,
        env=_environment(target.service),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        target.error = f"exit {done.returncode}: {last}"
        return
    target.wall_s.append(wall)
    target.import_s.append(float(done.stdout) if target.module else 0.0)


def measure(functions: list[str], runs: int, budget_s: float) -> tuple[list[Target], int]:
    """Targets with their timings, and how many runs each got: `runs`, or fewer (never under three)
    when that many would overrun `budget_s`, since every function added makes a round longer."""
    targets = [
        Target(BARE, None, LAYER, "bench"),
        Target(BOTO3, "boto3", LAYER, "bench"),
        *(Target(name, "app", FUNCTIONS / name, name) for name in functions),
    ]
    # The first run writes the .pyc files of functions/ and the layer; a Lambda image ships them.
    started = time.perf_counter()
    for target in targets:
        _run_once(target)
        target.import_s.clear()
        target.wall_s.clear()
    round_s = time.perf_counter() - started
    runs = max(3, min(runs, int(budget_s / max(round_s, 1e-3))))
    # Round-robin, so drift in machine load spreads over every target instead of landing on one.
    for _ in range(runs):
        for target in targets:
            if target.error is None:
                _run_once(target)
    return targets, runs
