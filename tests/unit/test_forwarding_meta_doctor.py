"""forwarding.meta_doctor against a Graph API played by httpx's MockTransport: the failures the local
stand-in cannot produce (tests/integration/test_meta_doctor.py covers its happy paths), each with its
detail and fix, the version rules, and the report GET /health/meta answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest

from wa_conversions.config import META_API_VERSION
from wa_conversions.forwarding import meta_doctor
from wa_conversions.forwarding.meta_doctor import MetaSetup, report, run_checks, version_check

WABA = "102290129340398"
DATASET = "1234567890123456"
BASE = "https://graph.test"
TODAY = date(2026, 12, 3)
GRANTED = {
    "data": [
        {"permission": "whatsapp_business_management", "status": "granted"},
        {"permission": "whatsapp_business_manage_events", "status": "granted"},
        {"permission": "public_profile", "status": "granted"},
    ]
}


def graph_error(message: str, code: int, status: int = 400) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}},
    )


@dataclass
class Graph:
    """Meta's answers by (method, path without the version); every request it was asked, in order."""

    answers: dict[tuple[str, str], httpx.Response | Callable[[httpx.Request], httpx.Response]]
    asked: list[httpx.Request] = field(default_factory=list)
    version: str = META_API_VERSION

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        path = request.url.path.removeprefix(f"/{self.version}")
        answer = self.answers.get((request.method, path), httpx.Response(404, json={}))
        found = answer(request) if callable(answer) else answer
        found.headers["facebook-api-version"] = self.version
        return found

    def checks(
        self,
        token: str = "EAAG-token",  # noqa: S107 (a test token)
        create: bool = False,
        **setup: str,
    ) -> dict[str, Any]:
        meta = MetaSetup(
            graph_base_url=BASE,
            api_version=setup.get("api_version", META_API_VERSION),
            waba_id=setup.get("waba_id", WABA),
            dataset_id=setup.get("dataset_id", DATASET),
            secret_name="/prod/meta-access-token",
        )
        with httpx.Client(base_url=BASE, transport=httpx.MockTransport(self.handle)) as client:
            found = run_checks(client, meta, token, create=create, today=TODAY)
        return {c.name: c for c in found}


PERMISSIONS = ("GET", "/me/permissions")
FIND_DATASET = ("GET", f"/{WABA}/dataset")
CREATE_DATASET = ("POST", f"/{WABA}/dataset")
READ_DATASET = ("GET", f"/{DATASET}")


def healthy(overrides: dict[tuple[str, str], httpx.Response] | None = None) -> Graph:
    answers: dict[tuple[str, str], Any] = {
        PERMISSIONS: httpx.Response(200, json=GRANTED),
        FIND_DATASET: httpx.Response(200, json={"data": [{"id": DATASET}]}),
        READ_DATASET: httpx.Response(200, json={"id": DATASET, "name": "WABA dataset"}),
    }
    return Graph(answers | (overrides or {}))


def test_a_healthy_set_up_passes_every_check_sending_the_token_to_each() -> None:
    graph = healthy()

    found = graph.checks()

    assert list(found) == ["token", "dataset", "dataset_access", "api_version"]
    assert all(c.ok for c in found.values())
    assert found["dataset"].detail == f"{DATASET} is the WABA's dataset"
    assert {r.headers["Authorization"] for r in graph.asked} == {"Bearer EAAG-token"}
    assert [r.url.path for r in graph.asked] == [
        f"/{META_API_VERSION}/me/permissions",
        f"/{META_API_VERSION}/{WABA}/dataset",
        f"/{META_API_VERSION}/{DATASET}",
    ]
    assert graph.asked[-1].url.params["fields"] == "id,name"


def test_an_unreachable_graph_is_the_only_failure_reported() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    found = Graph({("GET", "/me/permissions"): refuse}).checks()

    assert list(found) == ["graph"]
    assert not found["graph"].ok
    assert found["graph"].detail == f"cannot reach {BASE}: ConnectError"
    assert "MetaGraphBaseUrl" in (found["graph"].fix or "")


def test_no_token_configured_stops_before_the_dataset_and_names_where_to_store_one() -> None:
    graph = healthy({PERMISSIONS: graph_error("An access token is required", 104)})

    found = graph.checks(token="")

    assert list(found) == ["token", "api_version"]
    assert found["token"].detail == "no access token is configured"
    assert "--name /prod/meta-access-token" in (found["token"].fix or "")
    assert len(graph.asked) == 1


def test_a_refusal_that_is_not_json_is_quoted_from_its_text() -> None:
    found = healthy({PERMISSIONS: httpx.Response(502, text="<html>Bad Gateway</html>")}).checks()

    assert found["token"].detail == (
        "Meta refused the token: <html>Bad Gateway</html> (code None, fbtrace_id None)"
    )


def test_a_token_missing_both_permissions_names_both_and_the_other_checks_still_run() -> None:
    only_profile = {"data": [{"permission": "public_profile", "status": "granted"}, "junk"]}
    declined = {"data": [{"permission": "whatsapp_business_management", "status": "declined"}]}

    for answer in (only_profile, declined):
        found = healthy({PERMISSIONS: httpx.Response(200, json=answer)}).checks()

        token = found["token"]
        assert not token.ok
        assert token.detail == "the token lacks whatsapp_business_management, whatsapp_business_manage_events"
        assert (token.fix or "").startswith(
            "grant whatsapp_business_management, whatsapp_business_manage_events"
        )
        assert found["dataset"].ok


def test_without_a_waba_id_the_dataset_is_not_looked_up() -> None:
    graph = healthy()

    found = graph.checks(waba_id="")

    assert found["dataset"].detail == "MetaWabaId is not set"
    assert "dataset_access" not in found
    assert [r.url.path for r in graph.asked] == [f"/{META_API_VERSION}/me/permissions"]


