"""`?tenant=` on the operator routes against moto (docs/tenants.md): a tenant's message or delivery is
found under its id, another tenant's is a 404, an unknown tenant a 400 naming it. (Orders, and the
deliveries the forwarders record with their tenant, are checked end to end in tests/e2e/test_tenants.py.)"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from devstack.sample_events import proxy_event, whatsapp_post
from tests.integration.conftest import PREFIX, TABLE, CaptureHarness
from tests.support import webhooks as wh
from wa_conversions.delivery.log import DeliveryFacts, DeliveryLog

PHONE_NUMBER_ID_B = "209876543210001"
PHONE = "14155550123"
# A business-scoped user id: the tenants of one business portfolio see the same one for a person.
UID = "US.13491208655302741918"
TENANTS = [
    {"id": "brand-a", "default": True, "phone_number_ids": [wh.METADATA["phone_number_id"]]},
    {"id": "brand-b", "phone_number_ids": [PHONE_NUMBER_ID_B], "waba_id": "209876543210987"},
]


@pytest.fixture
def tenants(harness: CaptureHarness) -> CaptureHarness:
    boto3.client("ssm").put_parameter(
        Name=f"{PREFIX}/tenants", Value=json.dumps(TENANTS), Type="SecureString", Overwrite=True
    )
    return harness


def get(harness: CaptureHarness, function: str, path: str, resource: str, **query: str) -> dict[str, Any]:
    arguments = {
        name.strip("{}"): value
        for name, value in zip(resource.split("/"), path.split("/"), strict=True)
        if name.startswith("{")
    }
    event = proxy_event(
        "GET",
        path,
        resource=resource,
        headers={"X-Api-Key": harness.env["API_KEY"]},
        query=query or None,
        path_parameters=arguments or None,
    )
    response = harness.invoke(function, event)
    response["json"] = json.loads(response["body"])
    return response


def receive(harness: CaptureHarness, message_id: str, phone_number_id: str) -> None:
    deliver(
        harness,
        {
            "contacts": [wh.contact(PHONE)],
            "messages": [wh.text_message(message_id, PHONE, int(time.time()) - 60)],
        },
        phone_number_id,
    )


def deliver(harness: CaptureHarness, value: dict[str, Any], phone_number_id: str) -> None:
    """One webhook change, as Meta sends it for the number `phone_number_id`."""
    document = wh.webhook(value)
    document["entry"][0]["changes"][0]["value"]["metadata"] = {
        **wh.METADATA,
        "phone_number_id": phone_number_id,
    }
    response = harness.post(whatsapp_post(wh.encode(document), harness.env["WHATSAPP_APP_SECRET"]))
    assert response["statusCode"] == 200, response
    harness.drain()


class TestMessages:
    def test_each_tenants_message_is_found_under_its_tenant_only(self, tenants: CaptureHarness) -> None:
        receive(tenants, "wamid.brand-a-1", wh.METADATA["phone_number_id"])
        receive(tenants, "wamid.brand-b-1", PHONE_NUMBER_ID_B)

        def status(message_id: str, **query: str) -> int:
            path = f"/messages/{message_id}"
            return int(get(tenants, "operator_api", path, "/messages/{message_id}", **query)["statusCode"])

        assert status("wamid.brand-b-1", tenant="brand-b") == 200
        assert status("wamid.brand-b-1", tenant="brand-a") == 404
        # the default tenant's messages are under today's keys, naming no tenant
        assert status("wamid.brand-a-1", tenant="brand-a") == 200
        assert status("wamid.brand-a-1", tenant="brand-b") == 404
        # without ?tenant=: any message, as before
        assert status("wamid.brand-b-1") == status("wamid.brand-a-1") == 200

    def test_a_business_message_is_its_numbers_tenants_too(self, tenants: CaptureHarness) -> None:
        """A message the business sent (known from its statuses only) belongs to the number's tenant."""
        now = int(time.time()) - 60
        for message_id, number in (
            ("wamid.out-b", PHONE_NUMBER_ID_B),
            ("wamid.out-a", wh.METADATA["phone_number_id"]),
        ):
            deliver(tenants, {"statuses": [wh.status(message_id, "delivered", now, PHONE)]}, number)

        def status(message_id: str, tenant: str) -> int:
            path = f"/messages/{message_id}"
            response = get(tenants, "operator_api", path, "/messages/{message_id}", tenant=tenant)
            return int(response["statusCode"])

        assert status("wamid.out-b", "brand-b") == 200
        assert status("wamid.out-b", "brand-a") == 404
        assert status("wamid.out-a", "brand-a") == 200
        assert status("wamid.out-a", "brand-b") == 404

    def test_an_unknown_tenant_is_a_400_naming_it(self, tenants: CaptureHarness) -> None:
        receive(tenants, "wamid.brand-a-2", wh.METADATA["phone_number_id"])
        response = get(
            tenants, "operator_api", "/messages/wamid.brand-a-2", "/messages/{message_id}", tenant="nope"
        )
        assert response["statusCode"] == 400, response
        assert response["json"]["field"] == "tenant" and "nope" in response["json"]["message"]


