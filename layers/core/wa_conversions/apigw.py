"""Just enough of API Gateway's Lambda proxy events for the webhook receivers, which must stay lean
at cold start and so do without Powertools' event handler: an HTTP API's (payload format 2.0, the
webhook URLs to use) and a REST API's (payload 1.0, the legacy webhook routes kept so that providers
not yet re-pointed still reach them). The raw body is kept as bytes: signatures are computed over
exactly what the provider sent.
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import ApiError, ForbiddenError, HandoffError, UnauthorizedError


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    # a named stage in front (/v1/webhooks/twilio): 2.0's rawPath, which an HTTP API hands decoded,
    # or 1.0's requestContext.path, still percent-encoded; the webhook paths are literal, so the
    # URL a provider signed is the same either way
    path: str
    headers: dict[str, str]  # lower-cased names, a repeated header's values joined by commas
    # decoded by API Gateway, a repeated name's values joined by commas (urllib.parse would cost the
    # cold start its import)
    query: dict[str, str]
    raw_query: str  # as sent, without the "?"; empty from a REST API, which hands none
    cookies: tuple[str, ...]  # out of headers, as HTTP APIs hand them
    domain: str  # the host the caller called: execute-api's, or a custom domain
    body: bytes

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> HttpRequest:
        """The request in either payload format: 2.0 says so in "version"; 1.0 has none."""
        raw_body = event.get("body") or ""
        body = base64.b64decode(raw_body) if event.get("isBase64Encoded") else raw_body.encode("utf-8")
        context = event.get("requestContext") or {}
        if event.get("version") == "2.0":
            headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
            return cls(
                method=str((context.get("http") or {}).get("method", "")).upper(),
                path=str(event.get("rawPath", "")),
                headers=headers,
                query={str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()},
                raw_query=str(event.get("rawQueryString") or ""),
                cookies=tuple(str(cookie) for cookie in event.get("cookies") or ()),
                domain=str(context.get("domainName") or headers.get("host", "")),
                body=body,
            )
        return cls._from_rest_event(event, context, body)

    @classmethod
    def _from_rest_event(cls, event: dict[str, Any], context: dict[str, Any], body: bytes) -> HttpRequest:
        """Payload 1.0 read as 2.0 reads: names lower-cased, a repeated header's or parameter's values
        joined by commas. REST hands no raw query string, so `raw_query` is empty and `url` is the
        path alone, as this code signed against before the HTTP API; requestContext.path holds the
        stage, the event's path does not."""
        multi_headers = event.get("multiValueHeaders") or {}
        headers = {str(k).lower(): ",".join(map(str, v)) for k, v in multi_headers.items()} or {
            str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()
        }
        multi_query = event.get("multiValueQueryStringParameters") or {}
        query = {str(k): ",".join(map(str, v)) for k, v in multi_query.items()} or {
            str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()
        }
        cookie_header = headers.pop("cookie", "")
        return cls(
            method=str(event.get("httpMethod") or context.get("httpMethod") or "").upper(),
            path=str(context.get("path") or event.get("path") or ""),
            headers=headers,
            query=query,
            raw_query="",
            cookies=tuple(c.strip() for c in cookie_header.split(";") if c.strip()),
            domain=str(context.get("domainName") or headers.get("host", "")),
            body=body,
        )

    @property
    def url(self) -> str:
        """The URL the caller called: https://{domainName}{path}?{raw_query}."""
        return f"https://{self.domain}{self.path}" + (f"?{self.raw_query}" if self.raw_query else "")


def response(status_code: int, body: Any, *, content_type: str = "application/json") -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    return {"statusCode": status_code, "headers": {"Content-Type": content_type}, "body": text}


def error_response(error: ApiError) -> dict[str, Any]:
    return response(error.status_code, error.body())


class WarningLogger(Protocol):
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def exception(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


def refuse_webhook(
    error: ApiError | HandoffError,
    *,
    source: str,
    auth_metric: str,
    count: Callable[[str], None],
    logger: WarningLogger,
) -> dict[str, Any]:
    """The answer to a webhook that was not accepted, counted and logged the same way for every
    provider: a bad signature or token (`auth_metric`, which alarms watch), other bad input
    (WebhooksRejected, 4xx), or a verified body that could not be queued (WebhookHandoffFailures,
    500, so that the provider retries it)."""
    if isinstance(error, HandoffError):
        count("WebhookHandoffFailures")
        logger.exception(f"{source} webhook verified but not queued; {source} will retry")
        return response(
            500, {"error": "handoff_failed", "message": "Could not queue the webhook, retry later"}
        )
    count(auth_metric if isinstance(error, UnauthorizedError | ForbiddenError) else "WebhooksRejected")
    logger.warning(f"{source} webhook rejected", extra={"reason": error.message})
    return error_response(error)
