"""The local API Gateway's routing and proxy event/response mapping, without a server."""

from __future__ import annotations

import base64
import datetime
import json
import logging
from typing import Any

import pytest

from devstack.apigw import (
    ApiGateway,
    MalformedResponseError,
    RouteMatch,
    RouteTable,
    build_event,
    proxy_response,
)
from devstack.functions import ApiRoute
from devstack.runtime import Invocation


def route(path: str, method: str = "GET", function: str = "Fn") -> ApiRoute:
    return ApiRoute(
        function=function, event="E", path=path, method=method, api="Api", api_id="abc", stage="v1"
    )


TABLE = RouteTable(
    [
        route("/contacts/{id}"),
        route("/contacts/me", function="Me"),
        route("/files/{proxy+}", "ANY", function="Files"),
        route("/files/special", "POST", function="Special"),
        route("/", function="Root"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "function", "parameters"),
    [
        ("GET", "/contacts/42", "Fn", {"id": "42"}),
        ("GET", "/contacts/a%2Fb", "Fn", {"id": "a%2Fb"}),
        ("GET", "/contacts/me", "Me", {}),
        ("GET", "/contacts/me/", "Me", {}),
        ("DELETE", "/files/a/b%20c", "Files", {"proxy": "a/b%20c"}),
        ("POST", "/files/special", "Special", {}),
        ("GET", "/", "Root", {}),
    ],
)
def test_routes_match_on_raw_segments_most_specific_first(
    method: str, path: str, function: str, parameters: dict[str, str]
) -> None:
    match = TABLE.match(method, path)

    assert isinstance(match, RouteMatch)
    assert (match.route.function, match.path_parameters) == (function, parameters)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/contacts", None),
        ("GET", "/contacts/1/2", None),
        ("GET", "/files", None),
        ("POST", "/contacts/1", False),
        ("GET", "/files/special", False),
    ],
)
def test_unmatched_paths_and_methods(method: str, path: str, expected: object) -> None:
    assert TABLE.match(method, path) is expected


def test_proxy_event_shape() -> None:
    match = TABLE.match("GET", "/contacts/a%2Fb")
    assert isinstance(match, RouteMatch)
    now = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)

    event = build_event(
        match,
        method="GET",
        raw_path="/contacts/a%2Fb",
        raw_query="x=1&x=2&y",
        headers=[("Accept", "a"), ("X-Dup", "1"), ("X-Dup", "2")],
        body=b"\xff\xfe",
        source_ip="127.0.0.1",
        region="us-east-1",
        request_id="rid",
        now=now,
    )

    assert event["path"] == "/contacts/a%2Fb"
    assert event["pathParameters"] == {"id": "a%2Fb"}
    assert event["resource"] == "/contacts/{id}"
    assert event["requestContext"]["path"] == "/v1/contacts/a%2Fb"
    assert event["requestContext"]["resourcePath"] == "/contacts/{id}"
    assert event["headers"] == {"Accept": "a", "X-Dup": "2"}
    assert event["multiValueHeaders"] == {"Accept": ["a"], "X-Dup": ["1", "2"]}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["body"] == base64.b64encode(b"\xff\xfe").decode()
    assert event["isBase64Encoded"] is True
    assert event["requestContext"]["requestTimeEpoch"] == int(now.timestamp() * 1000)
    assert event["requestContext"]["requestTime"] == "02/Jan/2025:03:04:05 +0000"


def test_proxy_responses_map_to_http() -> None:
    response = proxy_response(
        {
            "statusCode": 202,
            "headers": {"X-One": "1", "x-multi": "ignored"},
            "multiValueHeaders": {"X-Multi": ["a", "b"]},
            "body": base64.b64encode(b"\x00\x01").decode(),
            "isBase64Encoded": True,
        }
    )

    assert response.status == 202
    assert response.body == b"\x00\x01"
    assert response.headers == [
        ("X-Multi", "a"),
        ("X-Multi", "b"),
        ("X-One", "1"),
        ("Content-Type", "application/json"),
    ]