class TestContacts:
    def contact(self, harness: CaptureHarness, identifier: str, tenant: str) -> dict[str, Any]:
        return get(harness, "operator_api", f"/contacts/{identifier}", "/contacts/{id}", tenant=tenant)

    def test_a_user_id_leads_to_each_tenants_own_contact(self, tenants: CaptureHarness) -> None:
        """The same person with the same user id on both brands' numbers: brand B is seen first, and
        brand A's later message that carries only the user id is still brand A's phone contact."""
        now = int(time.time()) - 600
        for number, message_id in (
            (PHONE_NUMBER_ID_B, "wamid.uid-b"),
            (wh.METADATA["phone_number_id"], "wamid.uid-a"),
        ):
            value = {
                "contacts": [wh.contact(PHONE, user_id=UID)],
                "messages": [wh.text_message(message_id, PHONE, now, from_user_id=UID)],
            }
            deliver(tenants, value, number)
        only_uid = {
            "contacts": [wh.contact(None, user_id=UID)],
            "messages": [wh.text_message("wamid.uid-a-2", None, now + 60, from_user_id=UID)],
        }
        deliver(tenants, only_uid, wh.METADATA["phone_number_id"])

        brand_a = self.contact(tenants, UID, "brand-a")
        brand_b = self.contact(tenants, UID, "brand-b")

        assert brand_a["statusCode"] == 200, brand_a
        assert (brand_a["json"]["phone"], brand_a["json"]["messages"]["inbound"]) == (PHONE, 2)
        assert (brand_b["json"]["phone"], brand_b["json"]["messages"]["inbound"]) == (PHONE, 1)

    def test_an_unknown_tenant_is_a_400_naming_the_field(self, tenants: CaptureHarness) -> None:
        receive(tenants, "wamid.brand-a-3", wh.METADATA["phone_number_id"])

        response = self.contact(tenants, PHONE, "nope")

        assert response["statusCode"] == 400, response
        assert response["json"]["field"] == "tenant" and "nope" in response["json"]["message"]


class TestDeliveries:
    @pytest.fixture
    def recorded(self, tenants: CaptureHarness) -> CaptureHarness:
        log = DeliveryLog(boto3.client("dynamodb"), TABLE)
        for tenant, order_id in (("brand-a", "101"), ("brand-b", "202"), (None, "303")):
            facts = DeliveryFacts(
                destination="wax", event_id=f"ev-{order_id}", order_id=order_id, tenant=tenant
            )
            log.mark_skipped(facts, "no account", message="{}", queue="wax")
        return tenants

    def listed(self, harness: CaptureHarness, **query: str) -> set[str]:
        response = get(harness, "delivery_api", "/deliveries", "/deliveries", **query)
        assert response["statusCode"] == 200, response
        return {d["orderId"] for d in response["json"]["deliveries"]}

    def test_the_list_holds_the_tenants_own(self, recorded: CaptureHarness) -> None:
        assert self.listed(recorded, tenant="brand-b") == {"202"}
        # the default tenant's: its own, and those from before the tenant list
        assert self.listed(recorded, tenant="brand-a") == {"101", "303"}
        assert self.listed(recorded) == {"101", "202", "303"}

    def test_one_delivery_of_another_tenant_is_not_found(self, recorded: CaptureHarness) -> None:
        delivery_id = self.delivery_id(recorded, "202")
        path, resource = f"/deliveries/{delivery_id}", "/deliveries/{delivery_id}"
        mine = get(recorded, "delivery_api", path, resource, tenant="brand-b")
        assert mine["statusCode"] == 200 and mine["json"]["tenant"] == "brand-b"
        assert get(recorded, "delivery_api", path, resource, tenant="brand-a")["statusCode"] == 404
        unknown = get(recorded, "delivery_api", "/deliveries", "/deliveries", tenant="brand-z")
        assert unknown["statusCode"] == 400 and "brand-z" in unknown["json"]["message"]

    def delivery_id(self, harness: CaptureHarness, order_id: str) -> str:
        response = get(harness, "delivery_api", "/deliveries", "/deliveries", order_id=order_id)
        [found] = response["json"]["deliveries"]
        return str(found["id"])
