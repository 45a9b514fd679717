"""A local stand-in for API Gateway: routing and Lambda proxy integration, REST APIs' (payload 1.0)
and HTTP APIs' (payload 2.0), all served on one port as `sam local start-api` serves them."""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from devstack.cfn import ACCOUNT_ID
from devstack.functions import ApiRoute
from devstack.runtime import Invocation
from wa_conversions.observability import mask_phone

log = logging.getLogger("devstack")

_LITERAL: Final = 2
_PARAMETER: Final = 1
_GREEDY: Final = 0
_UNKNOWN_ROUTE_MESSAGE: Final = "Missing Authentication Token"
HTTP_PAYLOAD: Final = "2.0"
# The request bodies an HTTP API hands over as text; every other one, a form post or no Content-Type
# included, is base64 (verified against AWS: https://github.com/ministackorg/ministack/pull/766).
_HTTP_TEXT_TYPES: Final = ("application/json", "application/xml", "application/javascript")
# A run of 7 to 15 digits (E.164's longest), bare, after "+" or after an encoded "+" ("%2B").
_PHONE_LIKE: Final = re.compile(r"(?<!\d)(\+|%2[bB])?(\d{7,15})(?!\d)")


def mask_phones(text: str) -> str:
    """The local stack's own log lines with every number that could be a phone masked, as the
    functions mask theirs: a log cannot tell a contact's phone in /contacts/{id} from other digits."""
    return _PHONE_LIKE.sub(lambda found: (found.group(1) or "") + (mask_phone(found.group(2)) or ""), text)


def split_path(path: str) -> list[str]:
    """Segments of a path, raw: "%2F" stays inside its segment. A trailing slash is ignored."""
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


@dataclass(frozen=True)
class RouteMatch:
    route: ApiRoute
    path_parameters: dict[str, str]


class RouteTable:
    """API Gateway's resource selection: the most specific path first, then the method on it."""

    def __init__(self, routes: Iterable[ApiRoute]) -> None:
        # One port serves every API: a route on both an HTTP API and a REST API (the webhooks' legacy
        # REST twins) is served as the HTTP API's, the one the stack's outputs give.
        self.routes = sorted(routes, key=lambda route: route.payload_format != HTTP_PAYLOAD)
        seen: dict[tuple[str, str], ApiRoute] = {}
        for route in self.routes:
            key = (route.path, route.method)
            if key in seen and seen[key].function != route.function:
                log.warning(
                    "%s %s is served by both %s and %s; using the first",
                    route.method,
                    route.path,
                    seen[key].function,
                    route.function,
                )
            seen.setdefault(key, route)

    @staticmethod
    def _match_path(
        template: str, raw_segments: Sequence[str]
    ) -> tuple[tuple[int, ...], dict[str, str]] | None:
        score: list[int] = []
        parameters: dict[str, str] = {}
        template_segments = split_path(template)
        for position, segment in enumerate(template_segments):
            if segment.startswith("{") and segment.endswith("+}"):
                rest = raw_segments[position:]
                if not rest or position != len(template_segments) - 1:
                    return None
                parameters[segment[1:-2]] = "/".join(rest)
                score.append(_GREEDY)
                return tuple(score), parameters
            if position >= len(raw_segments):
                return None
            raw = raw_segments[position]
            if segment.startswith("{") and segment.endswith("}"):
                if not raw:
                    return None
                # API Gateway REST hands path parameters over still percent-encoded.
                parameters[segment[1:-1]] = raw
                score.append(_PARAMETER)
            elif unquote(raw) == segment:
                score.append(_LITERAL)
            else:
                return None
        if len(raw_segments) != len(template_segments):
            return None
        return tuple(score), parameters

    def http_only(self, raw_path: str) -> bool:
        """Whether every route on the path `raw_path` matches is an HTTP API's."""
        segments = split_path(raw_path)
        on_path = [route for route in self.routes if self._match_path(route.path, segments) is not None]
        return bool(on_path) and all(route.payload_format == "2.0" for route in on_path)

    def match(self, method: str, raw_path: str) -> RouteMatch | bool | None:
        """The route for a request; None when no path matches, False when only the method is wrong."""
        segments = split_path(raw_path)
        by_path: dict[str, tuple[tuple[int, ...], dict[str, str]]] = {}
        for route in self.routes:
            if route.path not in by_path:
                found = self._match_path(route.path, segments)
                if found is not None:
                    by_path[route.path] = found
        if not by_path:
            return None
        best_path = max(by_path, key=lambda path: by_path[path][0])
        on_path = [route for route in self.routes if route.path == best_path]
        chosen = next((r for r in on_path if r.method == method), None) or next(
            (r for r in on_path if r.method == "ANY"), None
        )
        if chosen is None:
            return False
        return RouteMatch(chosen, by_path[best_path][1])


