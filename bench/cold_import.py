"""Cold import of every Lambda handler against `import boto3`, each in a fresh interpreter.

The clock runs inside the child, around the import statement only, so interpreter start-up and
process creation (which Lambda pays whatever the handler imports) do not dilute the ratio. sys.path
is laid out as Lambda's: the function's folder (/var/task) first, then the layer (/opt/python), then
the installed packages (boto3, as the runtime has it). The folders are the source tree's, or the
built artifact's (`built_layout`), read with no bytecode but what the build shipped.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .payloads import ROOT

FUNCTIONS = ROOT / "functions"
LAYER = ROOT / "layers" / "core"
BOTO3 = "import boto3"
ACK_FUNCTION = "whatsapp_webhook"  # its first request is timed too (bench/aws_calls.py)
BARE = "interpreter start-up"

# -P keeps the working directory off sys.path, so only the paths set here can satisfy an import.
CHILD = """\
import sys, time
sys.path[0:0] = sys.argv[1:]
started = time.perf_counter()
import {module}
sys.stdout.write(repr(time.perf_counter() - started))
"""


@dataclass(frozen=True)
class Layout:
    """Where the handlers and the layer are read from, and whether the child may write .pyc files."""

    name: str
    functions: dict[str, Path]  # function folder name -> its task root (Lambda's /var/task)
    layer: list[Path]  # the layer's entries of sys.path, in order (Lambda's /opt/python)
    writes_bytecode: bool
    notes: tuple[str, ...] = ()


def source_layout() -> Layout:
    """functions/ and layers/core as they are in the checkout; a warm-up writes their .pyc first."""
    functions = {name: FUNCTIONS / name for name in discover_functions()}
    return Layout("source tree, warm .pyc", functions, [LAYER], writes_bytecode=True)


def built_layout(build_dir: Path, overlay_dir: Path) -> Layout:
    """`sam build`'s artifact as Lambda unpacks it: no .pyc but what the build ships, none written
    (/var/task and /opt are read-only). A native extension built for another architecture (the layer
    is arm64) is replaced, in `overlay_dir`, by the host's build of the same version."""
    from devstack.cfn import load_template  # the bench only; keeps the source layout free of yaml

    template = load_template(ROOT / "template.yaml")
    functions: dict[str, Path] = {}
    for logical_id, resource in template["Resources"].items():
        code_uri = (resource.get("Properties") or {}).get("CodeUri")
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(code_uri, str):
            task_root = build_dir / logical_id
            if (task_root / "app.py").is_file():
                functions[Path(code_uri).name] = task_root
    layer = build_dir / "CoreLayer" / "python"
    if not functions or not layer.is_dir():
        raise FileNotFoundError(f"{build_dir} holds no built functions and layer: run `make build`")
    notes = _overlay_foreign_extensions(layer, overlay_dir)
    compiled = sum(1 for _ in build_dir.rglob("*.pyc"))
    notes = (f"{compiled:,} .pyc files shipped by the build", *notes)
    return Layout(f"built artifact {build_dir}", functions, [overlay_dir, layer], False, notes)


def _overlay_foreign_extensions(layer: Path, overlay_dir: Path) -> tuple[str, ...]:
    host_machine = _elf_machine(Path(sys.executable).resolve())
    notes: list[str] = []
    for extension in sorted(layer.glob("*/*.so")):
        if _elf_machine(extension) == host_machine:
            continue
        package = extension.parent.name
        built = _layer_version(layer, package)
        try:
            host = metadata.version(package)
            origin = Path(str(metadata.distribution(package).locate_file(package)))
        except metadata.PackageNotFoundError:
            raise RuntimeError(
                f"{package} in the layer is for another machine and not installed here"
            ) from None
        if host != built:
            raise RuntimeError(f"{package}: the layer has {built}, this machine {host}; `make build` again")
        shutil.copytree(origin, overlay_dir / package, ignore=shutil.ignore_patterns("__pycache__"))
        # compiled as the build compiles the layer, so the swapped package costs what the shipped one does
        compileall = [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash"]
        subprocess.run([*compileall, str(overlay_dir / package)], check=True)
        notes.append(f"{package} {built}: the layer's is {extension.name}, so the host's build of it is used")
    return tuple(notes)


def _elf_machine(path: Path) -> bytes:
    """e_machine of an ELF file (the architecture it runs on), from its header."""
    with path.open("rb") as file:
        return file.read(20)[18:20]


def _layer_version(layer: Path, package: str) -> str:
    for info in layer.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        if name.lower() == package.lower():
            return version
    return "?"


def overlay() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="bench-overlay-")


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


def _environment(service: str, writes_bytecode: bool) -> dict[str, str]:
    # PYTHONPATH or PYTHONDONTWRITEBYTECODE from the caller would change what is imported or cached.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    if not writes_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(
        AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        AWS_REGION=env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "us-east-1")),
        POWERTOOLS_SERVICE_NAME=service,
        POWERTOOLS_METRICS_NAMESPACE="WaConversions",
        POWERTOOLS_LOG_LEVEL="INFO",
    )
    return env


def _run_once(target: Target, layout: Layout) -> None:
    code = CHILD.format(module=target.module) if target.module else "pass"
    command = [sys.executable, "-P", "-c", code, str(target.task_root), *map(str, layout.layer)]
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=target.task_root,
        env=_environment(target.service, layout.writes_bytecode),
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


def measure(layout: Layout, runs: int, budget_s: float) -> tuple[list[Target], int]:
    """Targets with their timings, and how many runs each got: `runs`, or fewer (never under three)
    when that many would overrun `budget_s`, since every function added makes a round longer."""
    targets = [
        Target(BARE, None, LAYER, "bench"),
        Target(BOTO3, "boto3", LAYER, "bench"),
        *(Target(name, "app", root, name) for name, root in sorted(layout.functions.items())),
    ]
    # A warm-up round: in the source tree it writes the .pyc files; built, it only warms the disk cache.
    started = time.perf_counter()
    for target in targets:
        _run_once(target, layout)
        target.import_s.clear()
        target.wall_s.clear()
    round_s = time.perf_counter() - started
    runs = max(3, min(runs, int(budget_s / max(round_s, 1e-3))))
    # Round-robin, so drift in machine load spreads over every target instead of landing on one.
    for _ in range(runs):
        for target in targets:
            if target.error is None:
                _run_once(target, layout)
    return targets, runs
