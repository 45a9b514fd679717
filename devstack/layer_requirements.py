"""`python -m devstack layer-requirements`: the Lambda layer's requirements.txt, exported from uv.lock.

The runtime dependencies are declared once, in pyproject.toml's [project].dependencies, and locked with
everything they pull in by `make lock` (uv.lock). `sam build` installs the layer from
layers/core/requirements.txt: this export of the lock, every version pinned with the hashes of its
files, so two builds a week apart ship the same code (pip's hash-checking mode,
https://pip.pypa.io/en/stable/topics/secure-installs/). Exporting reads the lock only: no network.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "# Exported from uv.lock (the locked [project].dependencies of pyproject.toml) by\n"
    "# `make layer-requirements`. Do not edit: change pyproject.toml, then `make lock`.\n"
)


def uv_command() -> str:
    """The uv of this virtual environment (a dev dependency), else one on PATH."""
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        raise SystemExit("uv is needed: it is a dev dependency (make setup)")
    return found


def export_arguments(project: Path) -> list[str]:
    # --no-emit-project: the layer carries wa_conversions itself; the extras (dev) are left out.
    return [
        "export",
        "--project",
        str(project),
        "--frozen",
        "--offline",
        "--no-emit-project",
        "--format",
        "requirements-txt",
        "--no-header",
        "--python",
        sys.executable,
    ]


def _uv(arguments: list[str], *, check: bool) -> subprocess.CompletedProcess[str]:
    # never a Python download: the venv's interpreter is the one named
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    return subprocess.run(
        [uv_command(), *arguments], check=check, capture_output=True, text=True, env=environment
    )


def requirements_text(project: Path = ROOT) -> str:
    return HEADER + _uv(export_arguments(project), check=True).stdout


def lock_problem(project: Path = ROOT) -> str | None:
    """Why uv.lock no longer matches pyproject.toml (`make lock` mends it); None when it does. Offline."""
    checked = _uv(
        ["lock", "--check", "--offline", "--project", str(project), "--python", sys.executable], check=False
    )
    return None if checked.returncode == 0 else checked.stderr.strip()[-2000:] or "uv lock --check failed"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "layer-requirements",
        help="print layers/core/requirements.txt, exported from uv.lock with hashes",
        description=__doc__,
    )
    parser.add_argument("--project", type=Path, default=ROOT, help="the folder of pyproject.toml and uv.lock")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(requirements_text(args.project))
    return 0
