"""The layer's dependencies are locked: layers/core/requirements.txt is uv.lock's export, every package
pinned with the hashes of its files, so two builds a week apart ship the same versions."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from devstack import layer_requirements
from tests.support.cfn import ROOT

REQUIREMENTS = ROOT / "layers" / "core" / "requirements.txt"
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pinned() -> dict[str, tuple[str, int]]:
    """{package: (version, hashes)} of the requirements file."""
    found: dict[str, tuple[str, int]] = {}
    current = ""
    for line in REQUIREMENTS.read_text().splitlines():
        if match := PINNED.match(line):
            current = canonicalize_name(match[1])
            found[current] = (match[2], 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
        else:
            assert not line or line.lstrip().startswith("#"), f"not a pinned requirement: {line!r}"
    return found


def runtime_dependencies() -> list[Requirement]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return [Requirement(text) for text in tomllib.load(file)["project"]["dependencies"]]


def test_every_package_of_the_layer_is_pinned_with_its_hashes() -> None:
    packages = pinned()

    assert packages, "no requirement found"
    assert {name for name, (_, hashes) in packages.items() if hashes == 0} == set()
    for dependency in runtime_dependencies():
        version, _ = packages[canonicalize_name(dependency.name)]
        assert dependency.specifier.contains(version), (dependency, version)
    # only what runs in Lambda: no test tool, and not boto3, which the runtime ships
    assert {"pytest", "moto", "boto3", "uv", "wa-conversions"} & set(packages) == set()


def test_the_lock_is_up_to_date_with_pyproject() -> None:
    assert layer_requirements.lock_problem(ROOT) is None, "run `make lock`"


def test_the_layer_requirements_are_the_locks_export() -> None:
    assert REQUIREMENTS.read_text() == layer_requirements.requirements_text(ROOT), (
        "run `make layer-requirements`"
    )