def _multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    single: dict[str, str] = {}
    multiple: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value  # API Gateway keeps the last value in the single-value map
        multiple.setdefault(key, []).append(value)
    return (single or None), (multiple or None)


def build_event(
    match: RouteMatch,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    source_ip: str,
    region: str,
    request_id: str | None = None,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """The Lambda proxy integration event of the route's API: payload 1.0 (REST) or 2.0 (HTTP)."""
    build = build_http_event if match.route.payload_format == HTTP_PAYLOAD else build_rest_event
    return build(
        match,
        method=method,
        raw_path=raw_path,
        raw_query=raw_query,
        headers=headers,
        body=body,
        source_ip=source_ip,
        region=region,
        request_id=request_id,
        now=now,
    )


def build_http_event(
    match: RouteMatch,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    source_ip: str,
    region: str,
    request_id: str | None = None,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """The Lambda proxy integration event of an HTTP API, payload format 2.0
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html):
    header names lower-cased and a repeated header's values joined by commas, cookies out of the
    headers, rawQueryString as sent, rawPath percent-decoded (a named stage in front of it), the body
    as text only for the text types, else base64."""
    route = match.route
    now = now or datetime.datetime.now(datetime.UTC)
    request_id = request_id or str(uuid.uuid4())
    joined: dict[str, list[str]] = {}
    cookies: list[str] = []
    for name, value in headers:
        if name.lower() == "cookie":
            cookies += [cookie.strip() for cookie in value.split(";") if cookie.strip()]
        else:
            joined.setdefault(name.lower(), []).append(value)
    domain = f"{route.api_id}.execute-api.{region}.amazonaws.com"
    single = {name: ",".join(values) for name, values in joined.items()}
    trace = f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]}"
    single.setdefault("x-amzn-trace-id", trace)
    single["x-forwarded-for"] = ", ".join(v for v in (single.get("x-forwarded-for"), source_ip) if v)
    single.update({"x-forwarded-port": "443", "x-forwarded-proto": "https"})
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    # an HTTP API decodes request parameters before the integration sees them, and by live captures
    # (https://github.com/hotsock/voker/pull/8) rawPath too, unlike a REST API's path:
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html
    decoded = unquote(raw_path)
    path = decoded if route.stage == "$default" else f"/{route.stage}{decoded}"
    route_key = f"{route.method} {route.path}"
    content_type = single.get("content-type", "").split(";", 1)[0].strip().lower()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": single,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = {key: ",".join(values) for key, values in query.items()}
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": route.api_id,
        "domainName": domain,
        "domainPrefix": route.api_id,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": single.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": route.stage,
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if match.path_parameters:
        event["pathParameters"] = {key: unquote(value) for key, value in match.path_parameters.items()}
    if body:
        if content_type.startswith("text/") or content_type in _HTTP_TEXT_TYPES:
            try:
                event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    else:
        event["isBase64Encoded"] = False
    return event


