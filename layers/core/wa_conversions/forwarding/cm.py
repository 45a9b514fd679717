"""CM.com Meta Conversions (docs/forwarding.md): POST https://gw.messaging.cm.com/v1.0/event with the product
token in the body, the event type from CM.com's list and the ad click as custom.ctwa_id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..config import CmConversionsSettings
from ..delivery import http
from ..delivery.outcome import Outcome
from ..delivery.runner import Job
from ..errors import PermanentFailure
from ..models.meta_rules import VALUE_REQUIRED, click_window_problem
from ..providers.cm_format import cm_number
from .base import ConversionDestination
from .conversion import ConversionEvent, money_text
from .names import meta_event_name
from .tenancy import route

if TYPE_CHECKING:
    from ..tenants import CmTenant, TenantDirectory


@dataclass(frozen=True, slots=True)
class CmRequest:
    to: str
    event: dict[str, Any]
    # A tenant's own CM.com account (docs/tenants.md); empty: the deployment's.
    business_number: str = ""
    token_parameter: str = ""


class CmConversionsDestination(ConversionDestination):
    name = "cm"

    def __init__(
        self,
        settings: CmConversionsSettings,
        client_factory: Any,
        secret: Any,
        tenants: Callable[[], TenantDirectory] | None = None,
        tenant_secret: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(client_factory, secret)
        self.settings = settings
        self._tenants = tenants
        self._tenant_secret = tenant_secret

    def request_for(self, event: ConversionEvent) -> CmRequest | str:
        p = event.properties
        routed = route(self._tenants, p.tenant, "CM.com", "cm")
        if isinstance(routed, str):
            return routed
        account: CmTenant | None = routed.account
        if account is None and not self.settings.business_number:
            # A deployment mistake, not the conversion's: keep it in the DLQ until it is fixed.
            raise PermanentFailure("CmBusinessNumber is not set: CM.com needs the sender's number")
        event_type = meta_event_name(p.kind, p.event_name)
        if event_type is None:
            return f"no CM.com Meta Conversions type for a {p.kind!r} conversion"
        problem = click_window_problem(p.ctwa_clid, event.clicked_at_epoch, event.event_time)
        if problem:
            return problem
        if not p.phone:
            return "no_phone: CM.com addresses the event to the customer's number, and the contact has none"
        custom: dict[str, Any] = {"ctwa_id": p.ctwa_clid}
        if p.value is not None and p.currency:
            custom["currency"] = p.currency.upper()
            custom["value"] = money_text(p.value)
        elif event_type in VALUE_REQUIRED:
            return f"CM.com requires currency and value for {event_type}"
        request = CmRequest(to=cm_number(p.phone), event={"type": event_type, "custom": custom})
        if account is None or routed.tenant is None:
            return request
        token = routed.tenant.secret_name(account.token_parameter, "cm-product-token")
        return replace(request, business_number=account.business_number, token_parameter=token)

    def send_one(self, job: Job) -> Outcome:
        request: CmRequest = job.planned.request
        token = None
        if request.token_parameter and self._tenant_secret is not None:
            token = self._tenant_secret(request.token_parameter)
        body = {
            "authentication": {"productToken": token or self._secret()},
            "from": {"number": cm_number(request.business_number or self.settings.business_number)},
            "to": {"number": request.to},
            "event": request.event,
            "channel": "WhatsApp",
        }
        return http.send(self.client, "POST", self.settings.event_url, json=body)
