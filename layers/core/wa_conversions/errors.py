"""Errors the domain raises; handlers turn them into HTTP answers or batch failures."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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


class PublishError(WaConversionsError):
    """EventBridge rejected some entries; the update is retried as a whole."""


def validation_error(error: ValidationError) -> UnprocessableError:
    """The first problem of a request body, naming its field."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return UnprocessableError(f"{field}: {first['msg']}" if field else first["msg"], field=field)
