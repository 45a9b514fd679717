"""`make doctor` and GET /health/meta (docs/forwarding.md, "Checking the set-up") against the local
Meta stand-in: a missing dataset, a refused token, a token without the events permission, a dataset
that is not the WABA's, and the Graph version, each reported with its fix."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from devstack import doctor
from devstack.standins import StandIns, meta_dataset_for
from wa_conversions.forwarding.meta_doctor import Check, MetaSetup, run_checks, version_check

WABA = "102290129340398"
DATASET = meta_dataset_for(WABA)


@pytest.fixture
def graph() -> Iterator[StandIns]:
    with StandIns(port=0) as standins:
        yield standins


# The stand-in takes any token but those it is told to refuse.
TOKEN = "local-dev-meta-token"


def checks(graph: StandIns, token: str = TOKEN, create: bool = False, **setup: str) -> dict[str, Check]:
    meta = MetaSetup(
        graph_base_url=graph.url + "/meta",
        api_version=setup.get("api_version", "v26.0"),
        waba_id=setup.get("waba_id", WABA),
        dataset_id=setup.get("dataset_id", DATASET),
        secret_name="/wa-conversions/meta-access-token",
    )
    with httpx.Client(base_url=meta.graph_base_url, timeout=5.0) as client:
        return {c.name: c for c in run_checks(client, meta, token, create=create)}


def test_a_missing_dataset_is_reported_with_how_to_create_it(graph: StandIns) -> None:
    found = checks(graph)
    assert found["token"].ok
    assert not found["dataset"].ok
    assert "has no dataset" in found["dataset"].detail
    assert "--create" in (found["dataset"].fix or "")


def test_create_makes_the_wabas_dataset_once_and_then_everything_passes(graph: StandIns) -> None:
    first = checks(graph, create=True)
    again = checks(graph, create=True)
    assert all(c.ok for c in first.values()), first
    assert "created now" in first["dataset"].detail
    assert "created now" not in again["dataset"].detail
    assert graph.meta_datasets == {WABA: DATASET}
    assert first["dataset_access"].detail == f"the token can send events to dataset {DATASET}"


def test_a_refused_token_is_reported_with_where_to_put_a_new_one(graph: StandIns) -> None:
    graph.set_meta({"datasets": {WABA: DATASET}, "bad_tokens": ["expired"]})
    found = checks(graph, token="expired")
    assert not found["token"].ok
    assert "code 190" in found["token"].detail
    assert "ssm put-parameter" in (found["token"].fix or "")
    assert "/wa-conversions/meta-access-token" in (found["token"].fix or "")
    assert "dataset" not in found  # not tried: they would only repeat the refusal
    assert "expired" not in repr(found)


def test_a_token_without_the_events_permission_is_reported(graph: StandIns) -> None:
    graph.set_meta({"datasets": {WABA: DATASET}, "missing_permissions": ["whatsapp_business_manage_events"]})
    found = checks(graph)
    assert not found["token"].ok and "whatsapp_business_manage_events" in found["token"].detail
    assert not found["dataset_access"].ok
    assert "grant whatsapp_business_manage_events" in (found["dataset_access"].fix or "")


def test_a_configured_dataset_that_is_not_the_wabas_is_reported(graph: StandIns) -> None:
    graph.set_meta({"datasets": {WABA: DATASET}})
    found = checks(graph, dataset_id="999")
    assert not found["dataset"].ok
    assert found["dataset"].fix == f"set MetaDatasetId={DATASET}"


def test_the_graph_version_in_use_is_reported_with_its_support() -> None:
    today = date(2026, 12, 1)
    current = version_check("v26.0", "v26.0", today)
    assert current.ok and current.fix is None and "no end announced" in current.detail
    old = version_check("v23.0", "v23.0", today)
    assert old.ok and "3 version(s) behind v26.0" in old.detail and old.fix == "set MetaApiVersion=v26.0"
    upgraded = version_check("v20.0", "v23.0", today)
    assert not upgraded.ok and "no longer served" in upgraded.detail


def test_make_doctor_prints_each_failure_with_its_fix_and_fails(
    graph: StandIns, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = tmp_path / "local.env"
    env.write_text(
        f"META_GRAPH_BASE_URL={graph.url}/meta\nMETA_WABA_ID={WABA}\nMETA_DATASET_ID={DATASET}\n"
        "META_ACCESS_TOKEN=local-dev-meta-token\n"
    )
    assert doctor.main(["--env", str(env)]) == 1
    missing = capsys.readouterr().out
    assert "FAIL dataset" in missing and "fix: create it: make doctor ARGS=--create" in missing

    assert doctor.main(["--env", str(env), "--create"]) == 0
    assert "all checks passed" in capsys.readouterr().out
    assert "local-dev-meta-token" not in missing
