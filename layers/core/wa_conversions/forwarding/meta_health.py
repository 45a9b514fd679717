"""GET /health/meta: the set-up checks of `make doctor` (forwarding.meta_doctor), read-only, with the
deployment's own settings and token."""

from __future__ import annotations

from typing import Any

from ..config import MetaHealthSettings, load_settings
from ..delivery import http
from ..secret_store import get_optional_secret
from .meta_doctor import MetaSetup, report, run_checks


def check_meta_setup() -> dict[str, Any]:
    s = load_settings(MetaHealthSettings)
    setup = MetaSetup(
        graph_base_url=s.graph_base_url,
        api_version=s.api_version,
        waba_id=s.waba_id,
        dataset_id=s.dataset_id,
        secret_name=s.parameter_name("META_ACCESS_TOKEN"),
    )
    # A missing secret is one of the failures to report, not a 5xx.
    token = get_optional_secret(s, "META_ACCESS_TOKEN") or ""
    return report(setup, run_checks(http.client_for("meta_health", s.graph_base_url, 5.0), setup, token))