@pytest.mark.parametrize(
    "result", [None, "text", {"statusCode": "abc"}, {"statusCode": 200, "body": {"a": 1}}]
)
def test_malformed_proxy_responses_are_refused(result: object) -> None:
    with pytest.raises(MalformedResponseError):
        proxy_response(result)


@pytest.mark.parametrize(
    ("raw_path", "parameter"),
    [
        ("/contacts/a%2Fb%2Bc%3Dd%20e", "a%2Fb%2Bc%3Dd%20e"),
        ("/contacts/a+b=c", "a+b=c"),
        ("/contacts/%252F", "%252F"),
    ],
)
def test_the_path_reaches_the_function_percent_encoded_as_a_rest_api_hands_it(
    raw_path: str, parameter: str
) -> None:
    match = TABLE.match("GET", raw_path)
    assert isinstance(match, RouteMatch)

    event = build_event(
        match,
        method="GET",
        raw_path=raw_path,
        raw_query="",
        headers=[],
        body=b"",
        source_ip="127.0.0.1",
        region="us-east-1",
    )

    assert (event["path"], event["pathParameters"], event["requestContext"]["path"]) == (
        raw_path,
        {"id": parameter},
        f"/v1{raw_path}",
    )


def gateway(result: Invocation) -> ApiGateway:
    def invoke(function: str, event: Any) -> Invocation:
        return result

    return ApiGateway([route("/contacts/{id}", function="Contacts")], invoke, region="us-east-1")


@pytest.mark.parametrize(
    "target", ["/contacts/16505551234", "/contacts/+16505551234", "/contacts/%2B16505551234?x=1"]
)
def test_the_access_log_masks_ids_that_are_phone_numbers(
    target: str, caplog: pytest.LogCaptureFixture
) -> None:
    answered = Invocation("Contacts", "rid", ok=True, result={"statusCode": 200, "body": "{}"})
    failed = Invocation(
        "Contacts", "rid", ok=False, error={"errorType": "KeyError", "errorMessage": "'16505551234'"}
    )
    caplog.set_level(logging.DEBUG, logger="devstack")

    ok = gateway(answered).handle("GET", target, [], b"", "127.0.0.1")
    broken = gateway(failed).handle("GET", target, [], b"", "127.0.0.1")

    assert (ok.status, broken.status) == (200, 502)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert all("16*******34" in line for line in lines), lines
    assert not any("6505551234" in line for line in lines), lines
    assert "Contacts" in lines[0]
    assert "KeyError" in lines[1]


def test_the_access_log_keeps_ids_that_cannot_be_phone_numbers(caplog: pytest.LogCaptureFixture) -> None:
    answered = Invocation("Contacts", "rid", ok=True, result={"statusCode": 404, "body": "{}"})
    caplog.set_level(logging.INFO, logger="devstack")

    gateway(answered).handle("GET", "/contacts/wamid.HBgL%2Fab%3D", [], b"", "127.0.0.1")

    assert "/contacts/wamid.HBgL%2Fab%3D -> 404" in caplog.text


def test_lambda_invoke_api_runs_a_function_with_the_posted_event() -> None:
    """POST /2015-03-31/functions/<id>/invocations, as `sam local start-lambda` serves it (make insights)."""
    seen: list[tuple[str, Any]] = []

    def invoke(function: str, event: Any) -> Invocation:
        seen.append((function, event))
        if function == "Missing":
            raise KeyError(function)
        if event.get("fail"):
            return Invocation(
                function, "rid", ok=False, error={"errorType": "ValueError", "errorMessage": "bad"}
            )
        return Invocation(function, "rid", ok=True, result={"stored": 3})

    api = ApiGateway([route("/contacts/{id}", function="Contacts")], invoke, region="us-east-1")
    path = "/2015-03-31/functions/{}/invocations"

    ok = api.handle("POST", path.format("AdInsightsFunction"), [], b'{"since": "2026-06-01"}', "127.0.0.1")
    failed = api.handle("POST", path.format("AdInsightsFunction"), [], b'{"fail": true}', "127.0.0.1")
    missing = api.handle("POST", path.format("Missing"), [], b"{}", "127.0.0.1")
    garbled = api.handle("POST", path.format("AdInsightsFunction"), [], b"{not json", "127.0.0.1")

    assert seen[0] == ("AdInsightsFunction", {"since": "2026-06-01"})
    assert (ok.status, json.loads(ok.body)) == (200, {"stored": 3})
    assert ("X-Amz-Function-Error", "Unhandled") in failed.headers
    assert json.loads(failed.body) == {"errorType": "ValueError", "errorMessage": "bad"}
    assert (missing.status, json.loads(missing.body)["message"]) == (404, "Function not found: Missing")
    assert garbled.status == 400 and len(seen) == 3


