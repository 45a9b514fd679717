"""GET /metrics?tenant= through the real handlers against moto (docs/tenants.md): each listed tenant's
counters, whatever order its events arrive in, next to the deployment's; an unknown tenant is a 400.

The scripted history (tests/support/analytics_history.py) is brand A's: its bus events name the
tenant, as capture stamps them, and its CRM items name none (their contact's tenant is the one its
webhooks named). Brand B adds one click, one reply and one order from the same phone."""

from __future__ import annotations

import copy
import json
import random
from datetime import date
from typing import Any

import boto3
import pytest

from tests.integration.test_analytics import PREFIX, RANGE, TABLE, AnalyticsHarness, metrics_of
from tests.integration.test_analytics import harness as harness  # the fixture
from tests.support import analytics_history as history
from wa_conversions.models.ad_day import AdDay
from wa_conversions.models.events import contact_merged
from wa_conversions.store.ad_spend import AdSpendRepository

S3 = "120210000000003"
ACCOUNT_A, ACCOUNT_B = "1111111111", "2222222222"
TENANTS = [
    {"id": "brand-a", "default": True, "phone_number_ids": ["106540352242922"], "shops": ["a.myshopify.com"]},
    {
        "id": "brand-b",
        "phone_number_ids": ["209876543210001"],
        "shops": ["b.myshopify.com"],
        "ad_account_ids": [f"act_{ACCOUNT_B}"],
    },
]
B_CONTACT = f"brand-b~{history.A}"  # the same phone as history's contact A, talking to brand B


def list_tenants() -> None:
    boto3.client("ssm").put_parameter(
        Name=f"{PREFIX}/tenants", Value=json.dumps(TENANTS), Type="SecureString", Overwrite=True
    )


def brand_a_history() -> list[history.Step]:
    steps = copy.deepcopy(history.HISTORY)
    for step in steps:
        if step.source == "bus":
            step.document["properties"]["tenant"] = "brand-a"
    return steps


def brand_b_steps() -> list[history.Step]:
    def tenant_b(step: history.Step) -> history.Step:
        step.document["properties"]["tenant"] = "brand-b"
        return step

    when = history.at(history.D1, "10:00:00")
    order = history.conversion(
        "conversion.attributed", history.at(history.D1, "11:00:00"), "b-order", 30.0, S3
    )
    return [
        tenant_b(history.bus("contact.created", B_CONTACT, when, "bb-created", source="ad")),
        tenant_b(
            history.bus("referral.captured", B_CONTACT, when, "bb1", messageId="wamid.bb1", sourceId=S3)
        ),
        tenant_b(history.bus("message.received", B_CONTACT, when, "bb1", messageId="wamid.bb1")),
        tenant_b(
            history.bus(
                "message.sent", B_CONTACT, history.at(history.D1, "10:01:00"), "bo1", messageId="wamid.bo1"
            )
        ),
        tenant_b(order),
    ]


def tenant_metrics(harness: AnalyticsHarness, tenant: str) -> dict[str, Any]:
    response = harness.metrics({**RANGE, "tenant": tenant})
    assert response["statusCode"] == 200, response
    found: dict[str, Any] = response["json"]
    return found


