"""Shopify's Admin GraphQL API, read for reconciliation: the orders (with their refunds) updated since a
moment, page by page, within Shopify's rate limits; each order rewritten in the REST webhook shape the
orders processor reads (providers.shopify), so both paths share one intake.

Rate limits (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits): every answer says
in `extensions.cost.throttleStatus` how many points are left and how fast they come back; a query
that costs more than what is left is answered with a THROTTLED error, which is waited out and retried.
An HTTP 429 is retried after its Retry-After. Waits never run past the caller's deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

# Shopify's quarterly versions stay supported for a year (https://shopify.dev/docs/api/usage/versioning).
DEFAULT_API_VERSION = "2026-01"
# A query may cost at most 1,000 points, counted from the `first` of each connection: about 125 an
# order here, so 5 orders a page stay well under it.
ORDERS_PER_PAGE = 5
MAX_ATTEMPTS = 6
DEFAULT_RETRY_SECONDS = 2.0

# One page of orders sorted by last update, with what attribution reads (providers.shopify.Order).
ORDERS_QUERY = """
query ReconcileOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      legacyResourceId name email phone note test
      createdAt processedAt updatedAt cancelledAt cancelReason
      displayFinancialStatus currencyCode presentmentCurrencyCode clientIp
      totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
      customAttributes { key value }
      customerJourneySummary { firstVisit { landingPage referrerUrl } }
      customer {
        legacyResourceId firstName lastName
        defaultEmailAddress { emailAddress }
        defaultPhoneNumber { phoneNumber }
        defaultAddress { phone countryCodeV2 }
      }
      billingAddress { phone countryCodeV2 firstName lastName city provinceCode zip }
      shippingAddress { phone countryCodeV2 firstName lastName city provinceCode zip }
      lineItems(first: 10) {
        nodes {
          id sku title name quantity
          variant { legacyResourceId }
          product { legacyResourceId }
          originalUnitPriceSet { shopMoney { amount } }
        }
      }
      refunds(first: 5) {
        legacyResourceId createdAt note
        transactions(first: 3) { nodes { kind status amountSet { shopMoney { amount currencyCode } } } }
      }
    }
  }
}
"""


class AdminApiError(Exception):
    """The shop's Admin API refused the request (a bad token, a missing scope, a bad query)."""


class AdminApiUnavailable(Exception):
    """Throttled, rate-limited or failing past what the deadline allows: try again at the next run."""


@dataclass(frozen=True, slots=True)
class OrdersPage:
    orders: list[dict[str, Any]]  # the GraphQL nodes
    end_cursor: str | None
    has_next_page: bool


def search_since(moment: datetime) -> str:
    """Shopify's search syntax for orders updated at or after `moment` (UTC)."""
    return f"updated_at:>='{iso(moment)}'"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """ISO 8601; a time without an offset (or a bare date) is UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


class AdminClient:
    def __init__(
        self,
        http: httpx.Client,
        *,
        shop: str,
        token: str,
        base_url: str = "",
        api_version: str = DEFAULT_API_VERSION,
        deadline: Callable[[], float] = lambda: float("inf"),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`base_url` empty: https://<shop>; else <base_url>/<shop> (a stand-in). `deadline()`: the
        seconds this run may still spend."""
        self._http = http
        root = base_url.rstrip("/") + "/" + shop if base_url else f"https://{shop}"
        self._url = f"{root}/admin/api/{api_version}/graphql.json"
        self._headers = {"X-Shopify-Access-Token": token, "Content-Type": "application/json"}
        self._deadline = deadline
        self._sleep = sleep
        self._wait_before_next = 0.0

    def orders_page(self, since: datetime, after: str | None, first: int = ORDERS_PER_PAGE) -> OrdersPage:
        data = self._query(ORDERS_QUERY, {"first": first, "after": after, "query": search_since(since)})
        orders = (data or {}).get("orders")
        if not isinstance(orders, dict):
            raise AdminApiError("The Admin API answered without data.orders")
        info = orders.get("pageInfo") or {}
        nodes = [node for node in orders.get("nodes") or [] if isinstance(node, dict)]
        return OrdersPage(nodes, info.get("endCursor"), bool(info.get("hasNextPage")))

    def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if seconds >= self._deadline():
            raise AdminApiUnavailable(f"Shopify asks to wait {seconds:.1f} s, past this run's deadline")
        self._sleep(seconds)

    def _query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        import httpx

        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._wait(self._wait_before_next)
            self._wait_before_next = 0.0
            try:
                response = self._http.post(
                    self._url, json={"query": query, "variables": variables}, headers=self._headers
                )
            except httpx.TransportError as error:
                if attempt == MAX_ATTEMPTS:
                    raise AdminApiUnavailable(f"Admin API unreachable: {type(error).__name__}") from error
                self._wait(DEFAULT_RETRY_SECONDS * attempt)
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if attempt == MAX_ATTEMPTS:
                    raise AdminApiUnavailable(f"Admin API answered {response.status_code}")
                self._wait(_retry_after(response.headers.get("Retry-After"), DEFAULT_RETRY_SECONDS * attempt))
                continue
            if response.status_code >= 400:
                raise AdminApiError(f"Admin API answered {response.status_code}")
            try:
                document = response.json()
            except ValueError:
                raise AdminApiError("Admin API answered with something that is not JSON") from None
            cost = ((document.get("extensions") or {}).get("cost")) or {}
            errors = document.get("errors") or []
            if any(_error_code(e) == "THROTTLED" for e in errors):
                if attempt == MAX_ATTEMPTS:
                    raise AdminApiUnavailable("Admin API still throttled")
                self._wait(_refill_seconds(cost, default=1.0))
                continue
            if errors:
                codes = sorted({_error_code(e) or "error" for e in errors if isinstance(e, dict)})
                raise AdminApiError(f"Admin API refused the query: {', '.join(codes)}")
            # Pace the next query: wait now for the points it will need rather than be throttled.
            self._wait_before_next = _refill_seconds(cost, default=0.0)
            data = document.get("data")
            return data if isinstance(data, dict) else {}
        raise AdminApiUnavailable("Admin API did not answer")  # pragma: no cover - the loop returns


