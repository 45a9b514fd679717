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


def _run(page: Path, *extra: str, fragment: str = "") -> str:
    assert CHROMIUM.exists(), "chromium is missing: run `make chromium` (apt-get install -y chromium)"
    with tempfile.TemporaryDirectory() as profile:
        completed = subprocess.run(  # noqa: S603 - fixed binary, our own arguments
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri() + fragment],
            capture_output=True,
            text=True,
            timeout=90,
            check=True,
        )
    return completed.stdout


def dump_dom(page: Path, fragment: str = "") -> str:
    """The DOM after Chromium has loaded and laid out the page (and run its scripts), opened at
    `fragment` ("#sort=roas-desc")."""
    return _run(page, "--dump-dom", fragment=fragment)


def screenshot(page: Path, out: Path, size: str = "1400,1100") -> Path:
    _run(page, f"--screenshot={out.resolve()}", f"--window-size={size}")
    return out
