"""Tenants (docs/tenants.md): the tenant list, whose number, shop and contact something is, attribution
within one tenant, and each tenant's own Meta dataset and Wax account. No AWS: the SSM read is faked,
httpx's MockTransport plays Meta and Wax."""

from __future__ import annotations

import json
import time
from typing import Any, cast

import httpx
import pytest

from wa_conversions import reset, secret_store
from wa_conversions import tenants as tn
from wa_conversions.attribution.conversions import conversion_phone
from wa_conversions.attribution.domain import Attribution, AttributionStatus
from wa_conversions.attribution.engine import UNLIMITED, attribute
from wa_conversions.attribution.phones import ResolvedPhones
from wa_conversions.attribution.tenancy import TenantHistory
from wa_conversions.attribution.views import order_view
from wa_conversions.config import (
    CmConversionsSettings,
    Dialog360Settings,
    MetaCapiSettings,
    Settings,
    WaxSettings,
)
from wa_conversions.delivery.log import DeliveryLog
from wa_conversions.delivery.runner import Job, Planned, QueuedMessage, Skip
from wa_conversions.errors import NotFoundError
from wa_conversions.forwarding.base import ConversionDestination
from wa_conversions.forwarding.cm import CmConversionsDestination
from wa_conversions.forwarding.dialog360 import Dialog360Destination
from wa_conversions.forwarding.meta_capi import MetaCapiDestination
from wa_conversions.forwarding.wax import WaxDestination
from wa_conversions.store.attribution import AttributionRepository

TENANTS = {
    "tenants": [
        {
            "id": "brand-a",
            "default": True,
            "phone_number_ids": ["111"],
            "waba_id": "1000",
            "shops": ["brand-a.myshopify.com"],
        },
        {
            "id": "brand-b",
            "phone_number_ids": ["222"],
            "waba_id": "2000",
            "business_numbers": ["31611111111"],
            "shops": ["Brand-B.myshopify.com"],
            "meta": {"dataset_id": "900"},
            "wax": {"token_parameter": "tenants/brand-b/wax-token"},
            "cm": {"business_number": "31622222222"},
            "dialog360": {"client_id": "client-b"},
        },
        {"id": "brand-c", "phone_number_ids": ["333"], "shops": ["brand-c.myshopify.com"]},
    ]
}


def directory() -> tn.TenantDirectory:
    return tn.TenantDirectory(tn.parse_tenants(json.dumps(TENANTS)))


# -- the tenant list -----------------------------------------------------------------------------


def test_a_shop_listed_for_two_tenants_is_refused_naming_the_shop() -> None:
    doubled = json.loads(json.dumps(TENANTS))
    doubled["tenants"][2]["shops"].append("brand-a.myshopify.com")

    with pytest.raises(
        tn.TenantConfigError, match=r"shop listed for more than one tenant: brand-a\.myshopify"
    ):
        tn.parse_tenants(json.dumps(doubled))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "Tenants is not JSON"),
        ('[{"id": "Brand A"}]', "tenants.0.id"),
        ('[{"id": "a", "meta": {"dataset_id": "x1"}}]', "tenants.0.meta.dataset_id"),
        (
            '[{"id": "a", "meta": {"dataset_id": "1", "token_parameter": "/elsewhere/token"}}]',
            "token_parameter",
        ),
        ('[{"id": "a", "default": true}, {"id": "b", "default": true}]', "at most one tenant"),
        # each forwarder may read its own destination's tenant secrets only (template.yaml)
        (
            '[{"id": "a", "wax": {"token_parameter": "tenants/a/meta-access-token"}}]',
            "tenants.0.wax.token_parameter",
        ),
        ('[{"id": "a", "wax": {"token_parameter": "tenants/a/b/wax-token"}}]', "wax.token_parameter"),
    ],
)
def test_a_bad_tenant_list_names_the_problem(text: str, problem: str) -> None:
    with pytest.raises(tn.TenantConfigError, match=problem):
        tn.parse_tenants(text)


