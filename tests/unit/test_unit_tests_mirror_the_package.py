"""Every module of the runtime package with logic has its unit tests in a file named after it
(issue 16, "tests mirror the package"): wa_conversions/<module>.py in tests/unit/test_<module>.py,
wa_conversions/<package>/<module>.py in tests/unit/test_<package>_<module>.py."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "core" / "wa_conversions"
UNIT = ROOT / "tests" / "unit"

# Modules with no logic of their own, each with why; a module that gains logic leaves this list.
WITHOUT_LOGIC = {
    "capture/wiring.py": "builds the capture objects from settings, nothing else",
    "privacy/wiring.py": "builds the eraser and its queues from settings, nothing else",
}


def test_every_module_with_logic_has_a_unit_test_file_named_after_it() -> None:
    tests = {path.name for path in UNIT.glob("test_*.py")}
    missing = []
    for module in sorted(PACKAGE.rglob("*.py")):
        relative = module.relative_to(PACKAGE).as_posix()
        if module.name == "__init__.py" or relative in WITHOUT_LOGIC:
            continue
        named = "test_" + relative.removesuffix(".py").replace("/", "_") + ".py"
        # a top-level module's file may carry the bare name, as the older ones do
        if named not in tests and f"test_{module.name}" not in tests:
            missing.append(f"{relative}: tests/unit/{named}")
    assert missing == [], "modules without a unit test file of their name:\n" + "\n".join(missing)


def test_a_module_listed_as_without_logic_still_exists() -> None:
    assert [name for name in WITHOUT_LOGIC if not (PACKAGE / name).is_file()] == []
