"""Two tenants on the local stack (docs/tenants.md): clicks on two WABAs, orders in two shops, each order
attributed only within its tenant and sent to its tenant's Meta dataset and Wax account.

This module runs its own stack, from local.env plus a tenant list, so that the session's single-tenant
stack (every other e2e test) stays as a single-business deployment is.
"""

from __future__ import annotations

import copy
import json
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.sample_events import read_env
from devstack.shopify_samples import shopify_headers
from devstack.stack import QUICK_BATCHING_WINDOW, DevStack
from tests.support import attribution as sc
from tests.support import webhooks as wh

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ENV = read_env(ROOT / "local.env")
SHOP_A = ENV["SHOPIFY_SHOP_DOMAIN"]
SHOP_B = "brand-b-dev.myshopify.com"
SECRET_B = "local-dev-brand-b-shopify-secret"
# A shop whose webhooks are signed and accepted, but that no tenant lists.
SHOP_UNLISTED = "unlisted-dev.myshopify.com"
SECRET_UNLISTED = "local-dev-unlisted-shopify-secret"
WABA_B = "209876543210987"
PHONE_NUMBER_ID_B = "209876543210001"
DATASET_B = "900000000000002"
TENANTS = {
    "tenants": [
        {
            # local.env's business, kept under today's keys and parameters
            "id": "brand-a",
            "default": True,
            "phone_number_ids": [wh.METADATA["phone_number_id"]],
            "waba_id": wh.WABA_ID,
            "shops": [SHOP_A],
            "meta": {
                "dataset_id": ENV["META_DATASET_ID"],
                "token_parameter": "tenants/brand-a/meta-access-token",
            },
        },
        {
            "id": "brand-b",
            "phone_number_ids": [PHONE_NUMBER_ID_B],
            "waba_id": WABA_B,
            "shops": [SHOP_B],
            "meta": {"dataset_id": DATASET_B},
            "wax": {},
        },
    ]
}
# Tenant secrets are named under tenants/, which no local.env KEY can spell: SECURE_PARAMETERS.
SECURE_PARAMETERS = json.loads(ENV.get("SECURE_PARAMETERS") or "{}") | {
    "tenants/brand-a/meta-access-token": "brand-a-meta-token",
    "tenants/brand-b/meta-access-token": "brand-b-meta-token",
    "tenants/brand-b/wax-api-token": "brand-b-wax-token",
}
TENANT_ENV = f"""
SHOPIFY_WEBHOOK_SECRETS='{json.dumps({SHOP_B: SECRET_B, SHOP_UNLISTED: SECRET_UNLISTED})}'
TENANTS='{json.dumps(TENANTS)}'
SECURE_PARAMETERS='{json.dumps(SECURE_PARAMETERS)}'
"""


@pytest.fixture(scope="module")
def tenant_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    env_file = tmp_path_factory.mktemp("tenants") / "local.env"
    env_file.write_text((ROOT / "local.env").read_text(encoding="utf-8") + TENANT_ENV, encoding="utf-8")
    with DevStack(
        ROOT / "template.yaml", env_file, port=0, moto="process", batching_window_cap=QUICK_BATCHING_WINDOW
    ) as running:
        yield running


@pytest.fixture
def api(tenant_stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=tenant_stack.api_url, timeout=10.0) as client:
        yield client


def click(
    api: httpx.Client,
    wa_id: str,
    clid: str,
    at: int,
    *,
    waba: str,
    phone_number_id: str,
    source_id: str | None = None,
) -> None:
    referral = {"source_id": source_id} if source_id else {}
    document = json.loads(sc.referral_webhook(wa_id, at, clid, f"wamid.{uuid.uuid4().hex}", **referral))
    entry = document["entry"][0]
    entry["id"] = waba
    metadata = copy.deepcopy(wh.METADATA) | {"phone_number_id": phone_number_id}
    for change in entry["changes"]:
        change["value"]["metadata"] = metadata
    body = json.dumps(document).encode()
    wh.post_signed(api, body)


def order(api: httpx.Client, shop: str, secret: str, order_id: int, phone: str, at: int) -> None:
    body = sc.encode(sc.order(order_id=order_id, created_at=at, phone=phone))
    headers = shopify_headers(body, secret, shop=shop, topic="orders/create")
    response = api.post("/webhooks/shopify", content=body, headers=headers)
    assert response.status_code == 200, response.text


