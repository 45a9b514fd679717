"""The package's layers (README, "Code layout"): imports go one way, and the webhooks' format checks,
which moved down beside their parsers, still load no pydantic on the acknowledging cold path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_no_folder_imports_a_layer_above_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


WEBHOOK_INTAKES = [
    "wa_conversions.capture.cm_ingest",
    "wa_conversions.capture.twilio_ingest",
    "wa_conversions.capture.shopify_ingest",
]


@pytest.mark.parametrize("module", WEBHOOK_INTAKES)
def test_a_webhooks_acknowledging_module_loads_no_pydantic(module: str) -> None:
    probe = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))"
    loaded = subprocess.run(  # noqa: S603 (our interpreter, a fixed probe)
        [sys.executable, "-c", probe], cwd=ROOT / "layers/core", capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
