"""Meta's Conversions API as Meta runs it in 2026 (docs/forwarding.md, "Meta"): the current Graph
version, the source policy for website orders, one event per order stage, Limited Data Use and ads
consent, and answers that say less than they seem (a shortfall in events_received, a restricted region).
respx plays Graph; no AWS."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import httpx
import pytest

from wa_conversions.config import MetaCapiSettings
from wa_conversions.delivery.outcome import OutcomeKind
from wa_conversions.delivery.runner import Planned, QueuedMessage, Skip
from wa_conversions.forwarding.hashing import (
    hash_external_id,
    normalize_city,
    normalize_country,
    normalize_email,
    normalize_external_id,
    normalize_name,
    normalize_phone,
    normalize_state,
    normalize_zip,
)
from wa_conversions.forwarding.meta_capi import MetaCapiDestination, MetaEvent, classify_meta
from wa_conversions.forwarding.names import parse_event_names


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def settings(**env: str) -> MetaCapiSettings:
    return MetaCapiSettings.model_validate(
        {
            "TABLE_NAME": "t",
            "DELIVERY_QUEUE_URL": "q",
            "DELIVERY_DLQ_URL": "d",
            "META_DATASET_ID": "42",
            "META_WABA_ID": "102290129340398",
            "META_GRAPH_BASE_URL": "https://graph.test",
            **env,
        }
    )


def destination(consent: bool | None = None, **env: str) -> MetaCapiDestination:
    return MetaCapiDestination(
        settings(**env), lambda: httpx.Client(), lambda: "token", consent=lambda _key: consent
    )


def conversion(kind: str = "order", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    properties: dict[str, Any] = {
        "conversionId": "shopify:shop.myshopify.com:1001",
        "eventId": f"shopify:shop.myshopify.com:1001:{kind}",
        "kind": kind,
        "shop": "shop.myshopify.com",
        "orderId": "1001",
        "value": 59.9,
        "currency": "EUR",
        "email": " Mary.Smith@Example.com ",
        "phone": "16505551212",
        "contactKey": "16505551212",
        "ctwaClid": "Aff-n8ZTODiE79d22KtAwQ",
        "clickedAt": now - 3600,
        "customer": {
            "firstName": "Mary",
            "lastName": "Smith",
            "city": "Menlo Park",
            "state": "CA",
            "zip": "94035-1234",
            "country": "US",
        },
        "landingSite": "/products/succulents?utm_source=facebook",
        "clientIp": "203.0.113.7",
        "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)",
        "fbc": "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
        "fbp": "fb.1.1558571054389.1098115397",
    }
    properties.update(overrides)
    return {
        "detail-type": "conversion.attributed",
        "detail": {
            "event": "conversion.attributed",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60)),
            "properties": properties,
        },
    }


def plan(dest: MetaCapiDestination, message: dict[str, Any]) -> Planned | Skip:
    return dest.plan(QueuedMessage("m", "h", json.dumps(message), 1, message))


def event_of(decision: Planned | Skip) -> dict[str, Any]:
    assert isinstance(decision, Planned), decision
    request: MetaEvent = decision.request
    return request.event


# -- hashing: Meta's customer information parameters, with its documented examples ----------------


@pytest.mark.parametrize(
    ("normalize", "given", "expected"),
    [
        # em: trimmed, lowercase
        (normalize_email, "  John_Smith@gmail.com ", "john_smith@gmail.com"),
        # ph: digits with the country code, no symbols, letters or leading zeros
        (normalize_phone, "+1 (650) 555-1212", "16505551212"),
        # fn, ln: lowercase, no punctuation; UTF-8 letters stay
        (normalize_name, "Mary", "mary"),
        (normalize_name, " O'Neil-Smith. ", "oneilsmith"),
        (normalize_name, "José", "josé"),
        # ct: lowercase, no spaces, no punctuation
        (normalize_city, "Menlo Park", "menlopark"),
        (normalize_city, "St. Louis", "stlouis"),
        # st: the two-letter code, lowercase
        (normalize_state, "CA", "ca"),
        # country: ISO 3166-1 alpha-2, lowercase
        (normalize_country, "US", "us"),
        (normalize_country, "United States", None),
        # external_id: trimmed only, case kept (it must keep matching the pixel's own id)
        (normalize_external_id, "  Cust-AB12 ", "Cust-AB12"),
    ],
)
def test_each_hashed_field_is_normalised_as_meta_documents(
    normalize: Any, given: str, expected: str | None
) -> None:
    assert normalize(given) == expected


@pytest.mark.parametrize(
    ("given", "country", "expected"),
    [
        ("94035-1234", "US", "94035"),  # U.S.: the first 5 digits
        ("94035", "us", "94035"),
        ("1987", "AU", "1987"),
        ("75018", "FR", "75018"),
        ("M1 1AE", "GB", "m11ae"),  # UK: area, district and sector, lowercase, no space
    ],
)
def test_zip_codes_are_normalised_as_meta_documents(given: str, country: str, expected: str) -> None:
    assert normalize_zip(given, country) == expected


def test_external_id_is_hashed_without_changing_its_case() -> None:
    assert hash_external_id(" Cust-AB12 ") == sha("Cust-AB12")
    assert hash_external_id("Cust-AB12") != hash_external_id("cust-ab12")


# -- version ------------------------------------------------------------------------------------


def test_the_default_graph_version_is_the_current_one_and_stays_a_parameter() -> None:
    assert settings().api_version == "v26.0"
    assert destination().path == "/v26.0/42/events"
    assert destination(META_API_VERSION="v25.0").path == "/v25.0/42/events"
    with pytest.raises(ValueError, match="META_API_VERSION"):
        settings(META_API_VERSION="26")


# -- order stages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "event_name"),
    [
        ("order", "OrderCreated"),
        ("order_paid", "Purchase"),
        ("order_shipped", "OrderShipped"),
        ("order_delivered", "OrderDelivered"),
        ("order_cancelled", "OrderCanceled"),
        ("refund", "OrderReturned"),
    ],
)
def test_every_stage_of_an_order_has_its_meta_event_with_its_own_id(kind: str, event_name: str) -> None:
    event = event_of(plan(destination(), conversion(kind)))
    assert event["event_name"] == event_name
    assert event["event_id"] == f"shopify:shop.myshopify.com:1001:{kind}"
    assert (event["custom_data"]["value"], event["custom_data"]["currency"]) == (59.9, "EUR")


def test_a_stage_left_out_of_the_mapping_is_skipped_with_its_reason() -> None:
    dest = destination(META_EVENT_NAMES="order_paid=Purchase,refund=OrderReturned")
    skipped = plan(dest, conversion("order_shipped"))
    assert isinstance(skipped, Skip)
    assert "no Meta event name" in skipped.reason
    assert event_of(plan(dest, conversion("order_paid")))["event_name"] == "Purchase"


def test_a_mapping_with_a_name_meta_does_not_list_is_refused() -> None:
    with pytest.raises(ValueError, match="Lead"):
        parse_event_names("order=Lead")
    assert parse_event_names("order=OrderCreated, refund=OrderReturned") == {
        "order": "OrderCreated",
        "refund": "OrderReturned",
    }


# -- source policy ------------------------------------------------------------------------------


def test_by_default_a_shopify_order_goes_as_business_messaging_with_its_ad_click() -> None:
    event = event_of(plan(destination(), conversion("order_paid")))
    assert event["action_source"] == "business_messaging"
    assert event["messaging_channel"] == "whatsapp"
    user = event["user_data"]
    assert user["ctwa_clid"] == "Aff-n8ZTODiE79d22KtAwQ"
    assert user["whatsapp_business_account_id"] == "102290129340398"
    assert "event_source_url" not in event and "fn" not in user


def test_website_source_sends_a_web_event_with_the_address_hashes_and_no_click_id() -> None:
    event = event_of(plan(destination(META_WEB_ORDER_SOURCE="website"), conversion("order_paid")))
    assert event["action_source"] == "website"
    assert "messaging_channel" not in event
    assert event["event_source_url"] == "https://shop.myshopify.com/products/succulents?utm_source=facebook"
    user = event["user_data"]
    assert "ctwa_clid" not in user and "whatsapp_business_account_id" not in user
    assert user["em"] == [sha("mary.smith@example.com")]
    assert user["ph"] == [sha("16505551212")]
    assert user["fn"] == [sha("mary")]
    assert user["ln"] == [sha("smith")]
    assert user["ct"] == [sha("menlopark")]
    assert user["st"] == [sha("ca")]
    assert user["zp"] == [sha("94035")]
    assert user["country"] == [sha("us")]
    # Meta: client details and the browser ids are sent as they are, never hashed
    assert user["client_ip_address"] == "203.0.113.7"
    assert user["client_user_agent"].startswith("Mozilla/5.0")
    assert user["fbc"] == "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890"
    assert user["fbp"] == "fb.1.1558571054389.1098115397"


def test_a_web_event_without_a_landing_site_names_the_shop() -> None:
    dest = destination(META_WEB_ORDER_SOURCE="website")
    event = event_of(plan(dest, conversion("order", landingSite=None)))
    assert event["event_source_url"] == "https://shop.myshopify.com"


def test_posted_conversions_stay_in_the_thread_whatever_the_web_source() -> None:
    dest = destination(META_WEB_ORDER_SOURCE="website")
    event = event_of(plan(dest, conversion("external", eventName="LeadSubmitted", value=None, currency=None)))
    assert event["action_source"] == "business_messaging"
    assert event["user_data"]["ctwa_clid"] == "Aff-n8ZTODiE79d22KtAwQ"


# -- Limited Data Use and consent ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {"data_processing_options": []}),
        (
            {"META_LIMITED_DATA_USE": "geo"},
            {
                "data_processing_options": ["LDU"],
                "data_processing_options_country": 0,
                "data_processing_options_state": 0,
            },
        ),
        (
            {"META_LIMITED_DATA_USE": "always", "META_LDU_COUNTRY": "1", "META_LDU_STATE": "1000"},
            {
                "data_processing_options": ["LDU"],
                "data_processing_options_country": 1,
                "data_processing_options_state": 1000,
            },
        ),
    ],
)
def test_limited_data_use_is_expressed_on_every_event(env: dict[str, str], expected: dict[str, Any]) -> None:
    event = event_of(plan(destination(**env), conversion("order_paid")))
    assert {k: v for k, v in event.items() if k.startswith("data_processing")} == expected


def test_a_contact_without_ads_consent_is_sent_for_attribution_only_and_the_log_says_so() -> None:
    decision = plan(destination(consent=False), conversion("order_paid"))
    assert event_of(decision)["opt_out"] is True
    assert isinstance(decision, Planned) and decision.note and "opt_out" in decision.note
    assert "opt_out" not in event_of(plan(destination(consent=True), conversion("order_paid")))
    assert "opt_out" not in event_of(plan(destination(consent=None), conversion("order_paid")))


def test_a_contact_without_ads_consent_is_skipped_when_so_configured() -> None:
    skipped = plan(destination(consent=False, META_NO_CONSENT="skip"), conversion("order_paid"))
    assert isinstance(skipped, Skip)
    assert "no ads consent" in skipped.reason


# -- answers ------------------------------------------------------------------------------------


def answer(status: int, body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("POST", "https://graph.test/x"))


def test_a_shortfall_in_events_received_is_no_delivery() -> None:
    ok = classify_meta(answer(200, {"events_received": 3, "fbtrace_id": "AbC"}), 3)
    assert ok.kind is OutcomeKind.DELIVERED and ok.body["fbtrace_id"] == "AbC"
    one = classify_meta(answer(200, {"events_received": 0, "fbtrace_id": "AbC"}), 1)
    assert one.kind is OutcomeKind.PERMANENT
    assert "0 of the 1" in (one.error or "") and "AbC" in (one.error or "")
    # which of the three Meta kept is unknown, and Meta does not dedupe: none goes again on its own
    some = classify_meta(answer(200, {"events_received": 2, "fbtrace_id": "AbC"}), 3)
    assert some.kind is OutcomeKind.AMBIGUOUS and "2 of the 3" in (some.error or "")


def test_a_restricted_region_answer_is_a_skip_with_its_reason_not_a_failure() -> None:
    body = {
        "error": {
            "message": "Messaging Event Within Messaging Restrictive Region",
            "type": "OAuthException",
            "code": 100,
            "fbtrace_id": "Xyz",
        }
    }
    outcome = classify_meta(answer(400, body), 1)
    assert outcome.kind is OutcomeKind.SKIPPED
    assert "region" in (outcome.error or "") and "Xyz" in (outcome.error or "")
    other = classify_meta(answer(400, {"error": {"message": "Invalid parameter", "code": 100}}), 1)
    assert other.kind is OutcomeKind.PERMANENT


def test_a_trimmed_order_keeps_what_a_website_event_needs() -> None:
    from wa_conversions.capture.shopify_ingest import _trimmed

    notes = [{"name": "_fbp", "value": "fb.1.1558571054389.1098115397"}] + [
        {"name": f"n{i}", "value": "x" * 10_000} for i in range(500)
    ]
    order = {
        "id": 1,
        "landing_site": "/products/a",
        "client_details": {"browser_ip": "203.0.113.7", "user_agent": "Mozilla/5.0"},
        "note_attributes": notes,
        "billing_address": {"first_name": "Mary", "city": "Menlo Park", "zip": "94035"},
    }
    kept = _trimmed(order)
    assert kept["landing_site"] == "/products/a"
    assert kept["client_details"] == order["client_details"]
    assert kept["billing_address"] == order["billing_address"]
    assert kept["note_attributes"][0] == {"name": "_fbp", "value": "fb.1.1558571054389.1098115397"}
    assert len(json.dumps(kept["note_attributes"])) < 30_000
