"""Headless Chromium for tests that must see a page as a browser does (Debian's chromium package,
installed by `make test` when missing)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def _run(page: Path, *extra: str) -> str:
    assert CHROMIUM.exists(), "chromium is missing: run `make chromium` (apt-get install -y chromium)"
    with tempfile.TemporaryDirectory() as profile:
        completed = subprocess.run(  # noqa: S603 - fixed binary, our own arguments
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=90,
            check=True,
        )
    return completed.stdout


def dump_dom(page: Path) -> str:
    """The DOM after Chromium has loaded and laid out the page."""
    return _run(page, "--dump-dom")


def screenshot(page: Path, out: Path, size: str = "1400,1100") -> Path:
    _run(page, f"--screenshot={out.resolve()}", f"--window-size={size}")
    return out
