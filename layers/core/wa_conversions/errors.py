"""Errors the domain raises; handlers turn them into HTTP answers or batch failures."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import ValidationError


class WaConversionsError(Exception):
    """Base of every error this package raises on purpose."""


class ApiError(WaConversionsError):
    """An HTTP-facing error with a stable machine-readable code."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict[str, str]:
        body = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class BadRequestError(ApiError):
    status_code = 400
    code = "bad_request"


class UnauthorizedError(ApiError):
    status_code = 401
    code = "unauthorized"


class ForbiddenError(ApiError):
    status_code = 403
    code = "forbidden"


class NotFoundError(ApiError):
    status_code = 404
    code = "not_found"


class ConflictError(ApiError):
    status_code = 409
    code = "conflict"


class UnprocessableError(ApiError):
    status_code = 422
    code = "validation_error"


class HandoffError(WaConversionsError):
    """A verified webhook could not be queued; the provider must retry, so the answer is a 5xx."""


# An Exception, not a WaConversionsError: the store raises it and the aggregator retries on it, so it
# must never be answered as an API error.
class StateConflictError(Exception):
    """Another invocation changed the contact's state first; load it again and retry."""


class UnprocessedError(WaConversionsError):
    """DynamoDB kept part of a batch call unprocessed through every retry (throttling): the unit of
    work fails, to be retried whole by its queue or its operator."""


class PublishError(WaConversionsError):
    """EventBridge rejected some entries; the update is retried as a whole."""


class PermanentFailure(WaConversionsError):
    """A queued message that can never be processed (a bad shape, a validation error, a 4xx that will
    never succeed): parked in its consumer's DLQ at once with this reason, not retried (wa_conversions.batch).
    `body` is what to park when only part of the message failed (by default the whole message);
    `attributes` are message attributes to park it with, so that a redrive reads it as it was first read."""

    def __init__(
        self, reason: str, *, body: str | None = None, attributes: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.body = body
        self.attributes = dict(attributes) if attributes else None


def validation_error(error: ValidationError) -> UnprocessableError:
    """The first problem of a request body, naming its field."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return UnprocessableError(f"{field}: {first['msg']}" if field else first["msg"], field=field)


def failure_fields(error: BaseException) -> dict[str, str]:
    """What a log line may say of an error: its type, its cause's type and its AWS error code, never
    its text, which can quote the body (a pydantic error shows the input; a phone, a name, a text)."""
    fields = {"error": type(error).__name__}
    if error.__cause__ is not None:
        fields["cause"] = type(error.__cause__).__name__
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    if code:
        fields["error_code"] = str(code)
    return fields


def validation_summary(error: ValidationError, limit: int = 3) -> str:
    """The first problems of a payload, by field ("body" for the whole of it) and message (never the
    input it quotes)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()[:limit]
    )