def _error_code(error: Any) -> str | None:
    if not isinstance(error, dict):
        return None
    code = (error.get("extensions") or {}).get("code")
    return str(code) if code else None


def _refill_seconds(cost: dict[str, Any], *, default: float) -> float:
    """How long until the bucket holds the query's requested cost again (throttleStatus), or
    `default` when the answer does not say."""
    status = cost.get("throttleStatus") or {}
    try:
        available = float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
        wanted = float(cost["requestedQueryCost"])
    except (KeyError, TypeError, ValueError):
        return default
    if available >= wanted:
        return 0.0
    return (wanted - available) / rate if rate > 0 else default


def _retry_after(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


# -- the REST webhook shape ------------------------------------------------------------------------


def _money_set(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None

    def part(key: str) -> dict[str, Any] | None:
        money = value.get(key)
        if not isinstance(money, dict):
            return None
        return {"amount": money.get("amount"), "currency_code": money.get("currencyCode")}

    return {"shop_money": part("shopMoney"), "presentment_money": part("presentmentMoney")}


def _address(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {
        "phone": value.get("phone"),
        "country_code": value.get("countryCodeV2"),
        "first_name": value.get("firstName"),
        "last_name": value.get("lastName"),
        "city": value.get("city"),
        "province_code": value.get("provinceCode"),
        "zip": value.get("zip"),
    }


def _legacy(value: Any) -> str | None:
    found = value.get("legacyResourceId") if isinstance(value, dict) else None
    return str(found) if found else None


def _gid_tail(gid: Any) -> str | None:
    """gid://shopify/LineItem/866550311 -> 866550311, the REST id."""
    return str(gid).rsplit("/", 1)[-1] if gid else None


def _nodes(connection: Any) -> list[dict[str, Any]]:
    if isinstance(connection, dict):
        connection = connection.get("nodes")
    return [node for node in connection or [] if isinstance(node, dict)]


def _lower(value: Any) -> str | None:
    return str(value).lower() if value else None


def rest_order(node: dict[str, Any]) -> dict[str, Any]:
    """An Admin GraphQL order node as the orders/* webhooks write it (the fields attribution reads)."""
    customer = node.get("customer") if isinstance(node.get("customer"), dict) else None
    journey = (node.get("customerJourneySummary") or {}).get("firstVisit") or {}
    total = _money_set(node.get("totalPriceSet"))
    shop_total = (total or {}).get("shop_money") or {}
    return {
        "id": node.get("legacyResourceId"),
        "name": node.get("name"),
        "email": node.get("email"),
        "phone": node.get("phone"),
        "note": node.get("note"),
        "test": bool(node.get("test")),
        "created_at": node.get("createdAt"),
        "processed_at": node.get("processedAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "cancel_reason": _lower(node.get("cancelReason")),
        "financial_status": _lower(node.get("displayFinancialStatus")),
        "currency": node.get("currencyCode"),
        "presentment_currency": node.get("presentmentCurrencyCode"),
        "total_price": shop_total.get("amount"),
        "total_price_set": total,
        "landing_site": journey.get("landingPage"),
        "referring_site": journey.get("referrerUrl"),
        "client_details": {"browser_ip": node.get("clientIp")} if node.get("clientIp") else None,
        "note_attributes": [
            {"name": a.get("key"), "value": a.get("value")}
            for a in node.get("customAttributes") or []
            if isinstance(a, dict)
        ],
        "customer": {
            "id": _legacy(customer),
            "email": (customer.get("defaultEmailAddress") or {}).get("emailAddress"),
            "phone": (customer.get("defaultPhoneNumber") or {}).get("phoneNumber"),
            "first_name": customer.get("firstName"),
            "last_name": customer.get("lastName"),
            "default_address": _address(customer.get("defaultAddress")),
        }
        if customer
        else None,
        "billing_address": _address(node.get("billingAddress")),
        "shipping_address": _address(node.get("shippingAddress")),
        "line_items": [
            {
                "id": _gid_tail(item.get("id")),
                "product_id": _legacy(item.get("product")),
                "variant_id": _legacy(item.get("variant")),
                "sku": item.get("sku"),
                "title": item.get("title"),
                "name": item.get("name"),
                "quantity": item.get("quantity") or 0,
                "price": ((item.get("originalUnitPriceSet") or {}).get("shopMoney") or {}).get("amount"),
            }
            for item in _nodes(node.get("lineItems"))
        ],
    }


def rest_refunds(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The order's refunds as refunds/create writes them (transactions carry what went back)."""
    refunds = []
    for refund in node.get("refunds") or []:
        if not isinstance(refund, dict) or not refund.get("legacyResourceId"):
            continue
        transactions = []
        for transaction in _nodes(refund.get("transactions")):
            money = (transaction.get("amountSet") or {}).get("shopMoney") or {}
            transactions.append(
                {
                    "kind": _lower(transaction.get("kind")),
                    "status": _lower(transaction.get("status")),
                    "amount": money.get("amount"),
                    "currency": money.get("currencyCode"),
                }
            )
        refunds.append(
            {
                "id": refund["legacyResourceId"],
                "order_id": node.get("legacyResourceId"),
                "created_at": refund.get("createdAt"),
                "note": refund.get("note"),
                "transactions": transactions,
            }
        )
    return refunds
