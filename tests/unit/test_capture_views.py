"""The operator's views of captured contacts and messages (capture.views), over moto's table as
capture writes it: finding a contact by phone or user id, its view, its consent, a message's statuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from tests.support import store_tables
from tests.support.capture import emptied
from tests.support.store_tables import TABLE
from wa_conversions import tenants as wa_tenants
from wa_conversions.capture import views
from wa_conversions.config import Settings
from wa_conversions.errors import BadRequestError, NotFoundError
from wa_conversions.models.domain import AdReferral, ContactRef, ErrorDetail, MessageStatus
from wa_conversions.store.capture import CaptureRepository
from wa_conversions.store.cm_channel import CmChannelRepository
from wa_conversions.store.consent import ContactConsent
from wa_conversions.tenants import Tenant, TenantDirectory, TenantList

PHONE = "16505551234"
USER = "US.13491208655302741918"
T = 1_750_000_000  # 2025-06-15T15:06:40Z
PREFIX = "/wa-conversions-views"


@pytest.fixture(scope="module")
def moto_table() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        yield from store_tables.moto_tables(patch, "Table")


@pytest.fixture
def client(moto_table: Any) -> Any:
    return emptied(moto_table, TABLE)


@pytest.fixture
def repo(client: Any) -> CaptureRepository:
    return CaptureRepository(client, TABLE)


def contact(repo: CaptureRepository, ref: ContactRef, key: str, at: int = T) -> None:
    repo.upsert_contact(ref, key, first_seen=at, last_inbound=at, update_key=f"msg:{key}")


def inbound(repo: CaptureRepository, message_id: str, key: str | None, at: int, **fields: Any) -> None:
    repo.record_inbound_message(
        message_id=message_id,
        contact_key=key,
        message_type=fields.get("message_type", "text"),
        raw_type=fields.get("raw_type", "text"),
        timestamp=at,
        channel="meta",
        phone_number_id="106540352242922",
        has_referral=False,
        expires_at=at + 86_400,
    )


def status(repo: CaptureRepository, message_id: str, state: MessageStatus, at: int, **fields: Any) -> None:
    repo.record_status(
        message_id=message_id,
        status=state,
        raw_status=state.value,
        timestamp=at,
        contact_key=fields.get("contact_key", PHONE),
        channel="cm",
        phone_number_id=None,
        errors=fields.get("errors", ()),
        conversation_id=None,
        pricing_category=None,
        expires_at=at + 86_400,
    )


# -- finding a contact ----------------------------------------------------------------------------


@pytest.mark.parametrize("identifier", [PHONE, f"+{PHONE}", f"  +{PHONE} "])
def test_a_phone_is_found_with_or_without_its_plus(repo: CaptureRepository, identifier: str) -> None:
    contact(repo, ContactRef(phone=PHONE), PHONE)
    assert views.find_contact_key(repo, identifier) == PHONE


def test_a_user_id_finds_the_phone_contact_it_was_seen_with(repo: CaptureRepository) -> None:
    contact(repo, ContactRef(phone=PHONE, user_id=USER), PHONE)
    assert views.find_contact_key(repo, USER) == PHONE


def test_a_user_id_never_seen_with_a_phone_names_its_own_contact(repo: CaptureRepository) -> None:
    contact(repo, ContactRef(user_id=USER), f"uid:{USER}")
    assert views.find_contact_key(repo, USER) == f"uid:{USER}"


def test_an_old_number_leads_to_the_contact_s_new_one(repo: CaptureRepository) -> None:
    contact(repo, ContactRef(phone=PHONE), PHONE)
    repo.move_contact(PHONE, "16505559876")
    assert views.find_contact_key(repo, PHONE) == "16505559876"


def test_a_blank_identifier_finds_nobody(repo: CaptureRepository) -> None:
    assert views.find_contact_key(repo, "   ") is None


# -- a contact's view ---------------------------------------------------------------------------------


def test_a_contact_s_view_holds_its_profile_clicks_and_message_counts(repo: CaptureRepository) -> None:
    contact(repo, ContactRef(phone=PHONE, user_id=USER, name="Sheena Nelson", username="sheena"), PHONE)
    click = AdReferral("Aff-1", "120226305854810726", "ad", "https://fb.me/x", "Chat with us", None, "image")
    repo.record_referral(
        contact_key=PHONE, referral=click, message_id="wamid.in", timestamp=T, channel="meta"
    )
    inbound(repo, "wamid.in", PHONE, T)
    status(repo, "wamid.out", MessageStatus.SENT, T + 10)

    view = views.contact_view(repo, f"+{PHONE}")

    assert (view.phone, view.user_id, view.name, view.username) == (PHONE, USER, "Sheena Nelson", "sheena")
    assert view.first_seen_at == view.last_inbound_at == "2025-06-15T15:06:40.000Z"
    assert (view.messages.inbound, view.messages.outbound) == (1, 1)
    [referral] = view.referrals
    assert (referral.ctwa_clid, referral.message_id, referral.received_at) == (
        "Aff-1",
        "wamid.in",
        "2025-06-15T15:06:40.000Z",
    )
    assert (view.blocked, view.blocked_at, view.ads_consent) == (False, None, None)


def test_a_blocked_contact_says_since_when_and_an_unblocked_one_does_not(
    client: Any, repo: CaptureRepository
) -> None:
    contact(repo, ContactRef(phone=PHONE), PHONE)
    channel = CmChannelRepository(client, TABLE)
    channel.block(PHONE, T + 60, "g-1")
    blocked = views.contact_view(repo, PHONE)
    assert (blocked.blocked, blocked.blocked_at) == (True, "2025-06-15T15:07:40.000Z")
    channel.unblock(PHONE, T + 120, "g-2")
    assert (views.contact_view(repo, PHONE).blocked, views.contact_view(repo, PHONE).blocked_at) == (
        False,
        None,
    )


@pytest.mark.parametrize("identifier", [PHONE, USER, ""])
def test_an_unknown_contact_is_not_found_by_its_name(repo: CaptureRepository, identifier: str) -> None:
    with pytest.raises(NotFoundError, match=f"No contact {identifier!r}"):
        views.contact_view(repo, identifier)


# -- consent ------------------------------------------------------------------------------------------


def test_consent_is_recorded_and_shown_in_the_contact_s_view(client: Any, repo: CaptureRepository) -> None:
    contact(repo, ContactRef(phone=PHONE, user_id=USER), PHONE)
    consent = ContactConsent(client, TABLE)
    view = views.set_ads_consent(repo, consent, USER, {"ads": False}, T + 5)
    assert (view.ads_consent, view.ads_consent_at) == (False, "2025-06-15T15:06:45.000Z")
    assert consent.get(PHONE) is False


@pytest.mark.parametrize("body", [None, {}, {"ads": "yes"}, {"ads": True, "email": False}])
def test_a_consent_body_that_is_not_ads_true_or_false_is_refused(
    client: Any, repo: CaptureRepository, body: Any
) -> None:
    contact(repo, ContactRef(phone=PHONE), PHONE)
    with pytest.raises(ValidationError):
        views.set_ads_consent(repo, ContactConsent(client, TABLE), PHONE, body, T)
    assert repo.get_contact(PHONE) is not None and "ads_consent" not in repo.get_contact(PHONE)  # type: ignore[operator]


def test_consent_for_an_unknown_contact_is_not_found_and_creates_nothing(
    client: Any, repo: CaptureRepository
) -> None:
    with pytest.raises(NotFoundError):
        views.set_ads_consent(repo, ContactConsent(client, TABLE), PHONE, {"ads": True}, T)
    assert store_tables.everything(client) == []


# -- a message's view ---------------------------------------------------------------------------------


def test_a_message_shows_each_status_in_time_order_and_its_errors(repo: CaptureRepository) -> None:
    failure = ErrorDetail(code=131026, title="Message undeliverable", message="not on WhatsApp", details=None)
    status(repo, "order-1", MessageStatus.DELIVERED, T + 20)
    status(repo, "order-1", MessageStatus.SENT, T + 10)
    status(repo, "order-1", MessageStatus.FAILED, T + 30, errors=(failure,))

    view = views.message_view(repo, "order-1")

    assert (view.id, view.direction, view.contact, view.channel) == ("order-1", "outbound", PHONE, "cm")
    assert list(view.statuses) == ["sent", "delivered", "failed"]
    assert view.statuses["failed"] == "2025-06-15T15:07:10.000Z"
    assert view.status == "failed"
    assert [(e.code, e.title) for e in view.errors] == [(131026, "Message undeliverable")]


def test_a_message_of_a_user_id_contact_names_the_user_and_its_raw_type(repo: CaptureRepository) -> None:
    inbound(repo, "wamid.u", f"uid:{USER}", T, message_type="unknown", raw_type="hologram")
    view = views.message_view(repo, "wamid.u")
    assert (view.contact, view.type, view.direction, view.status) == (USER, "hologram", "inbound", "received")
    assert view.timestamp == "2025-06-15T15:06:40.000Z"


def test_a_message_read_through_cm_shows_when_it_was_asked_and_marked(
    client: Any, repo: CaptureRepository
) -> None:
    inbound(repo, "wamid.r", PHONE, T)
    CmChannelRepository(client, TABLE).mark_read("wamid.r", T + 3)
    view = views.message_view(repo, "wamid.r")
    assert view.read_requested_at == view.read_marked_at == "2025-06-15T15:06:43.000Z"


def test_a_message_is_shown_only_to_the_tenant_that_owns_it(repo: CaptureRepository) -> None:
    inbound(repo.scoped("brand-b"), "wamid.b", f"brand-b~{PHONE}", T)
    inbound(repo, "wamid.main", PHONE, T)
    brand_b, main = Tenant(id="brand-b"), Tenant(id="main", default=True)
    assert views.message_view(repo, "wamid.b", brand_b).id == "wamid.b"
    with pytest.raises(NotFoundError, match=r"No message 'wamid\.b' for tenant main"):
        views.message_view(repo, "wamid.b", main)
    assert views.message_view(repo, "wamid.main", main).id == "wamid.main"
    with pytest.raises(NotFoundError, match="for tenant brand-b"):
        views.message_view(repo, "wamid.main", brand_b)
    with pytest.raises(NotFoundError, match=r"No message 'wamid\.none'$"):
        views.message_view(repo, "wamid.none")


# -- a tenant's contacts ------------------------------------------------------------------------------


@pytest.fixture
def tenants(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The deployment's Tenants parameter, as load_tenants reads it (its SSM read is secret_store's)."""
    listed = TenantList(
        tenants=(Tenant(id="brand-b", phone_number_ids=("2001",)), Tenant(id="main", default=True))
    )
    settings = Settings.model_validate({"PARAMETER_PREFIX": PREFIX})
    monkeypatch.setattr(
        wa_tenants, "load_tenants", lambda given: TenantDirectory(listed) if given is settings else None
    )
    return settings


def test_a_tenant_s_repository_finds_its_contacts_only(repo: CaptureRepository, tenants: Settings) -> None:
    contact(repo.scoped("brand-b"), ContactRef(phone=PHONE, name="B's"), f"brand-b~{PHONE}")
    contact(repo, ContactRef(phone=PHONE, name="Main's"), PHONE)
    assert views.contact_view(views.tenant_repository(repo, tenants, "brand-b"), PHONE).name == "B's"
    assert views.contact_view(views.tenant_repository(repo, tenants, "main"), PHONE).name == "Main's"
    assert views.tenant_repository(repo, tenants, None) is repo
    with pytest.raises(BadRequestError, match="no tenant 'brand-z'"):
        views.tenant_repository(repo, tenants, "brand-z")
