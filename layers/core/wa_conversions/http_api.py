"""The operator-facing HTTP APIs' common ground: an X-Api-Key guard compared in constant time, and
every error answered as JSON {"error", "message", "field"} with its status code."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from pydantic import ValidationError

from .config import Settings, load_settings
from .errors import ApiError, NotFoundError, UnauthorizedError, UnprocessableError
from .secret_store import get_secret
from .signatures import constant_time_equals


def error_response(error: ApiError) -> Response[Any]:
    return Response(
        status_code=error.status_code, content_type=content_types.APPLICATION_JSON, body=error.body()
    )


def require_api_key(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    given = app.current_event.headers.get("x-api-key")
    expected = get_secret(load_settings(Settings), "API_KEY")
    if not given or not constant_time_equals(given, expected):
        raise UnauthorizedError("Missing or wrong X-Api-Key header")
    return next_middleware(app)


def validation_error(error: ValidationError) -> UnprocessableError:
    """The first problem of a request body, naming its field."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return UnprocessableError(f"{field}: {first['msg']}" if field else first["msg"], field=field)


def operator_resolver() -> APIGatewayRestResolver:
    """A REST resolver guarded by the operator API key, answering errors as JSON."""
    app = APIGatewayRestResolver()
    app.use(middlewares=[require_api_key])

    @app.exception_handler(ApiError)
    def handle_api_error(error: ApiError) -> Response[Any]:
        return error_response(error)

    @app.exception_handler(ValidationError)
    def handle_validation_error(error: ValidationError) -> Response[Any]:
        return error_response(validation_error(error))

    @app.not_found
    def handle_not_found(_: Exception) -> Response[Any]:
        event = app.current_event
        return error_response(NotFoundError(f"No route {event.http_method} {event.path}"))

    return app


def json_body(app: APIGatewayRestResolver) -> Any:
    """The request body as JSON, or a 400 naming the problem."""
    from .errors import BadRequestError

    try:
        return app.current_event.json_body
    except ValueError as error:
        raise BadRequestError(f"Body is not valid JSON: {error}") from None