def build_rest_event(
    match: RouteMatch,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    source_ip: str,
    region: str,
    request_id: str | None = None,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """The Lambda proxy integration event (REST API, payload format 1.0)."""
    route = match.route
    now = now or datetime.datetime.now(datetime.UTC)
    request_id = request_id or str(uuid.uuid4())
    # A REST API hands path, pathParameters and requestContext.path over still percent-encoded, so
    # an id's "%2F" stays inside its segment (https://github.com/aws/aws-sam-cli/issues/3524).
    path = raw_path
    single_headers, multi_headers = _multi(headers)
    single_query, multi_query = _multi(parse_qsl(raw_query, keep_blank_values=True))
    try:
        text_body: str | None = body.decode("utf-8") if body else None
        is_base64 = False
    except UnicodeDecodeError:
        text_body, is_base64 = base64.b64encode(body).decode("ascii"), True
    header_lookup = {key.lower(): value for key, value in headers}
    domain = f"{route.api_id}.execute-api.{region}.amazonaws.com"
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": hashlib.sha256(f"{route.api_id}{route.path}".encode()).hexdigest()[:6],
            "resourcePath": route.path,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{route.stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": route.stage,
            "domainPrefix": route.api_id,
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": header_lookup.get("user-agent"),
                "user": None,
            },
            "domainName": domain,
            "apiId": route.api_id,
        },
        "body": text_body,
        "isBase64Encoded": is_base64,
    }


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class MalformedResponseError(ValueError):
    """The handler's return value is not a valid Lambda proxy response."""


def gateway_error(status: int, message: str, error_type: str) -> HttpResponse:
    body = json.dumps({"message": message}).encode()
    return HttpResponse(
        status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)], body
    )


def http_api_response(result: Any) -> HttpResponse:
    """An HTTP API's answer to a handler's return value (payload 2.0): a response object if it has a
    statusCode, with its cookies as Set-Cookie; anything else is a 200 of its JSON."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpResponse(200, [("Content-Type", "application/json")], json.dumps(result).encode())
    response = proxy_response({key: value for key, value in result.items() if key != "multiValueHeaders"})
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise MalformedResponseError("cookies must be a list")
    return HttpResponse(
        response.status, response.headers + [("Set-Cookie", str(cookie)) for cookie in cookies], response.body
    )


def proxy_response(result: Any) -> HttpResponse:
    """Turns a handler's return value into the HTTP response API Gateway would send."""
    if not isinstance(result, dict):
        raise MalformedResponseError(f"the handler returned {type(result).__name__}, not an object")
    try:
        status = int(result.get("statusCode", 200))
    except (TypeError, ValueError):
        raise MalformedResponseError(f"statusCode {result.get('statusCode')!r} is not a number") from None
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedResponseError(f"body must be a string, got {type(body).__name__}")
    if result.get("isBase64Encoded") and body is not None:
        try:
            raw = base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise MalformedResponseError(f"isBase64Encoded but the body is not base64: {error}") from None
    else:
        raw = (body or "").encode()
    headers: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    single = result.get("headers") or {}
    if not isinstance(multi, dict) or not isinstance(single, dict):
        raise MalformedResponseError("headers and multiValueHeaders must be objects")
    for name, values in multi.items():
        for value in values if isinstance(values, list) else [values]:
            headers.append((str(name), str(value)))
    given = {name.lower() for name, _ in headers}
    headers.extend((str(name), str(value)) for name, value in single.items() if name.lower() not in given)
    if "content-type" not in {name.lower() for name, _ in headers}:
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, raw)


Invoker = Callable[[str, Any], Invocation]
# Lambda's Invoke API, as `sam local start-lambda` serves it, so `make insights` and
# `aws lambda invoke --endpoint-url` can run a function of the local stack on demand.
# https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
LAMBDA_INVOKE_PATH: Final = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")


def lambda_invoke(invoke: Invoker, function: str, body: bytes) -> HttpResponse:
    """A RequestResponse invocation: the function's result, or its error with X-Amz-Function-Error."""
    try:
        event = json.loads(body or b"{}")
    except ValueError:
        return gateway_error(400, "Could not parse request body into json", "InvalidRequestContentException")
    try:
        invocation = invoke(function, event)
    except KeyError:
        return gateway_error(404, f"Function not found: {function}", "ResourceNotFoundException")
    headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
    if not invocation.ok:
        headers.append(("X-Amz-Function-Error", "Unhandled"))
        return HttpResponse(200, headers, json.dumps(invocation.error or {}).encode())
    return HttpResponse(200, headers, json.dumps(invocation.result).encode())


