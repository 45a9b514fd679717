"""What `make build` ships: bytecode Lambda loads as is, so a cold start compiles nothing (issue 17)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The handler imports a module of the layer; the child reads both as Lambda lays them out.
CHILD = "import sys; sys.path[0:0] = sys.argv[1:3]; import app; print(app.ANSWER, app.shared.__cached__)"


def test_the_built_artifact_ships_bytecode_the_runtime_loads_without_compiling(tmp_path: Path) -> None:
    # the runtime's interpreter: sys.executable when it is 3.13, else python3.13 (which sam build needs)
    runtime = sys.executable if sys.version_info[:2] == (3, 13) else shutil.which("python3.13")
    if runtime is None or shutil.which("make") is None:
        pytest.fail("make and python3.13 (the Lambda runtime's Python) are needed to build")
    task_root, layer = tmp_path / "WebhookFunction", tmp_path / "CoreLayer" / "python"
    task_root.mkdir()
    layer.mkdir(parents=True)
    (task_root / "app.py").write_text("import shared\nANSWER = shared.ANSWER\n")
    (layer / "shared.py").write_text("ANSWER = 'shipped'\n")

    make = shutil.which("make") or "make"
    subprocess.run(  # noqa: S603 - our own Makefile
        [make, "--no-print-directory", "-s", "-C", str(ROOT), "precompile", f"BUILD_DIR={tmp_path}"],
        check=True,
        capture_output=True,
    )
    # Changed after the build: an unchecked-hash .pyc is used without reading its source.
    (layer / "shared.py").write_text("ANSWER = 'compiled at cold start'\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # /var/task and /opt are read-only in Lambda
    done = subprocess.run(  # noqa: S603 - the runtime's interpreter, our own code
        [runtime, "-P", "-c", CHILD, str(task_root), str(layer)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )

    answer, cached = done.stdout.split()
    assert answer == "shipped"
    assert Path(cached).is_file() and Path(cached).is_relative_to(layer)
