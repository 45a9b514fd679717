"""Meta's Conversions API for Business Messaging (docs/forwarding.md):
POST {graph}/{version}/{dataset_id}/events with {"data": [events], "test_event_code"}.

Only conversions credited to a Click-to-WhatsApp ad clicked within 7 days are sent: as business
messaging events, or Shopify orders as website events (MetaWebOrderSource), each stage of an order by
MetaEventNames, with Limited Data Use and the contact's ads consent (docs/forwarding.md, "Meta"). A
200 that received fewer events than were sent is no delivery; Meta's restricted-region answer is a
skip. Several queued conversions go in one request; since one bad event fails the whole request at
Meta, the runner splits a rejected batch in halves until the bad event stands alone, and only that
one fails. An event that cannot be written as JSON is refused when planned, so it never joins a batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ..config import MetaCapiSettings
from ..delivery.http import UnsendableError, encode_json
from ..delivery.outcome import Outcome, OutcomeKind, classify_exception, classify_response, response_json
from ..delivery.runner import Job, Planned, QueuedMessage
from ..errors import PermanentFailure
from ..models.meta_rules import (
    MAX_EVENT_AGE_DAYS,
    META_VALUE_REQUIRED,
    click_window_problem,
    too_old,
)
from .base import ConversionDestination
from .conversion import ConversionEvent
from .hashing import (
    hash_city,
    hash_country,
    hash_email,
    hash_external_id,
    hash_name,
    hash_phone,
    hash_state,
    hash_zip,
)
from .names import meta_event_name, parse_event_names
from .tenancy import route

if TYPE_CHECKING:
    from ..tenants import MetaTenant, TenantDirectory

# Graph API throttling codes (providers.md §3.5, unconfirmed for CAPI): a 400 that means "slow down".
THROTTLING_CODES = frozenset({4, 17, 32, 613, 80004})


@dataclass(frozen=True, slots=True)
class MetaEvent:
    event: dict[str, Any]
    test_event_code: str
    # A tenant's own dataset and token parameter (docs/tenants.md); empty: the deployment's.
    dataset_id: str = ""
    token_parameter: str = ""


# Meta's answer for users in the EU, the UK or Japan, where business messaging events are not allowed
# (respond.io/help/workflows/step-send-conversions-api-event): a permanent skip, never a retry.
RESTRICTED_REGION = "messaging restrictive region"
# The Shopify kinds MetaWebOrderSource applies to; POST /conversions and in-thread rules stay in-thread.
SHOPIFY_KINDS = frozenset(
    {"order", "order_paid", "order_shipped", "order_delivered", "order_cancelled", "refund"}
)


def _hashed(user_data: dict[str, Any], field: str, hashed: str | None) -> None:
    if hashed:
        user_data[field] = [hashed]


def web_user_data(event: ConversionEvent) -> dict[str, Any]:
    """A website event's customer information: hashed em, ph, fn, ln, ct, st, zp, country;
    client_ip_address, client_user_agent, fbc and fbp as they are (Meta: never hashed)."""
    p = event.properties
    customer = p.customer
    user_data: dict[str, Any] = {}
    _hashed(user_data, "em", hash_email(p.email))
    _hashed(user_data, "ph", hash_phone(p.phone))
    if customer is not None:
        _hashed(user_data, "fn", hash_name(customer.first_name))
        _hashed(user_data, "ln", hash_name(customer.last_name))
        _hashed(user_data, "ct", hash_city(customer.city))
        _hashed(user_data, "st", hash_state(customer.state))
        _hashed(user_data, "zp", hash_zip(customer.zip, customer.country))
        _hashed(user_data, "country", hash_country(customer.country))
    _hashed(user_data, "external_id", hash_external_id(p.external_id))
    for field, value in (
        ("client_ip_address", p.client_ip),
        ("client_user_agent", p.user_agent),
        ("fbc", p.fbc),
        ("fbp", p.fbp),
    ):
        if value:
            user_data[field] = value
    return user_data


def event_source_url(event: ConversionEvent) -> str | None:
    """The order's landing page on the shop's domain, else the shop's own URL."""
    p = event.properties
    shop_url = f"https://{p.shop}" if p.shop else None
    landing = (p.landing_site or "").strip()
    if landing.startswith("/") and not landing.startswith("//") and shop_url:
        return shop_url + landing
    if landing.startswith(("https://", "http://")):
        return landing
    return shop_url