class ApiGateway:
    """Serves the template's Api routes over HTTP on one port, all APIs together (like `sam local`).
    A request whose Host is one API's execute-api host is routed on that API alone, as AWS routes
    it: how a route two APIs share (a webhook's legacy REST twin) is reached on the other one."""

    def __init__(self, routes: Iterable[ApiRoute], invoke: Invoker, *, region: str) -> None:
        routes = list(routes)
        self.table = RouteTable(routes)
        self._by_host = {
            f"{api_id}.execute-api.{region}.amazonaws.com": RouteTable(
                r for r in routes if r.api_id == api_id
            )
            for api_id in {route.api_id for route in routes}
        }
        self.invoke = invoke
        self.region = region
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def bind(self, host: str, port: int) -> tuple[str, int]:
        gateway = self

        class Handler(_RequestHandler):
            pass

        Handler.gateway = gateway
        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        self._server = server
        bound_host, bound_port = server.server_address[:2]
        return str(bound_host), int(bound_port)

    def serve_in_background(self) -> None:
        server = self._server
        if server is None:
            raise RuntimeError("bind() first")
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="devstack-api", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join()
            self._server.server_close()
            self._server = None

    def handle(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes, source_ip: str
    ) -> HttpResponse:
        raw_path, _, raw_query = target.partition("?")
        raw_path = raw_path.partition("#")[0] or "/"
        invoked = LAMBDA_INVOKE_PATH.fullmatch(raw_path)
        if method == "POST" and invoked is not None:
            log.info("invoke %s", invoked[1])
            return lambda_invoke(self.invoke, unquote(invoked[1]), body)
        host = next((value for name, value in headers if name.lower() == "host"), "")
        table = self._by_host.get(host.rpartition(":")[0] or host, self.table)
        match = table.match(method, raw_path)
        if match is None:
            # API Gateway answers 403 for unknown routes; the local stack says 404 so that a wrong
            # URL is not mistaken for an authorisation problem. The body is API Gateway's.
            return gateway_error(404, _UNKNOWN_ROUTE_MESSAGE, "MissingAuthenticationTokenException")
        if match is False:
            if table.http_only(raw_path):
                # an HTTP API knows routes, not resources: a method it has no route for is not found
                return HttpResponse(404, [("Content-Type", "application/json")], b'{"message":"Not Found"}')
            return gateway_error(403, _UNKNOWN_ROUTE_MESSAGE, "MissingAuthenticationTokenException")
        assert isinstance(match, RouteMatch)
        event = build_event(
            match,
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            source_ip=source_ip,
            region=self.region,
        )
        started = time.monotonic()
        invocation = self.invoke(match.route.function, event)
        elapsed_ms = (time.monotonic() - started) * 1000
        if not invocation.ok:
            log.error(
                "%s %s -> 502: %s failed: %s",
                method,
                mask_phones(raw_path),
                match.route.function,
                mask_phones(invocation.error_summary),
            )
            return gateway_error(502, "Internal server error", "InternalServerErrorException")
        try:
            if match.route.payload_format == HTTP_PAYLOAD:
                response = http_api_response(invocation.result)
            else:
                response = proxy_response(invocation.result)
        except MalformedResponseError as error:
            log.error(
                "%s %s -> 502: malformed Lambda proxy response: %s",
                method,
                mask_phones(raw_path),
                mask_phones(str(error)),
            )
            return gateway_error(502, "Internal server error", "InternalServerErrorException")
        log.info(
            "%s %s -> %d (%s, %.0f ms)",
            method,
            mask_phones(raw_path),
            response.status,
            match.route.function,
            elapsed_ms,
        )
        return response


class _RequestHandler(BaseHTTPRequestHandler):
    gateway: ApiGateway
    protocol_version = "HTTP/1.1"
    server_version = "devstack-apigw"

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers end with an empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        headers = list(self.headers.items())
        try:
            response = self.gateway.handle(self.command, self.path, headers, body, self.client_address[0])
        except Exception:
            log.exception("%s %s: the local API gateway failed", self.command, mask_phones(self.path))
            response = gateway_error(500, "Internal server error", "InternalServerErrorException")
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        # http.server's lines hold the request line, query string included.
        log.debug("api: %s", mask_phones(format % args))


def localize_urls(text: str, routes: Iterable[ApiRoute], region: str, api_url: str) -> str:
    """Replaces the API's execute-api URL with the local one, so outputs and variables are usable."""
    for route in routes:
        stage = "" if route.stage == "$default" else f"/{route.stage}"
        text = text.replace(f"https://{route.api_id}.execute-api.{region}.amazonaws.com{stage}", api_url)
    return text