def test_a_failed_dataset_lookup_quotes_metas_error() -> None:
    found = healthy({FIND_DATASET: graph_error("Unsupported get request", 100)}).checks()

    assert not found["dataset"].ok
    assert found["dataset"].detail == (
        f"GET /{WABA}/dataset failed: Unsupported get request (code 100, fbtrace_id AbC)"
    )
    assert "has the WABA as an asset" in (found["dataset"].fix or "")
    assert found["api_version"].ok


def test_a_dataset_that_cannot_be_created_is_reported_without_a_fix() -> None:
    graph = healthy(
        {
            FIND_DATASET: httpx.Response(200, json={"data": []}),
            CREATE_DATASET: graph_error("Permissions error", 200, status=403),
        }
    )

    found = graph.checks(create=True)

    assert (
        found["dataset"].detail == "creating the dataset failed: Permissions error (code 200, fbtrace_id AbC)"
    )
    assert found["dataset"].fix is None


def test_without_create_a_missing_dataset_is_never_created() -> None:
    graph = healthy({FIND_DATASET: httpx.Response(200, json={"data": []})})

    found = graph.checks(create=False)

    assert found["dataset"].detail == f"the WABA {WABA} has no dataset"
    assert all(r.method == "GET" for r in graph.asked)


def test_a_dataset_created_now_with_none_configured_says_which_id_to_set() -> None:
    graph = healthy(
        {
            FIND_DATASET: httpx.Response(200, json={"data": []}),
            CREATE_DATASET: httpx.Response(200, json={"id": 998877}),
        }
    )

    found = graph.checks(create=True, dataset_id="")

    assert found["dataset"].detail == "the WABA's dataset is 998877 (created now), MetaDatasetId is empty"
    assert found["dataset"].fix == "set MetaDatasetId=998877"
    assert "dataset_access" not in found


@pytest.mark.parametrize(
    ("code", "fix_starts"),
    [
        (10, "grant whatsapp_business_manage_events"),
        (200, "grant whatsapp_business_manage_events"),
        (100, "share the dataset with the WhatsApp app's Business"),
    ],
)
def test_a_dataset_the_token_cannot_reach_gets_the_fix_its_error_code_calls_for(
    code: int, fix_starts: str
) -> None:
    found = healthy({READ_DATASET: graph_error("Object does not exist", code)}).checks()

    access = found["dataset_access"]
    assert not access.ok
    assert access.detail == (
        f"the token cannot reach dataset {DATASET}: Object does not exist (code {code}, fbtrace_id AbC)"
    )
    assert (access.fix or "").startswith(fix_starts)


def test_the_version_meta_answered_with_is_checked_against_the_one_asked() -> None:
    graph = healthy()
    graph.version = "v25.0"  # the path asked is the setup's; the header says what Meta served

    found = graph.checks(api_version="v25.0")

    assert found["api_version"].ok
    assert "1 version(s) behind" in found["api_version"].detail


def test_a_version_newer_than_this_release_is_accepted_without_a_fix() -> None:
    check = version_check("v27.0", None, TODAY)

    assert check.ok
    assert check.detail == "v27.0: newer than this release knows"
    assert check.fix is None


def test_a_version_older_than_the_first_known_is_unsupported() -> None:
    check = version_check("v22.0", None, TODAY)

    assert not check.ok
    assert check.detail == "v22.0: older than v23.0, unsupported"
    assert check.fix == f"set MetaApiVersion={META_API_VERSION}"


def test_a_known_versions_support_runs_two_years_from_its_release() -> None:
    check = version_check("v25.0", None, TODAY)

    assert check.ok
    assert check.detail.startswith(
        "v25.0, released 2026-02-18, supported until at least 2028-02-18; no end announced"
    )


def test_an_announced_end_fails_the_version_once_it_is_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(meta_doctor.ANNOUNCED_ENDS, "v24.0", date(2027, 1, 15))

    before = version_check("v24.0", "v24.0", date(2027, 1, 14))
    on_the_day = version_check("v24.0", "v24.0", date(2027, 1, 15))

    assert before.ok and before.detail == "v24.0: Meta announced it ends on 2027-01-15"
    assert not on_the_day.ok and on_the_day.detail == "v24.0: Meta announced it ended on 2027-01-15"
    assert on_the_day.fix == f"set MetaApiVersion={META_API_VERSION}"


def test_the_report_is_ok_only_when_every_check_is_and_never_holds_the_token() -> None:
    setup = MetaSetup(graph_base_url=BASE, api_version="v26.0", waba_id=WABA, dataset_id=DATASET)
    graph = healthy({READ_DATASET: graph_error("Object does not exist", 100)})
    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(graph.handle)) as client:
        failing = report(setup, run_checks(client, setup, "EAAG-secret", today=TODAY))

    assert failing["ok"] is False
    assert (failing["waba_id"], failing["dataset_id"], failing["api_version"]) == (WABA, DATASET, "v26.0")
    assert [c["name"] for c in failing["checks"]] == ["token", "dataset", "dataset_access", "api_version"]
    assert failing["checks"][2] == {
        "name": "dataset_access",
        "ok": False,
        "detail": f"the token cannot reach dataset {DATASET}: "
        "Object does not exist (code 100, fbtrace_id AbC)",
        "fix": "share the dataset with the WhatsApp app's Business in Business Manager, or use a "
        "dataset already in the same Business as the WABA",
    }
    assert "EAAG-secret" not in json.dumps(failing)
    assert report(setup, [])["ok"] is True