def test_a_tenant_secret_is_read_only_for_its_own_destination(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def get_secret(settings: object, name: str) -> str:
        asked.append(name)
        return "token"

    monkeypatch.setattr(secret_store, "get_secret", get_secret)
    settings = cast("Any", object())

    assert tn.tenant_secret(settings, "tenants/brand-b/wax-api-token", "wax") == "token"
    with pytest.raises(tn.TenantConfigError, match="wax tenant secret must be named tenants/<folder>/wax-"):
        tn.tenant_secret(settings, "tenants/brand-b/meta-access-token", "wax")
    assert asked == ["tenants/brand-b/wax-api-token"]


class _RefundFirst:
    """An order Shopify has told only its refund of so far, in brand B's shop."""

    def shops_with_order(self, order_id: str) -> list[str]:
        return ["brand-b.myshopify.com"]

    def order_items(self, shop: str, order_id: str) -> list[dict[str, Any]]:
        refund = {"kind": "refund", "follow_up_id": "77", "event_id": "ev-77", "at": 1_700_000_000}
        return [{"item_type": "order_follow_up", "shop": shop, "order_id": order_id, **refund}]


def test_an_order_known_only_by_its_refund_is_its_shops_tenants_alone() -> None:
    found = directory()
    repository = cast("AttributionRepository", _RefundFirst())

    def status(tenant_id: str) -> int:
        try:
            order_view(repository, "1001", None, found.get(tenant_id), found)
        except NotFoundError:
            return 404
        return 200

    # brand A is the default tenant: its own orders and those of shops no tenant lists, not brand B's
    assert {t: status(t) for t in ("brand-a", "brand-b", "brand-c")} == {
        "brand-a": 404,
        "brand-b": 200,
        "brand-c": 404,
    }


def test_webhooks_and_orders_find_their_tenant_and_unlisted_numbers_fall_to_the_default() -> None:
    found = directory()

    assert [
        found.for_account("222", None, None),  # phone_number_id
        found.for_account(None, None, "2000"),  # WABA id (entry[].id)
        found.for_account(None, "31611111111", None),  # CM.com: the business number
        found.for_account("999", None, "9999"),  # no tenant lists it
    ] == [found.get("brand-b"), found.get("brand-b"), found.get("brand-b"), found.get("brand-a")]
    assert found.for_shop("brand-b.myshopify.com") == found.get("brand-b")
    assert found.for_shop("unlisted.myshopify.com") is None
    assert [found.scope(found.get(t)) for t in ("brand-a", "brand-b", "brand-c")] == [
        "",
        "brand-b",
        "brand-c",
    ]


def test_without_a_tenant_list_everything_is_the_implicit_tenant_under_todays_keys() -> None:
    implicit = tn.TenantDirectory(None)

    assert not implicit.listed
    tenant = implicit.for_account("any", None, "any")
    assert tenant is implicit.for_shop("any.myshopify.com") is not None
    assert implicit.scope(tenant) == ""


def test_the_tenant_list_is_read_once_per_five_minutes_even_when_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[str] = []

    def absent(settings: Settings, key: str) -> str | None:
        reads.append(key)
        return None

    monkeypatch.setattr(secret_store, "get_optional_secret", absent)
    reset()
    try:
        first, second = tn.load_tenants(Settings()), tn.load_tenants(Settings())
    finally:
        reset()

    assert reads == ["TENANTS"]
    assert not first.listed and not second.listed


def test_a_scoped_contact_key_still_gives_its_phone_to_the_destinations() -> None:
    attributed = Attribution(AttributionStatus.ATTRIBUTED, None, "brand-b~16505551212")

    assert conversion_phone(attributed, "19999999999") == "16505551212"
    assert tn.phone_of_key("brand-b~uid:US.123") is None


# -- attribution within a tenant ----------------------------------------------------------------


class History:
    """The same phone talked to brand A (unscoped: the default tenant) and to brand B."""

    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {"16505551212": {}, "brand-b~16505551212": {}}
        self.clicks = {
            "16505551212": [{"ctwa_clid": "CLID-A", "received_at": 1000}],
            "brand-b~16505551212": [{"ctwa_clid": "CLID-B", "received_at": 2000}],
        }

    def find_contact(self, contact_keys: Any) -> tuple[str, dict[str, Any]] | None:
        for key in contact_keys:
            if key in self.contacts:
                return key, self.contacts[key]
        return None

    def link_token(self, token: str) -> dict[str, Any] | None:
        return None

    def contacts_with_email(self, email: str) -> list[str]:
        return list(self.contacts)

    def referrals(self, contact_key: str) -> list[dict[str, Any]]:
        return self.clicks.get(contact_key, [])

    def inbound_between(self, contact_key: str, start: int, end: int) -> bool:
        return False


@pytest.mark.parametrize(("scope", "clid"), [("", "CLID-A"), ("brand-b", "CLID-B"), ("brand-c", None)])
def test_an_order_is_credited_only_to_a_click_of_its_own_tenant(scope: str, clid: str | None) -> None:
    phones = ResolvedPhones(e164="16505551212", keys=("16505551212",), found_any=True)
    history = TenantHistory(History(), scope)

    found = attribute(phones, 3000, history, UNLIMITED)

    assert found.ctwa_clid == clid
    assert history.contacts_with_email("x@example.com") == (
        [] if scope == "brand-c" else [tn.scoped_key(scope, "16505551212")]
    )


# -- each tenant's destinations ----------------------------------------------------------------


def conversion(tenant: str | None) -> dict[str, Any]:
    now = int(time.time())
    properties: dict[str, Any] = {
        "conversionId": "shopify:brand-b.myshopify.com:1001",
        "eventId": "shopify:brand-b.myshopify.com:1001:order",
        "kind": "order",
        "shop": "brand-b.myshopify.com",
        "orderId": "1001",
        "value": 59.9,
        "currency": "EUR",
        "phone": "16505551212",
        "contactKey": "brand-b~16505551212",
        "ctwaClid": "CLID-B",
        "clickedAt": now - 3600,
        "attribution": {"status": "attributed"},
    }
    if tenant:
        properties["tenant"] = tenant
    detail = {
        "event": "conversion.attributed",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
        "properties": properties,
    }
    return {"detail-type": "conversion.attributed", "detail": detail}


def queued(message: dict[str, Any]) -> QueuedMessage:
    return QueuedMessage("m", "h", json.dumps(message), 1, message)


def delivery_env(**extra: str) -> dict[str, str]:
    return {"TABLE_NAME": "t", "DELIVERY_QUEUE_URL": "q", "DELIVERY_DLQ_URL": "d", **extra}


class Recorder:
    def __init__(self, answer: dict[str, Any], status: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self._answer, self._status = answer, status

    def client(self, base_url: str) -> httpx.Client:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(self._status, json=self._answer)

        return httpx.Client(base_url=base_url, transport=httpx.MockTransport(handle))


def send(destination: ConversionDestination, message: dict[str, Any]) -> Planned | Skip:
    decision = destination.plan(queued(message))
    if isinstance(decision, Planned):
        destination.send([Job(queued(message), decision, "delivery", 1)])
    return decision


def meta(recorder: Recorder, tokens: dict[str, str]) -> MetaCapiDestination:
    settings = MetaCapiSettings.model_validate(
        delivery_env(META_DATASET_ID="42", META_WABA_ID="1000", META_GRAPH_BASE_URL="https://graph.test")
    )
    return MetaCapiDestination(
        settings,
        lambda: recorder.client("https://graph.test"),
        lambda: "deployment-token",
        tenants=directory,
        tenant_secret=tokens.__getitem__,
    )


def test_a_tenants_conversion_goes_to_its_dataset_with_its_waba_and_token() -> None:
    recorder = Recorder({"events_received": 1})
    destination = meta(recorder, {"tenants/brand-b/meta-access-token": "brand-b-token"})

    send(destination, conversion("brand-b"))

    [request] = recorder.requests
    assert request.url.path == "/v26.0/900/events"
    assert request.headers["Authorization"] == "Bearer brand-b-token"
    [event] = json.loads(request.content)["data"]
    assert event["user_data"]["whatsapp_business_account_id"] == "2000"


def test_a_conversion_without_a_tenant_goes_where_the_deployment_says() -> None:
    recorder = Recorder({"events_received": 1})

    send(meta(recorder, {}), conversion(None))

    [request] = recorder.requests
    assert request.url.path == "/v26.0/42/events"
    assert request.headers["Authorization"] == "Bearer deployment-token"


@pytest.mark.parametrize(
    ("tenant", "reason"),
    [
        ("brand-c", "tenant 'brand-c' has no Meta account configured (Tenants: meta)"),
        ("gone", "tenant 'gone' is not in the Tenants parameter"),
    ],
)
def test_a_tenant_without_a_meta_dataset_is_skipped_with_the_reason(tenant: str, reason: str) -> None:
    recorder = Recorder({"events_received": 1})

    decision = send(meta(recorder, {}), conversion(tenant))

    assert isinstance(decision, Skip) and decision.reason.startswith(reason)
    assert recorder.requests == []


def test_a_tenants_wax_account_gets_its_metric_with_its_token_and_a_tenant_without_one_is_skipped() -> None:
    recorder = Recorder({"id": "1"}, status=201)
    settings = WaxSettings.model_validate(delivery_env(WAX_BASE_URL="https://wax.test"))
    destination = WaxDestination(
        settings,
        lambda: recorder.client("https://wax.test"),
        lambda: "deployment-token",
        tenants=directory,
        tenant_secret={"tenants/brand-b/wax-token": "brand-b-wax-token"}.__getitem__,
    )

    send(destination, conversion("brand-b"))
    skipped = send(destination, conversion("brand-c"))

    [request] = recorder.requests
    assert request.headers["Authorization"] == "Bearer brand-b-wax-token"
    assert json.loads(request.content)["phone_number"] == "16505551212"
    assert isinstance(skipped, Skip) and "has no Wax account configured" in skipped.reason


def test_a_tenants_cm_com_and_360dialog_accounts_get_its_conversions_and_others_are_skipped() -> None:
    cm_recorder, d360_recorder = Recorder({"status": "accepted"}), Recorder({"external_event_id": "x"})
    secrets = {
        "tenants/brand-b/cm-product-token": "brand-b-cm-token",
        "tenants/brand-b/dialog360-api-key": "brand-b-360-key",
    }
    cm = CmConversionsDestination(
        CmConversionsSettings.model_validate(delivery_env(CM_BUSINESS_NUMBER="31611111111")),
        lambda: cm_recorder.client("https://cm.test"),
        lambda: "deployment-token",
        tenants=directory,
        tenant_secret=secrets.__getitem__,
    )
    d360 = Dialog360Destination(
        Dialog360Settings.model_validate(delivery_env(DIALOG360_CLIENT_ID="client-a")),
        lambda: d360_recorder.client("https://360.test"),
        lambda: "deployment-key",
        log=cast("DeliveryLog", None),  # an order heads its chain: the log is not read
        tenants=directory,
        tenant_secret=secrets.__getitem__,
    )

    send(cm, conversion("brand-b"))
    send(d360, conversion("brand-b"))
    skipped = [send(cm, conversion("brand-c")), send(d360, conversion("brand-c"))]

    [cm_request] = cm_recorder.requests
    cm_body = json.loads(cm_request.content)
    assert cm_body["from"] == {"number": "0031622222222"}
    assert cm_body["authentication"] == {"productToken": "brand-b-cm-token"}
    [d360_request] = d360_recorder.requests
    assert d360_request.url.path == "/clients/client-b/external-events"
    assert json.loads(d360_request.content)["api_key"] == "brand-b-360-key"
    assert [isinstance(s, Skip) and "has no" in s.reason for s in skipped] == [True, True]


def test_an_in_thread_rule_conversion_of_a_tenants_contact_carries_its_tenant_and_phone() -> None:
    from wa_conversions.forwarding.rules import conversions_for, parse_rules

    rules = parse_rules('[{"name": "won", "event": "QualifiedLead", "capture": "chat.resolved"}]')
    event = {
        "event": "chat.resolved",
        "timestamp": "2026-11-30T10:00:00Z",
        "properties": {"contactKey": "brand-b~16505551212", "tenant": "brand-b"},
    }

    [queued_conversion] = conversions_for(rules, event, lambda _key: None)

    properties = queued_conversion["detail"]["properties"]
    assert (properties["tenant"], properties["phone"]) == ("brand-b", "16505551212")