def custom_data_for(event: ConversionEvent) -> dict[str, Any]:
    p = event.properties
    custom_data: dict[str, Any] = {}
    if p.value is not None:
        custom_data["value"] = p.value
    if p.currency:
        custom_data["currency"] = p.currency.upper()
    content_ids = p.content_ids or [
        str(item.product_id or item.sku or item.id) for item in p.line_items if item.product_id or item.sku
    ]
    if content_ids:
        custom_data["content_ids"] = content_ids
        custom_data["content_type"] = "product"
    if p.line_items:
        custom_data["num_items"] = event.item_count()
    if p.order_id:
        custom_data["order_id"] = p.order_id
    return custom_data


def server_event(
    event: ConversionEvent, event_name: str, waba_id: str, source: str = "business_messaging"
) -> dict[str, Any]:
    p = event.properties
    body: dict[str, Any] = {
        "event_name": event_name,
        "event_time": event.event_time,
        "event_id": p.event_id,
        "action_source": source,
    }
    if source == "website":
        body["event_source_url"] = event_source_url(event)
        body["user_data"] = web_user_data(event)
    else:
        user_data: dict[str, Any] = {"ctwa_clid": p.ctwa_clid}
        if p.waba_id or waba_id:
            user_data["whatsapp_business_account_id"] = p.waba_id or waba_id
        _hashed(user_data, "em", hash_email(p.email))
        _hashed(user_data, "ph", hash_phone(p.phone))
        _hashed(user_data, "external_id", hash_external_id(p.external_id))
        body["messaging_channel"] = "whatsapp"
        body["user_data"] = user_data
    custom_data = custom_data_for(event)
    if custom_data:
        body["custom_data"] = custom_data
    return body


def data_processing_options(settings: MetaCapiSettings) -> dict[str, Any]:
    """Limited Data Use: 0/0 lets Meta geolocate the user; `always` names the country and state."""
    if settings.limited_data_use == "off":
        return {"data_processing_options": []}
    country, state = (
        (0, 0) if settings.limited_data_use == "geo" else (settings.ldu_country, settings.ldu_state)
    )
    return {
        "data_processing_options": ["LDU"],
        "data_processing_options_country": country,
        "data_processing_options_state": state,
    }


def classify_meta(response: httpx.Response, sent: int = 1) -> Outcome:
    """Meta's answer: throttling is retried, a restricted region skipped, and a 200 that received
    fewer events than were sent is not a delivery."""
    outcome = classify_response(response)
    body = response_json(response)
    error = (body or {}).get("error") if isinstance(body, dict) else None
    if outcome.kind is OutcomeKind.PERMANENT and response.status_code == 400 and isinstance(error, dict):
        message = " ".join(
            str(error.get(key) or "") for key in ("message", "error_user_title", "error_user_msg")
        )
        if RESTRICTED_REGION in message.lower():
            return Outcome.skipped(
                "Meta does not take business messaging events from this user's region (EU, UK or "
                f"Japan): {error.get('message')} (fbtrace_id {error.get('fbtrace_id')})",
                response.status_code,
            )
        if error.get("code") in THROTTLING_CODES or error.get("is_transient"):
            return Outcome.retry(outcome.error or "throttled", outcome.status_code)
    if outcome.kind is OutcomeKind.DELIVERED:
        received = body.get("events_received") if isinstance(body, dict) else None
        if received != sent:
            trace = body.get("fbtrace_id") if isinstance(body, dict) else None
            reason = (
                f"Meta acknowledged {received} of the {sent} events sent (fbtrace_id {trace})"
                if isinstance(received, int)
                else f"Meta's answer has no events_received (fbtrace_id {trace})"
            )
            if sent == 1:
                return Outcome.permanent(reason, response.status_code)
            # Which of them Meta kept is unknown, and Meta does not dedupe: none is sent again on its own.
            return Outcome.ambiguous(f"{reason}; which ones is unknown", response.status_code)
    return outcome


