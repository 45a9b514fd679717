"""The one composition style (README, "Code layout"): a factory marked @once builds its object once per
execution environment, and wa_conversions.reset() forgets every such object and registered cache."""

from __future__ import annotations

import pytest

from wa_conversions import once, reset
from wa_conversions.config import MetricsApiSettings, load_settings


def test_a_factory_builds_once_until_reset() -> None:
    built: list[object] = []

    @once
    def thing() -> object:
        built.append(object())
        return built[-1]

    first, again = thing(), thing()
    reset()
    fresh = thing()

    assert first is again
    assert fresh is not first and len(built) == 2


def test_reset_makes_the_settings_read_again_as_a_new_environment_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TABLE_NAME", "first-table")
    reset()
    try:
        before = load_settings(MetricsApiSettings).table_name
        monkeypatch.setenv("TABLE_NAME", "second-table")
        cached = load_settings(MetricsApiSettings).table_name
        reset()
        after = load_settings(MetricsApiSettings).table_name
    finally:
        reset()

    assert (before, cached, after) == ("first-table", "first-table", "second-table")


def test_reset_clears_the_registered_caches_no_factory_holds() -> None:
    from wa_conversions.delivery import http

    client = http.client_for("wax", "https://example.test", 5.0)
    reset()

    assert client.is_closed
    assert http.client_for("wax", "https://example.test", 5.0) is not client
    reset()
