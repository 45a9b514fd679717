"""Just enough of API Gateway's proxy format for the webhook receivers, which must stay lean at cold
start and so do without Powertools' event handler. The raw body is kept as bytes: signatures are
computed over exactly what the provider sent."""

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
    path: str
    headers: dict[str, str]  # lower-cased names: HTTP/2 and API Gateway may change their case
    query: dict[str, str]
    body: bytes

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> HttpRequest:
        raw_body = event.get("body") or ""
        body = base64.b64decode(raw_body) if event.get("isBase64Encoded") else raw_body.encode("utf-8")
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        return cls(
            method=str(event.get("httpMethod", "")).upper(),
            path=str(event.get("path", "")),
            headers=headers,
            query={str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()},
            body=body,
        )


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
