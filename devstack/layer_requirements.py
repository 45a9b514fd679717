"""`python -m devstack layer-requirements`: the Lambda layer's requirements.txt, from pyproject.toml.

The runtime dependencies are declared once, in [project].dependencies; `sam build` installs the
layer from layers/core/requirements.txt, which `make layer-requirements` regenerates with this.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

DEFAULT_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
HEADER = (
    "# Generated from pyproject.toml [project].dependencies by `make layer-requirements`.\n"
    "# Do not edit: change pyproject.toml and regenerate.\n"
)


def requirements_text(pyproject: Path) -> str:
    with pyproject.open("rb") as file:
        project = tomllib.load(file).get("project", {})
    dependencies: list[str] = project.get("dependencies", [])
    return HEADER + "".join(f"{dependency}\n" for dependency in dependencies)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "layer-requirements",
        help="print layers/core/requirements.txt, generated from pyproject.toml",
        description=__doc__,
    )
    parser.add_argument("--pyproject", type=Path, default=DEFAULT_PYPROJECT)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(requirements_text(args.pyproject))
    return 0
