"""Operator read API (X-Api-Key): contacts and messages as captured."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from wa_conversions import aws
from wa_conversions.capture.views import contact_view, message_view
from wa_conversions.config import OperatorSettings, load_settings
from wa_conversions.errors import ApiError, NotFoundError, UnauthorizedError
from wa_conversions.secret_store import get_secret
from wa_conversions.signatures import constant_time_equals
from wa_conversions.store.capture import CaptureRepository

logger = Logger()
app = APIGatewayRestResolver()


@cache
def _repository() -> CaptureRepository:
    return CaptureRepository(aws.dynamodb(), load_settings(OperatorSettings).table_name)


def require_api_key(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    given = app.current_event.headers.get("x-api-key")
    expected = get_secret(load_settings(OperatorSettings), "API_KEY")
    if not given or not constant_time_equals(given, expected):
        raise UnauthorizedError("Missing or wrong X-Api-Key header")
    return next_middleware(app)


app.use(middlewares=[require_api_key])


def _error_response(error: ApiError) -> Response[Any]:
    return Response(
        status_code=error.status_code, content_type=content_types.APPLICATION_JSON, body=error.body()
    )


@app.exception_handler(ApiError)
def handle_api_error(error: ApiError) -> Response[Any]:
    return _error_response(error)


@app.not_found
def handle_not_found(_: Exception) -> Response[Any]:
    return _error_response(
        NotFoundError(f"No route {app.current_event.http_method} {app.current_event.path}")
    )


@app.get("/contacts/<contact_id>")
def get_contact(contact_id: str) -> dict[str, Any]:
    return contact_view(_repository(), contact_id).model_dump()


@app.get("/messages/<message_id>")
def get_message(message_id: str) -> dict[str, Any]:
    return message_view(_repository(), message_id).model_dump()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
