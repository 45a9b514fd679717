"""The operator-facing HTTP APIs' common ground: Powertools' resolver validating each route's typed
request against its models (the same models docs/openapi.json is generated from), an X-Api-Key guard
compared in constant time and checked before anything else, and every error answered as JSON
{"error", "message", "field"} with its status code."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from pathlib import Path
from re import Match
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.types import EventHandlerInstance
from pydantic import BaseModel, ValidationError

from .config import Settings, load_settings
from .errors import (
    ApiError,
    BadRequestError,
    NotFoundError,
    UnauthorizedError,
    UnprocessableError,
    validation_error,
)
from .jsontext import JsonTextError, loads
from .secret_store import get_secret
from .signatures import constant_time_equals

if TYPE_CHECKING:
    from .tenants import Tenant

# ?tenant=: one tenant's records only (docs/tenants.md); an unknown tenant is a 400.
TenantQuery = Annotated[str | None, Query(description="A tenant's id (docs/tenants.md)")]

# The document generated from the routes (`make openapi`), shipped in the layer; docs/openapi.json.
OPENAPI_DOCUMENT = Path(__file__).with_name("openapi.json")


class UnsupportedMediaTypeError(ApiError):
    status_code = 415
    code = "unsupported_media_type"


def error_response(error: ApiError) -> Response[Any]:
    return Response(
        status_code=error.status_code, content_type=content_types.APPLICATION_JSON, body=error.body()
    )


def check_api_key(app: EventHandlerInstance) -> None:
    given = app.current_event.headers.get("x-api-key")
    expected = get_secret(load_settings(Settings), "API_KEY")
    if not given or not constant_time_equals(given, expected):
        raise UnauthorizedError("Missing or wrong X-Api-Key header")


def require_api_key(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    check_api_key(app)
    return next_middleware(app)


def _json_document(text: str) -> Any:
    """The resolver's body parser: wa_conversions.jsontext's limits, a 400 naming the problem."""
    try:
        return loads(text)
    except JsonTextError as error:
        raise BadRequestError(f"Body is not valid JSON: {error}") from None


def _check_body_is_text(app: EventHandlerInstance) -> None:
    """Powertools decodes a base64 body with .decode(), which is a 5xx for bytes that are not UTF-8."""
    event = app.current_event
    if not (event.is_base64_encoded and event.body):
        return
    try:
        base64.b64decode(event.body, validate=True).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequestError(f"Body is not valid JSON: not valid UTF-8 (byte {error.start})") from None
    except binascii.Error as error:
        raise BadRequestError(f"Body is not valid JSON: {error}") from None


def _key_first_validation() -> Any:
    """Powertools runs its request validation before every other middleware (Route's
    _build_middleware_stack): this one checks the key first, so an anonymous caller learns nothing
    of a route's rules, and refuses a body that is not text with a 400. Imported here, not at the
    top: a resolver without typed parameters (validation=False) never pays for it at cold start."""
    from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
        OpenAPIRequestValidationMiddleware,
    )

    class KeyFirstValidation(OpenAPIRequestValidationMiddleware):
        def handler(self, app: EventHandlerInstance, next_middleware: NextMiddleware) -> Response[Any]:
            check_api_key(app)
            _check_body_is_text(app)
            result: Response[Any] = super().handler(app, next_middleware)
            return result

    return KeyFirstValidation()  # type: ignore[no-untyped-call]  # Powertools' __init__ is unannotated


class OperatorResolver(APIGatewayRestResolver):
    """API Gateway REST hands `path` over still percent-encoded (a wamid's "/" arrives as "%2F"), and
    Powertools takes route arguments from it: each is decoded here, once, for every handler."""

    def __init__(self, *, validation: bool) -> None:
        super().__init__(enable_validation=validation, json_body_deserializer=_json_document)
        if validation:
            self._request_validation_middleware = _key_first_validation()

    def _convert_matches_into_route_keys(self, match: Match[str]) -> dict[str, str]:
        # unquote, not unquote_plus: in a path "+" is a literal plus (RFC 3986, section 3.3).
        return {name: unquote(value) for name, value in match.groupdict().items()}


def request_error(errors: Sequence[Any]) -> ApiError:
    """The first problem the resolver found, named as validation_error names a model's: its field
    without the "body"/"query"/"path" part, a rule of the whole body by its message alone."""
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"][1:]) or None
    message = str(first["msg"])
    if tuple(first["loc"]) == ("body",) and first.get("type") == "missing":
        return UnprocessableError("A JSON body is required")
    if field is None:
        return UnprocessableError(message.removeprefix("Value error, "))
    return UnprocessableError(f"{field}: {message}", field=field)


def operator_resolver(*, validation: bool = True) -> APIGatewayRestResolver:
    """A REST resolver guarded by the operator API key, validating typed routes (validation=False for
    one whose routes take nothing but path ids), answering errors as JSON; route arguments arrive
    decoded."""
    app = OperatorResolver(validation=validation)
    # Also as a middleware: the key stays required without validation, or should a Powertools release
    # skip the validation middleware's attribute.
    app.use(middlewares=[require_api_key])

    @app.exception_handler(ApiError)
    def handle_api_error(error: ApiError) -> Response[Any]:
        return error_response(error)

    @app.exception_handler(ValidationError)
    def handle_validation_error(error: ValidationError) -> Response[Any]:
        return error_response(validation_error(error))

    @app.exception_handler(RequestValidationError)
    def handle_request_validation_error(error: RequestValidationError) -> Response[Any]:
        return error_response(request_error(error.errors()))

    @app.exception_handler(RequestUnsupportedContentType)
    def handle_unsupported_content_type(error: RequestUnsupportedContentType) -> Response[Any]:
        return error_response(UnsupportedMediaTypeError("Content-Type must be application/json"))

    @app.not_found
    def handle_not_found(_: Exception) -> Response[Any]:
        event = app.current_event
        return error_response(NotFoundError(f"No route {event.http_method} {event.path}"))

    return app


def json_body(app: APIGatewayRestResolver) -> Any:
    """The request body as JSON (None when there is none), or a 400 naming the problem: not UTF-8,
    not JSON, nested too deeply or holding a lone surrogate (wa_conversions.jsontext)."""
    event = app.current_event
    body = event.body
    if not body:
        return None
    try:
        return loads(base64.b64decode(body, validate=True) if event.is_base64_encoded else body)
    except ValueError as error:  # JsonTextError, or a base64 body that is not base64
        raise BadRequestError(f"Body is not valid JSON: {error}") from None


def query_tenant(settings: Settings, tenant_id: str | None) -> Tenant | None:
    """The tenant `?tenant=` names (docs/tenants.md), None without one; an unknown one is a 400."""
    if tenant_id is None:
        return None
    from .tenants import load_tenants, tenant_named

    return tenant_named(load_tenants(settings), tenant_id)


def answers(status: int, description: str, model: type[BaseModel] | None = None) -> dict[int, Any]:
    """A route's `responses=` for an answer the route builds itself (a Response with its own status,
    or a dict shaped by hand): documented in docs/openapi.json without being re-serialised."""
    content = {"model": model} if model is not None else {"schema": {"type": "object"}}
    return {status: {"description": description, "content": {content_types.APPLICATION_JSON: content}}}


def openapi_document() -> Response[str]:
    """GET /openapi.json: the committed document, as generated from the routes (`make openapi`)."""
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=OPENAPI_DOCUMENT.read_text()
    )