class TestEachTenantCountsOnlyItsOwn:
    @pytest.mark.parametrize("seed", [None, 5, 17])
    def test_brand_a_answers_its_history_and_brand_b_only_its_order(
        self, harness: AnalyticsHarness, seed: int | None
    ) -> None:
        list_tenants()
        steps = brand_a_history() + brand_b_steps()
        if seed is not None:  # CRM items before the webhooks naming their contact's tenant, repeats
            steps = steps + steps
            random.Random(seed).shuffle(steps)
        for index, step in enumerate(steps):
            harness.deliver(step)
            if index % 5 == 0:
                harness.drain(redeliver=seed is not None)
        harness.drain()

        brand_a = tenant_metrics(harness, "brand-a")
        history.assert_matches_expected(brand_a)
        assert brand_a["tenant"] == "brand-a"

        brand_b = tenant_metrics(harness, "brand-b")
        assert brand_b["tenant"] == "brand-b"
        assert set(brand_b["ads"]) == {S3}
        ad = brand_b["ads"][S3]
        assert (ad["clicks"], ad["conversations"], ad["orders"], ad["revenue"]) == (1, 1, 1, 30.0)
        assert (brand_b["orders"], brand_b["revenue"]) == (1, 30.0)
        assert brand_b["funnel"] == {"sent": 1, "delivered": 0, "read": 0, "replied": 0}
        assert sum(brand_b["new_contacts"].values()) == 1

        # without ?tenant=: the whole deployment, as before tenants
        everyone = metrics_of(harness)
        assert "tenant" not in everyone
        assert set(everyone["ads"]) == {*history.EXPECTED["ads"], S3}
        assert everyone["orders"] == history.EXPECTED["orders"] + 1
        assert everyone["revenue"] == round(history.EXPECTED["revenue"] + 30.0, 2)

    def test_a_merged_contact_of_a_tenant_counts_once_for_it(self, harness: AnalyticsHarness) -> None:
        list_tenants()
        morning, noon = history.at(history.D1, "09:00:00"), history.at(history.D1, "12:00:00")
        uid = "brand-b~uid:US.13491208655302741918"
        merged = contact_merged(uid, B_CONTACT, 0, "meta").model_dump(by_alias=True)
        merged["properties"]["tenant"] = "brand-b"
        steps = [
            history.bus("contact.created", B_CONTACT, morning, "p-created", source="organic"),
            history.bus("referral.captured", B_CONTACT, morning, "p-click", messageId="w1", sourceId="AD1"),
            history.bus("contact.created", uid, noon, "u-created", source="ad"),
            history.bus("referral.captured", uid, noon, "u-click", messageId="w2", sourceId="AD1"),
        ]
        for step in steps:
            step.document["properties"]["tenant"] = "brand-b"
        for step in [*steps, history.Step("bus", merged)]:
            harness.deliver(step)
            harness.drain()
        brand_b = tenant_metrics(harness, "brand-b")
        assert sum(brand_b["new_contacts"].values()) == 1
        assert (brand_b["ads"]["AD1"]["clicks"], brand_b["ads"]["AD1"]["conversations"]) == (2, 1)
        assert tenant_metrics(harness, "brand-a")["ads"] == {}


class TestSpendIsTheTenantsOwn:
    def test_by_its_ad_accounts_or_else_by_the_ads_its_clicks_came_from(
        self, harness: AnalyticsHarness
    ) -> None:
        list_tenants()
        for step in brand_a_history() + brand_b_steps():
            harness.deliver(step)
        harness.drain()
        repository = AdSpendRepository(boto3.client("dynamodb"), TABLE)
        rows = {
            ACCOUNT_A: [(history.S1, "10.00"), (history.S2, "20.00"), ("120219999999999", "5.00")],
            ACCOUNT_B: [(S3, "7.50"), ("120218888888888", "2.50")],
        }
        for account, ads in rows.items():
            days = [
                AdDay.model_validate(
                    {
                        "account_id": account,
                        "date_start": history.D1,
                        "ad_id": ad,
                        "spend": amount,
                        "account_currency": "USD",
                    }
                )
                for ad, amount in ads
            ]
            repository.replace(account, date.fromisoformat(history.D1), date.fromisoformat(history.D1), days)

        # brand B lists its ad account: all of its spend, its ad without a click too
        brand_b = tenant_metrics(harness, "brand-b")
        assert {ad: entry["spend"] for ad, entry in brand_b["ads"].items()} == {
            S3: 7.5,
            "120218888888888": 2.5,
        }
        # brand A does not: the spend of the ads its clicks came from
        brand_a = tenant_metrics(harness, "brand-a")
        spent = {ad: entry["spend"] for ad, entry in brand_a["ads"].items() if entry["spend"] is not None}
        assert spent == {history.S1: 10.0, history.S2: 20.0}
        # the deployment: every account's
        everyone = metrics_of(harness)
        assert sum(entry["spend"] or 0 for entry in everyone["ads"].values()) == 45.0


class TestAnUnknownTenant:
    def test_is_a_400_naming_it(self, harness: AnalyticsHarness) -> None:
        list_tenants()
        response = harness.metrics({**RANGE, "tenant": "brand-z"})
        assert response["statusCode"] == 400, response
        assert response["json"]["field"] == "tenant"
        assert "brand-z" in response["json"]["message"]

    def test_without_a_tenant_list_every_tenant_is_unknown_and_the_answer_is_unchanged(
        self, harness: AnalyticsHarness
    ) -> None:
        for step in history.HISTORY:
            harness.deliver(step)
        harness.drain()
        response = harness.metrics({**RANGE, "tenant": "brand-a"})
        assert response["statusCode"] == 400, response
        assert "brand-a" in response["json"]["message"]
        history.assert_matches_expected(metrics_of(harness))