def tenant_metrics(api: httpx.Client, tenant: str) -> dict[str, Any]:
    """GET /metrics?tenant= over yesterday and today (UTC), so that a click just before midnight counts."""
    today = datetime.now(tz=UTC).date()
    query = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat(), "tz": "UTC"}
    response = api.get("/metrics", params={**query, "tenant": tenant}, headers={"X-Api-Key": ENV["API_KEY"]})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def sent_for(
    stack: DevStack, destination: str, order_id: int, deadline: float = 20.0
) -> list[dict[str, Any]]:
    """The stand-in's requests to `destination` that carry the order, once delivery settled."""
    until = time.monotonic() + deadline
    while True:
        stack.wait_until_idle()
        found = [r for r in stack.standins.recorded(destination) if str(order_id) in json.dumps(r["body"])]
        if found or time.monotonic() > until:
            return found
        time.sleep(0.2)


def test_each_order_is_attributed_within_its_tenant_and_sent_to_its_tenants_dataset_and_wax_account(
    tenant_stack: DevStack, api: httpx.Client
) -> None:
    # The same person clicked both brands' ads: the later click is brand B's.
    wa_id = f"1415{random.randint(200, 999)}{random.randint(1000, 9999)}"
    national = f"({wa_id[1:4]}) {wa_id[4:7]}-{wa_id[7:]}"
    now = int(time.time())
    # each brand's own ad, new to this stack: its counters are this test's alone
    ad_a, ad_b = (f"1202{random.randint(10**11, 10**12)}" for _ in range(2))
    before = {tenant: tenant_metrics(api, tenant) for tenant in ("brand-a", "brand-b")}
    click(
        api,
        wa_id,
        "CLID-BRAND-A",
        now - 3600,
        waba=wh.WABA_ID,
        phone_number_id=wh.METADATA["phone_number_id"],
        source_id=ad_a,
    )
    click(
        api,
        wa_id,
        "CLID-BRAND-B",
        now - 1800,
        waba=WABA_B,
        phone_number_id=PHONE_NUMBER_ID_B,
        source_id=ad_b,
    )
    tenant_stack.wait_until_idle()
    in_a, in_b = random.randint(10**11, 10**12), random.randint(10**11, 10**12)

    order(api, SHOP_A, ENV["SHOPIFY_WEBHOOK_SECRET"], in_a, national, now - 600)
    order(api, SHOP_B, SECRET_B, in_b, national, now - 600)
    tenant_stack.wait_until_idle()

    operator = {"X-Api-Key": ENV["API_KEY"]}
    a = api.get(f"/orders/{in_a}", headers=operator).json()["attribution"]
    b = api.get(f"/orders/{in_b}", headers=operator).json()["attribution"]
    # Last touch alone would credit both orders to brand B's later click.
    assert (a["status"], a["ctwa_clid"], a["contact_key"]) == ("attributed", "CLID-BRAND-A", wa_id)
    assert (b["status"], b["ctwa_clid"], b["contact_key"]) == (
        "attributed",
        "CLID-BRAND-B",
        f"brand-b~{wa_id}",
    )

    # One person, two contacts: each tenant's operator sees its own click only.
    own = {
        tenant: [
            r["ctwa_clid"]
            for r in api.get(f"/contacts/{wa_id}", params=query, headers=operator).json()["referrals"]
        ]
        for tenant, query in (("brand-a", {}), ("brand-b", {"tenant": "brand-b"}))
    }
    assert own == {"brand-a": ["CLID-BRAND-A"], "brand-b": ["CLID-BRAND-B"]}
    unknown = api.get(f"/contacts/{wa_id}", params={"tenant": "brand-z"}, headers=operator)
    assert unknown.status_code == 400 and "brand-z" in unknown.json()["message"]

    [meta_a] = sent_for(tenant_stack, "meta", in_a)
    [meta_b] = sent_for(tenant_stack, "meta", in_b)
    assert f"/{ENV['META_DATASET_ID']}/events" in meta_a["path"]
    assert meta_a["headers"]["authorization"] == "Bearer brand-a-meta-token"
    assert meta_a["body"]["data"][0]["user_data"]["whatsapp_business_account_id"] == wh.WABA_ID
    assert meta_a["body"]["data"][0]["user_data"]["ctwa_clid"] == "CLID-BRAND-A"
    assert f"/{DATASET_B}/events" in meta_b["path"]
    assert meta_b["headers"]["authorization"] == "Bearer brand-b-meta-token"
    assert meta_b["body"]["data"][0]["user_data"]["whatsapp_business_account_id"] == WABA_B
    assert meta_b["body"]["data"][0]["user_data"]["ctwa_clid"] == "CLID-BRAND-B"

    [wax_a] = sent_for(tenant_stack, "wax", in_a)
    [wax_b] = sent_for(tenant_stack, "wax", in_b)
    # Brand A has no Wax account of its own: the deployment's; brand B's own token, the same phone.
    assert wax_a["headers"]["authorization"] == f"Bearer {ENV['WAX_API_TOKEN']}"
    assert wax_b["headers"]["authorization"] == "Bearer brand-b-wax-token"
    assert wax_a["body"]["phone_number"] == wax_b["body"]["phone_number"] == wa_id

    # GET /metrics?tenant=: each brand's clicks, orders and revenue, none of the other's
    value = {
        tenant: float(api.get(f"/orders/{oid}", headers=operator).json()["value"]["amount"])
        for tenant, oid in (("brand-a", in_a), ("brand-b", in_b))
    }
    for tenant, own, other in (("brand-a", ad_a, ad_b), ("brand-b", ad_b, ad_a)):
        after = tenant_metrics(api, tenant)
        assert after["tenant"] == tenant
        assert (after["ads"][own]["clicks"], after["ads"][own]["orders"]) == (1, 1), after["ads"]
        assert after["ads"][own]["revenue"] == value[tenant]
        assert other not in after["ads"]
        assert after["orders"] - before[tenant]["orders"] == 1
        assert round(after["revenue"] - before[tenant]["revenue"], 2) == value[tenant]
    unknown_metrics = api.get("/metrics", params={"tenant": "brand-z"}, headers=operator)
    assert unknown_metrics.status_code == 400 and "brand-z" in unknown_metrics.json()["message"]

    # the operator routes take ?tenant= too: another tenant's order or delivery is not found
    mine = api.get(f"/orders/{in_b}", params={"tenant": "brand-b"}, headers=operator)
    assert mine.status_code == 200 and mine.json()["tenant"] == "brand-b"
    assert api.get(f"/orders/{in_b}", params={"tenant": "brand-a"}, headers=operator).status_code == 404
    listed = {
        tenant: {
            d["orderId"]
            for d in api.get("/deliveries", params={"tenant": tenant}, headers=operator).json()["deliveries"]
        }
        for tenant in ("brand-a", "brand-b")
    }
    assert str(in_b) in listed["brand-b"] and str(in_b) not in listed["brand-a"]
    assert str(in_a) in listed["brand-a"] and str(in_a) not in listed["brand-b"]


def test_an_order_from_a_shop_no_tenant_lists_is_unattributed_with_the_reason(
    tenant_stack: DevStack, api: httpx.Client
) -> None:
    wa_id = f"1415{random.randint(200, 999)}{random.randint(1000, 9999)}"
    national = f"({wa_id[1:4]}) {wa_id[4:7]}-{wa_id[7:]}"
    now = int(time.time())
    click(
        api,
        wa_id,
        "CLID-UNLISTED",
        now - 3600,
        waba=wh.WABA_ID,
        phone_number_id=wh.METADATA["phone_number_id"],
    )
    tenant_stack.wait_until_idle()
    order_id = random.randint(10**11, 10**12)

    order(api, SHOP_UNLISTED, SECRET_UNLISTED, order_id, national, now - 600)
    tenant_stack.wait_until_idle()

    stored = api.get(f"/orders/{order_id}", headers={"X-Api-Key": ENV["API_KEY"]}).json()
    assert stored["attribution"]["status"] == "unattributed"
    assert stored["attribution"]["reason"] == "unknown_shop"
    assert stored["attribution"].get("ctwa_clid") is None
