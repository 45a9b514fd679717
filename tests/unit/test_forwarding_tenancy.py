"""forwarding.tenancy: which account a conversion goes to in a deployment with or without a tenant
list (docs/tenants.md), or the reason it is skipped."""

from __future__ import annotations

import json

import pytest

from wa_conversions import tenants as tn
from wa_conversions.forwarding.tenancy import DEPLOYMENT, Route, route

LISTED = tn.TenantDirectory(
    tn.parse_tenants(
        json.dumps(
            [
                {"id": "north", "default": True, "phone_number_ids": ["5001"]},
                {
                    "id": "south",
                    "phone_number_ids": ["5002"],
                    "meta": {"dataset_id": "7007"},
                    "wax": {"base_url": "https://south.wax.test"},
                },
                {
                    "id": "east",
                    "phone_number_ids": ["5003"],
                    "wax": {"token_parameter": "tenants/east/wax-x"},
                },
            ]
        )
    )
)


def directory() -> tn.TenantDirectory:
    return LISTED


def never_read() -> tn.TenantDirectory:
    raise AssertionError("the tenant list was read")


@pytest.mark.parametrize(("tenants", "tenant_id"), [(None, "south"), (never_read, None), (never_read, "")])
def test_without_a_tenant_list_or_a_tenant_the_deployments_parameters_apply(
    tenants: object, tenant_id: str | None
) -> None:
    assert route(tenants, tenant_id, "Meta", "meta") is DEPLOYMENT  # type: ignore[arg-type]


def test_a_tenant_list_removed_since_the_event_was_queued_sends_it_to_the_deployment() -> None:
    unlisted = tn.TenantDirectory(None)

    assert route(lambda: unlisted, "south", "Meta", "meta") == Route(None, None)


def test_a_tenant_with_its_own_account_gets_it() -> None:
    found = route(directory, "south", "Meta", "meta")

    assert isinstance(found, Route)
    assert found.tenant is not None and found.tenant.id == "south"
    assert found.account is not None and found.account.dataset_id == "7007"


def test_the_field_picks_which_of_the_tenants_accounts() -> None:
    wax = route(directory, "east", "Wax", "wax")

    assert isinstance(wax, Route)
    assert wax.account is not None and wax.account.token_parameter == "tenants/east/wax-x"
    assert route(directory, "east", "Meta", "meta") == (
        "tenant 'east' has no Meta account configured (Tenants: meta)"
    )


def test_the_default_tenant_without_an_account_uses_the_deployments_with_its_tenant_named() -> None:
    found = route(directory, "north", "Wax", "wax")

    assert isinstance(found, Route)
    assert found.tenant is not None and found.tenant.id == "north"
    assert found.account is None


def test_a_tenant_not_in_the_list_is_skipped_naming_it_and_the_destination() -> None:
    assert route(directory, "west", "360dialog", "dialog360") == (
        "tenant 'west' is not in the Tenants parameter: no 360dialog account to send to"
    )