def http_route(path: str, method: str = "POST", stage: str = "v1") -> ApiRoute:
    return ApiRoute(
        function="Hook",
        event="E",
        path=path,
        method=method,
        api="Hooks",
        api_id="def",
        stage=stage,
        payload_format="2.0",
    )


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("text/xml", True),
        ("application/x-www-form-urlencoded", False),  # Twilio's posts come base64
        ("", False),
        ("application/octet-stream", False),
    ],
)
def test_an_http_api_hands_text_types_over_as_text_and_every_other_body_as_base64(
    content_type: str, text: bool
) -> None:
    body = "a=é&b=1".encode()
    headers = [("Content-Type", content_type)] if content_type else []
    match = RouteMatch(http_route("/webhooks/x"), {})

    event = build_event(
        match,
        method="POST",
        raw_path="/webhooks/x",
        raw_query="",
        headers=headers,
        body=body,
        source_ip="203.0.113.9",
        region="eu-west-1",
    )

    assert event["isBase64Encoded"] is not text
    assert (event["body"].encode() if text else base64.b64decode(event["body"])) == body


def test_an_http_api_on_its_default_stage_has_no_stage_in_its_raw_path() -> None:
    match = RouteMatch(http_route("/webhooks/x", stage="$default"), {})

    event = build_event(
        match,
        method="POST",
        raw_path="/webhooks/x",
        raw_query="a=1",
        headers=[],
        body=b"",
        source_ip="203.0.113.9",
        region="eu-west-1",
    )

    assert (event["rawPath"], event["requestContext"]["http"]["path"]) == ("/webhooks/x", "/webhooks/x")
    assert event["requestContext"]["domainName"] == "def.execute-api.eu-west-1.amazonaws.com"
    assert "body" not in event and event["isBase64Encoded"] is False
    assert event["headers"]["x-forwarded-for"] == "203.0.113.9"


def test_an_http_api_answers_a_result_without_status_code_as_a_200_of_its_json() -> None:
    from devstack.apigw import http_api_response

    inferred = http_api_response({"ok": True})
    explicit = http_api_response({"statusCode": 204, "headers": {"X-A": "1"}, "cookies": ["c=1"]})

    assert (inferred.status, json.loads(inferred.body)) == (200, {"ok": True})
    assert explicit.status == 204
    assert ("Set-Cookie", "c=1") in explicit.headers and ("X-A", "1") in explicit.headers


def test_a_route_on_both_apis_is_served_as_the_http_api_s_unless_the_host_names_the_rest_api() -> None:
    # the webhooks' legacy REST twins: one function on both APIs, one local port
    events: list[dict[str, Any]] = []

    def invoke(function: str, event: Any) -> Invocation:
        events.append(event)
        return Invocation(function, "r", True, {"statusCode": 200, "body": "ok"})

    legacy = ApiRoute(
        function="Hook",
        event="Legacy",
        path="/webhooks/x",
        method="POST",
        api="Api",
        api_id="abc",
        stage="v1",
    )
    served = ApiGateway([legacy, http_route("/webhooks/x")], invoke, region="us-east-1")

    for host in (
        "127.0.0.1:3000",
        "def.execute-api.us-east-1.amazonaws.com",
        "abc.execute-api.us-east-1.amazonaws.com:3000",
    ):
        assert served.handle("POST", "/webhooks/x", [("Host", host)], b"{}", "127.0.0.1").status == 200

    assert [event.get("version", "1.0") for event in events] == ["2.0", "2.0", "1.0"]
    assert events[2]["requestContext"]["path"] == "/v1/webhooks/x" and events[2]["httpMethod"] == "POST"
