"""forwarding.meta_health: GET /health/meta runs `make doctor`'s checks with the deployment's own
settings (its environment) and its token, against a Graph API played by respx; a missing token is a
failed check in the report, never an error. The SSM read is faked at the secret store's function, as
tests/unit/test_tenants.py does (moto's SSM costs seconds to load)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from wa_conversions import reset
from wa_conversions.config import Settings
from wa_conversions.forwarding import meta_health
from wa_conversions.forwarding.meta_health import check_meta_setup

GRAPH = "https://graph.test"
WABA = "102290129340398"
DATASET = "4455667788"
PREFIX = "/shop-prod"
TOKEN = "EAAG-from-ssm"


class Secrets:
    """The deployment's SSM parameters, by name; the names asked for, in order."""

    def __init__(self) -> None:
        self.stored: dict[str, str] = {}
        self.asked: list[str] = []

    def get_optional_secret(self, settings: Settings, key: str) -> str | None:
        name = settings.parameter_name(key)
        self.asked.append(name)
        return self.stored.get(name)


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Secrets]:
    for name, value in {
        "PARAMETER_PREFIX": PREFIX,
        "META_GRAPH_BASE_URL": GRAPH,
        "META_API_VERSION": "v25.0",
        "META_WABA_ID": WABA,
        "META_DATASET_ID": DATASET,
    }.items():
        monkeypatch.setenv(name, value)
    found = Secrets()
    monkeypatch.setattr(meta_health, "get_optional_secret", found.get_optional_secret)
    reset()
    try:
        yield found
    finally:
        reset()


def graph_answers() -> respx.Route:
    granted = [
        {"permission": "whatsapp_business_management", "status": "granted"},
        {"permission": "whatsapp_business_manage_events", "status": "granted"},
    ]
    served = {"facebook-api-version": "v25.0"}
    permissions = respx.get(f"{GRAPH}/v25.0/me/permissions").mock(
        side_effect=lambda request: (
            httpx.Response(200, json={"data": granted}, headers=served)
            if request.headers["Authorization"] == f"Bearer {TOKEN}"
            else httpx.Response(400, json={"error": {"message": "Malformed access token", "code": 190}})
        )
    )
    respx.get(f"{GRAPH}/v25.0/{WABA}/dataset").mock(
        return_value=httpx.Response(200, json={"data": [{"id": DATASET}]}, headers=served)
    )
    respx.get(f"{GRAPH}/v25.0/{DATASET}").mock(
        return_value=httpx.Response(200, json={"id": DATASET}, headers=served)
    )
    return permissions


@respx.mock
def test_the_deployments_token_and_settings_pass_every_check(secrets: Secrets) -> None:
    secrets.stored[f"{PREFIX}/meta-access-token"] = TOKEN
    permissions = graph_answers()

    answer = check_meta_setup()

    assert answer["ok"] is True, answer
    assert (answer["graph_base_url"], answer["api_version"]) == (GRAPH, "v25.0")
    assert (answer["waba_id"], answer["dataset_id"]) == (WABA, DATASET)
    assert [c["name"] for c in answer["checks"]] == ["token", "dataset", "dataset_access", "api_version"]
    assert permissions.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert secrets.asked == [f"{PREFIX}/meta-access-token"]
    assert TOKEN not in repr(answer)


@respx.mock
def test_a_missing_token_is_reported_with_the_deployments_parameter_name(secrets: Secrets) -> None:
    graph_answers()

    answer = check_meta_setup()

    assert answer["ok"] is False
    token = answer["checks"][0]
    assert (token["name"], token["ok"], token["detail"]) == ("token", False, "no access token is configured")
    assert f"--name {PREFIX}/meta-access-token" in token["fix"]
    assert [c["name"] for c in answer["checks"]] == ["token", "api_version"]


@respx.mock
def test_a_token_meta_refuses_is_reported_not_raised(secrets: Secrets) -> None:
    secrets.stored[f"{PREFIX}/meta-access-token"] = "EAAG-revoked"
    graph_answers()

    answer = check_meta_setup()

    token = answer["checks"][0]
    assert token["ok"] is False
    assert token["detail"].startswith("Meta refused the token: Malformed access token (code 190")
    assert "EAAG-revoked" not in repr(answer)
