"""360dialog off-thread events (docs/forwarding.md): POST {base}/clients/{client_id}/external-events.

The first event of a conversion (the order, or the off-thread event itself) returns an
external_event_id; it is kept per conversion and sent as previous_external_event_id with the
conversion's follow-ups (paid, cancelled, refund), so 360dialog credits them to the same conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..config import Dialog360Settings
from ..delivery import http
from ..delivery.log import DeliveryLog
from ..delivery.outcome import Outcome
from ..delivery.runner import Job
from .base import ConversionDestination
from .conversion import ConversionEvent
from .tenancy import route

if TYPE_CHECKING:
    from ..tenants import Dialog360Tenant, TenantDirectory

# What the lead did, by conversion kind; off-thread events carry their own `action`.
ACTIONS = {
    "order": "Purchased an item",
    "order_paid": "Paid an order",
    "order_cancelled": "Cancelled an order",
    "refund": "Refunded an order",
    "order_shipped": "Order shipped",
    "order_delivered": "Order delivered",
}
CHAIN_HEADS = frozenset({"order", "external"})
# A follow-up that comes before its order's external_event_id waits this many attempts (with the
# delivery backoff) for the order to be delivered, rather than going out unchained.
CHAIN_WAIT_ATTEMPTS = 4
WITH_REVENUE = frozenset({"order", "external", "refund"})


@dataclass(frozen=True, slots=True)
class Dialog360Request:
    conversion_id: str
    kind: str
    event: dict[str, Any]
    order_known: bool = True
    # A tenant's own 360dialog client (docs/tenants.md); empty: the deployment's.
    client_id: str = ""
    api_key_parameter: str = ""


class Dialog360Destination(ConversionDestination):
    name = "dialog360"

    def __init__(
        self,
        settings: Dialog360Settings,
        client_factory: Any,
        secret: Any,
        log: DeliveryLog,
        tenants: Callable[[], TenantDirectory] | None = None,
        tenant_secret: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(client_factory, secret)
        self.settings = settings
        self.log = log
        self._tenants = tenants
        self._tenant_secret = tenant_secret

    def request_for(self, event: ConversionEvent) -> Dialog360Request | str:
        p = event.properties
        routed = route(self._tenants, p.tenant, "360dialog", "dialog360")
        if isinstance(routed, str):
            return routed
        account: Dialog360Tenant | None = routed.account
        action = p.action or ACTIONS.get(p.kind)
        if not action:
            return f"no 360dialog action for a {p.kind!r} conversion"
        if not p.phone:
            return "no_phone: 360dialog attributes by the lead's phone, and the contact has none"
        external: dict[str, Any] = {"action": action, "lead_phone": p.phone}
        if p.kind in WITH_REVENUE and p.value is not None:
            external["revenue"] = {"amount": p.value, "currency": (p.currency or "USD").upper()}
        app_id = account.app_id if account is not None else self.settings.app_id
        if app_id:
            external["app_id"] = app_id
        if p.previous_external_event_id:
            external["previous_external_event_id"] = p.previous_external_event_id
        request = Dialog360Request(
            conversion_id=p.conversion_id, kind=p.kind, event=external, order_known=p.order_known
        )
        if account is None or routed.tenant is None:
            return request
        key = routed.tenant.secret_name(account.api_key_parameter, "dialog360-api-key")
        return replace(request, client_id=account.client_id, api_key_parameter=key)

    def send_one(self, job: Job) -> Outcome:
        request: Dialog360Request = job.planned.request
        external = dict(request.event)
        if request.kind not in CHAIN_HEADS and "previous_external_event_id" not in external:
            # Looked up at send time, not at plan time: the order may have been delivered since.
            previous = self.log.reference(self.name, request.conversion_id)
            if previous:
                external["previous_external_event_id"] = previous
            elif job.attempt <= CHAIN_WAIT_ATTEMPTS and self._order_still_coming(request):
                return Outcome.retry(
                    "waiting for the order's external_event_id to chain this follow-up to it"
                )
        api_key = None
        if request.api_key_parameter and self._tenant_secret is not None:
            api_key = self._tenant_secret(request.api_key_parameter)
        body = {"external_event": external, "api_key": api_key or self._secret()}
        path = f"/clients/{request.client_id or self.settings.client_id}/external-events"
        return http.send(self.client, "POST", path, json=body)

    def _order_still_coming(self, request: Dialog360Request) -> bool:
        """The order's own delivery is not settled yet: not seen here, or pending. One that was
        skipped or failed will never return an id, and an order never seen will not come."""
        if not request.order_known:
            return False
        head = self.log.get_for(self.name, f"{request.conversion_id}:order")
        return head is None or head.get("status") == "pending"

    def on_delivered(self, job: Job, outcome: Outcome) -> None:
        request: Dialog360Request = job.planned.request
        returned = outcome.body.get("external_event_id") if isinstance(outcome.body, dict) else None
        if request.kind in CHAIN_HEADS and returned:
            self.log.remember_reference(self.name, request.conversion_id, str(returned))
