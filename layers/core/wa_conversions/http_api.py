"""The operator-facing HTTP APIs' common ground: an X-Api-Key guard compared in constant time, and
every error answered as JSON {"error", "message", "field"} with its status code."""

from __future__ import annotations

from re import Match
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from pydantic import ValidationError

from .config import Settings, load_settings
from .errors import ApiError, NotFoundError, UnauthorizedError, validation_error
from .secret_store import get_secret
from .signatures import constant_time_equals

if TYPE_CHECKING:
    from .tenants import Tenant


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


class OperatorResolver(APIGatewayRestResolver):
    """API Gateway REST hands `path` over still percent-encoded (a wamid's "/" arrives as "%2F"), and
    Powertools takes route arguments from it: each is decoded here, once, for every handler."""

    def _convert_matches_into_route_keys(self, match: Match[str]) -> dict[str, str]:
        # unquote, not unquote_plus: in a path "+" is a literal plus (RFC 3986, section 3.3).
        return {name: unquote(value) for name, value in match.groupdict().items()}


def operator_resolver() -> APIGatewayRestResolver:
    """A REST resolver guarded by the operator API key, answering errors as JSON; route arguments
    arrive decoded."""
    app = OperatorResolver()
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
    """The request body as JSON (None when there is none), or a 400 naming the problem: not UTF-8,
    not JSON, nested too deeply or holding a lone surrogate (wa_conversions.jsontext)."""
    import base64

    from .errors import BadRequestError
    from .jsontext import loads

    event = app.current_event
    body = event.body
    if not body:
        return None
    try:
        # Not Powertools' json_body: it has no depth limit (RecursionError is a 5xx) nor surrogate check.
        return loads(base64.b64decode(body, validate=True) if event.is_base64_encoded else body)
    except ValueError as error:  # JsonTextError, or a base64 body that is not base64
        raise BadRequestError(f"Body is not valid JSON: {error}") from None


def query_tenant(app: APIGatewayRestResolver, settings: Settings) -> Tenant | None:
    """The tenant `?tenant=` names (docs/tenants.md), None without one; an unknown one is a 400."""
    tenant_id = app.current_event.get_query_string_value("tenant")
    if tenant_id is None:
        return None
    from .tenants import load_tenants, tenant_named

    return tenant_named(load_tenants(settings), tenant_id)