class MetaCapiDestination(ConversionDestination):
    name = "meta"

    def __init__(
        self,
        settings: MetaCapiSettings,
        client_factory: Any,
        secret: Any,
        clock: Callable[[], float] = time.time,
        consent: Callable[[str], bool | None] | None = None,
        prefetch: Callable[[list[str]], None] | None = None,
        tenants: Callable[[], TenantDirectory] | None = None,
        tenant_secret: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(client_factory, secret)
        self.settings = settings
        self._tenants = tenants
        self._tenant_secret = tenant_secret
        self.max_batch = settings.max_batch
        self._clock = clock
        self._event_names = parse_event_names(settings.event_names)
        # The contact's ads consent (PUT /contacts/{id}/consent): True, False, or None when never given.
        self._consent = consent or (lambda _key: None)
        self._prefetch = prefetch

    def prepare(self, messages: Sequence[QueuedMessage]) -> None:
        """Fetches the batch's contacts' consent together, before each message is planned."""
        if self._prefetch is None:
            return
        found: list[str] = []
        for message in messages:
            body = message.json if isinstance(message.json, dict) else {}
            detail = body.get("detail") if isinstance(body.get("detail"), dict) else body
            properties = detail.get("properties") if isinstance(detail, dict) else None
            key = properties.get("contactKey") if isinstance(properties, dict) else None
            if isinstance(key, str) and key:
                found.append(key)
        if found:
            self._prefetch(found)

    def source_for(self, event: ConversionEvent) -> str:
        if event.properties.kind in SHOPIFY_KINDS:
            return self.settings.web_order_source
        return "business_messaging"

    def request_for(self, event: ConversionEvent) -> MetaEvent | str:
        p = event.properties
        routed = route(self._tenants, p.tenant, "Meta", "meta")
        if isinstance(routed, str):
            return routed
        name = meta_event_name(p.kind, p.event_name, self._event_names)
        if name is None:
            return f"no Meta event name for a {p.kind!r} conversion (event name {p.event_name!r})"
        # The same credit rule under both sources: only what a Click-to-WhatsApp ad brought.
        problem = click_window_problem(p.ctwa_clid, event.clicked_at_epoch, event.event_time)
        if problem:
            return problem
        if too_old(event.event_time, self._clock()):
            return f"the conversion is more than {MAX_EVENT_AGE_DAYS} days old: Meta rejects such events"
        if name in META_VALUE_REQUIRED and (p.value is None or not p.currency):
            return f"{name} needs value and currency"
        source = self.source_for(event)
        if source == "website" and not p.shop and not (p.landing_site or "").startswith("http"):
            return "a website event needs event_source_url: the order names no shop"
        consent = self._consent(p.contact_key) if p.contact_key else None
        if consent is False and self.settings.no_consent == "skip":
            return "no ads consent: the contact said no (PUT /contacts/{id}/consent), MetaNoConsent=skip"
        test_code = p.test_event_code or self.settings.test_event_code
        waba_id = (routed.tenant.waba_id if routed.tenant else None) or self.settings.waba_id
        body = server_event(event, name, waba_id, source)
        body.update(data_processing_options(self.settings))
        if consent is False:
            # Meta then uses it for attribution only, never to optimise ad delivery.
            body["opt_out"] = True
        try:
            encode_json(body)
        except UnsendableError as error:
            # Meta would refuse the whole request it sits in: keep it out of every batch.
            raise PermanentFailure(str(error)) from None
        account: MetaTenant | None = routed.account
        if account is None or routed.tenant is None:
            return MetaEvent(body, test_code)
        token = routed.tenant.secret_name(account.token_parameter, "meta-access-token")
        return MetaEvent(body, test_code, account.dataset_id, token)

    def note_for(self, request: object) -> str | None:
        if isinstance(request, MetaEvent) and request.event.get("opt_out"):
            return "sent with opt_out true: no ads consent (attribution only, MetaNoConsent=opt_out)"
        return None

    @property
    def path(self) -> str:
        s = self.settings
        return f"/{s.api_version}/{s.dataset_id}/events"

    def batch_key(self, planned: Planned) -> str:
        # One request carries one test_event_code, so events are grouped by it.
        request: MetaEvent = planned.request
        if request.dataset_id:
            # and by dataset and token: a tenant's events go to its own dataset (docs/tenants.md)
            return f"{request.test_event_code}|{request.dataset_id}|{request.token_parameter}"
        return request.test_event_code

    def send(self, jobs: Sequence[Job]) -> Outcome:
        requests: list[MetaEvent] = [job.planned.request for job in jobs]
        first = requests[0]
        return self._post([request.event for request in requests], first.test_event_code, first)

    def _post(self, events: list[dict[str, Any]], test_code: str, routed: MetaEvent | None = None) -> Outcome:
        body: dict[str, Any] = {"data": events}
        if test_code:
            body["test_event_code"] = test_code
        if self.settings.partner_agent:
            body["partner_agent"] = self.settings.partner_agent
        try:
            content = encode_json(body)
        except UnsendableError as error:
            return Outcome.permanent(str(error))
        path, token = self.path, None
        if routed is not None and routed.dataset_id:
            path = f"/{self.settings.api_version}/{routed.dataset_id}/events"
            if self._tenant_secret is not None:
                token = self._tenant_secret(routed.token_parameter)
        headers = {"Authorization": f"Bearer {token or self._secret()}", "Content-Type": "application/json"}
        try:
            response = self.client.post(path, content=content, headers=headers)
        except httpx.HTTPError as error:
            return classify_exception(error)
        return classify_meta(response, len(events))
