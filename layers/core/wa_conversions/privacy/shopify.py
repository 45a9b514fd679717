"""Shopify's mandatory compliance webhooks (docs/privacy.md, "Shopify's compliance webhooks";
https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance). The Shopify webhook verifies
and queues them for the ErasureFunction, answering 200 at once; it applies them here (privacy.jobs):

- customers/redact: the customer's orders lose the person, and the contact the customer's phone or
  email identifies is erased (privacy.erasure);
- shop/redact: every order, follow-up and delivery of the shop is deleted;
- customers/data_request: an export of what is held about the customer is written to the table
  (EXPORT#<data request id>, kept EXPORT_DAYS) and the log says where.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ..attribution.domain import ComplianceTopic
from ..attribution.phones import parse_e164
from ..store import keys
from ..tenants import split_key
from .erasure import Eraser, Person, export_document

if TYPE_CHECKING:
    from ..store.capture import CaptureRepository

# Long enough for the merchant to hand the export over (Shopify gives them 30 days to answer).
EXPORT_DAYS = 30


class ComplianceCustomer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int | str | None = None
    email: str | None = None
    phone: str | None = None


class DataRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int | str


class CompliancePayload(BaseModel):
    """The three topics' bodies (shopify.dev, "Mandatory compliance webhooks")."""

    model_config = ConfigDict(extra="ignore")

    shop_id: int | str | None = None
    shop_domain: str | None = None
    customer: ComplianceCustomer | None = None
    orders_to_redact: list[int | str] = Field(default_factory=list)
    orders_requested: list[int | str] = Field(default_factory=list)
    data_request: DataRequest | None = None


@dataclass(frozen=True, slots=True)
class ComplianceOutcome:
    topic: str
    outcome: str
    reference: str | None = None  # the erasure id, or the export's table key


def _customer_person(
    payload: CompliancePayload, shop: str, repository: CaptureRepository, eraser: Eraser, region: str | None
) -> Person:
    """The customer as a person to search for: their phone and email, the contact either leads to,
    and the contact keys their orders were attributed to."""
    from ..capture.views import find_contact_key

    # The shop's tenant's contacts only: the same phone at another tenant is another person.
    directory = eraser.tenant_directory()
    scope = directory.scope(directory.for_shop(shop))
    contacts = repository.scoped(scope) if scope else repository
    person = Person(scope=scope)
    customer = payload.customer or ComplianceCustomer()
    if customer.email and customer.email.strip():
        person.emails.update({customer.email.strip(), customer.email.strip().lower()})
        found = eraser.contacts_with_email(customer.email)
        person.contact_keys.update(key for key in found if split_key(key)[0] == scope)
    if customer.phone and (phone := parse_e164(customer.phone, region)):
        person.phones.add(phone)
        if key := find_contact_key(contacts, phone):
            person.contact_keys.add(key)
    orders = [*payload.orders_to_redact, *payload.orders_requested]
    for order in eraser.orders(shop, [str(order_id) for order_id in orders]):
        attribution = order.get("attribution") or {}
        credited = attribution.get("contact_key") if isinstance(attribution, dict) else None
        if isinstance(credited, str) and split_key(credited)[0] == scope:
            person.contact_keys.add(credited)
        for attribute in ("phone", "email"):
            if isinstance(value := order.get(attribute), str) and value:
                (person.emails if attribute == "email" else person.phones).add(value.lstrip("+"))
    return person


def apply_compliance(
    topic: str,
    shop: str,
    body: str,
    *,
    eraser: Eraser,
    repository: CaptureRepository,
    region: str | None,
    now: int,
) -> ComplianceOutcome:
    """Apply one compliance webhook; safe to repeat (Shopify and SQS both redeliver)."""
    payload = CompliancePayload.model_validate_json(body)
    shop = (payload.shop_domain or shop).strip().lower()
    customer_id = str(payload.customer.id) if payload.customer and payload.customer.id is not None else ""
    if topic == ComplianceTopic.SHOP_REDACT:
        answer = eraser.erase_shop(shop, seed=f"shopify:{shop}")
        return ComplianceOutcome(topic, "erased", str(answer["id"]))
    person = _customer_person(payload, shop, repository, eraser, region)
    if topic == ComplianceTopic.CUSTOMERS_REDACT:
        if not person.size():
            return ComplianceOutcome(topic, "nothing_held")
        answer = eraser.erase(
            person, reason=f"shopify:{topic}", seed=f"shopify:{shop}:customer:{customer_id}"
        )
        return ComplianceOutcome(topic, "erased", str(answer["id"]))
    request_id = str(payload.data_request.id) if payload.data_request else customer_id
    document = {
        "shop": shop,
        "customer_id": customer_id,
        "data_request_id": request_id,
        "held": export_document(eraser.collect(person)) if person.size() else {},
    }
    pk = keys.data_export_pk(shop, request_id)
    written = eraser.put_export(
        pk, json.dumps(document, separators=(",", ":"), default=str), now + EXPORT_DAYS * 86_400
    )
    return ComplianceOutcome(topic, "exported" if written else "export_too_large", pk)


def parsed_outcome(outcome: ComplianceOutcome) -> dict[str, Any]:
    """What the processor logs: the topic, what was done and where; never a value of the person."""
    return {"topic": outcome.topic, "outcome": outcome.outcome, "reference": outcome.reference}
