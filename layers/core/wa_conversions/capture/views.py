"""Operator views of captured contacts and messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import NotFoundError
from ..models.api import (
    ConsentRequest,
    ContactView,
    MessageCounts,
    MessageError,
    MessageView,
    ReferralView,
)
from ..models.domain import user_id_of_key
from ..models.events import iso_timestamp
from ..phones import wa_digits
from ..store.capture import CaptureRepository, followed_key
from ..store.consent import ContactConsent

if TYPE_CHECKING:
    from ..tenants import Tenant

STATUS_PREFIX = "at_"


def _iso(value: Any) -> str | None:
    return iso_timestamp(int(value)) if value is not None else None


def find_contact_key(repository: CaptureRepository, identifier: str) -> str | None:
    """A phone with or without "+", or a user id (route arguments arrive decoded: http_api)."""
    identifier = identifier.strip()
    digits = wa_digits(identifier)
    if digits and identifier.lstrip("+").isdigit():
        return followed_key(repository, repository.own_key(digits))
    if not identifier:
        return None
    return followed_key(repository, repository.contact_key_of_user(identifier))


def tenant_repository(
    repository: CaptureRepository, settings: Settings, tenant_id: str | None
) -> CaptureRepository:
    """The contacts of one tenant (`?tenant=`, docs/tenants.md); all of them without one."""
    if not tenant_id:
        return repository
    from ..tenants import load_tenants, tenant_named

    directory = load_tenants(settings)
    scope = directory.scope(tenant_named(directory, tenant_id))
    return repository.scoped(scope) if scope else repository


def contact_view(repository: CaptureRepository, identifier: str) -> ContactView:
    key = find_contact_key(repository, identifier)
    contact = repository.get_contact(key) if key else None
    if key is None or contact is None:
        raise NotFoundError(f"No contact {identifier!r}")
    counts = repository.count_messages(key)
    return ContactView(
        phone=contact.get("phone"),
        phone_source=contact.get("phone_source"),
        user_id=contact.get("user_id"),
        parent_user_id=contact.get("parent_user_id"),
        name=contact.get("name"),
        username=contact.get("username"),
        first_seen_at=_iso(contact.get("first_seen_at")),
        last_inbound_at=_iso(contact.get("last_inbound_at")),
        referrals=[
            ReferralView(
                ctwa_clid=item.get("ctwa_clid"),
                source_id=item.get("source_id"),
                source_type=item.get("source_type"),
                source_url=item.get("source_url"),
                headline=item.get("headline"),
                body=item.get("body"),
                media_type=item.get("media_type"),
                message_id=item["message_id"],
                received_at=_iso(item["received_at"]) or "",
            )
            for item in repository.list_referrals(key)
        ],
        messages=MessageCounts(inbound=counts["inbound"], outbound=counts["outbound"]),
        blocked=bool(contact.get("blocked", False)),
        blocked_at=_iso(contact.get("blocked_at")) if contact.get("blocked") else None,
        ads_consent=contact.get("ads_consent"),
        ads_consent_at=_iso(contact.get("ads_consent_at")),
    )


def set_ads_consent(
    repository: CaptureRepository, consent: ContactConsent, identifier: str, body: Any, now: int
) -> ContactView:
    """PUT /contacts/{id}/consent: 404 for an unknown contact, 422 for a body that is not {"ads": bool}."""
    request = ConsentRequest.model_validate(body if body is not None else {})
    key = find_contact_key(repository, identifier)
    if key is None or not consent.set(key, request.ads, now):
        raise NotFoundError(f"No contact {identifier!r}")
    return contact_view(repository, identifier)


def message_view(repository: CaptureRepository, message_id: str, tenant: Tenant | None = None) -> MessageView:
    """`tenant` (?tenant=): a 404 for another tenant's message (docs/tenants.md)."""
    from ..tenants import owns

    item = repository.get_message(message_id)
    if item is None or (tenant is not None and not owns(tenant, item.get("tenant"))):
        raise NotFoundError(f"No message {message_id!r}" + (f" for tenant {tenant.id}" if tenant else ""))
    statuses = {
        name[len(STATUS_PREFIX) :]: _iso(value) or ""
        for name, value in item.items()
        if name.startswith(STATUS_PREFIX)
    }
    contact_key = item.get("contact_key")
    user_id = user_id_of_key(contact_key) if isinstance(contact_key, str) else None
    return MessageView(
        id=message_id,
        direction=item.get("direction", "outbound"),
        contact=contact_key if user_id is None else user_id,
        type=item.get("raw_type") or item.get("message_type", "unknown"),
        status=item.get("status", "unknown"),
        statuses=dict(sorted(statuses.items(), key=lambda kv: kv[1])),
        errors=[MessageError(**error) for error in item.get("errors", [])],
        channel=item.get("channel"),
        timestamp=_iso(item.get("timestamp")),
        read_requested_at=_iso(item.get("read_requested_at")),
        read_marked_at=_iso(item.get("read_marked_at")),
    )
