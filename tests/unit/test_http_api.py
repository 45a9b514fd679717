"""The operator APIs' common ground: route arguments decoded once from API Gateway REST's
percent-encoded path, and request bodies parsed with limits, refused with a JSON 400 otherwise."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from devstack.sample_events import proxy_event
from tests.support.lambdas import FakeContext
from wa_conversions import http_api, jsontext
from wa_conversions.http_api import json_body, operator_resolver

KEY = "unit-test-key"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> APIGatewayRestResolver:
    monkeypatch.setattr(http_api, "get_secret", lambda settings, key: KEY)
    app = operator_resolver()

    @app.get("/things")
    def list_things() -> dict[str, Any]:
        return {"list": True}

    @app.get("/things/<thing_id>")
    def get_thing(thing_id: str) -> dict[str, Any]:
        return {"id": thing_id}

    @app.post("/things/<thing_id>/read")
    def read_thing(thing_id: str) -> dict[str, Any]:
        return {"read": thing_id}

    @app.post("/echo")
    def echo() -> dict[str, Any]:
        return {"body": json_body(app)}

    return app


def call(
    app: APIGatewayRestResolver,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    base64_body: bool = False,
    key: str | None = KEY,
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"} | ({"X-Api-Key": key} if key else {})
    event = proxy_event(method, path, body=body, headers=headers, base64_body=base64_body)
    result = app.resolve(event, FakeContext())
    return result["statusCode"], json.loads(result["body"])


@pytest.mark.parametrize(
    ("path", "decoded"),
    [
        ("/things/wamid.HBgL%2Fab%2Bcd%3D%3D", "wamid.HBgL/ab+cd=="),
        ("/things/a%20b", "a b"),
        ("/things/a+b=c", "a+b=c"),  # "+" in a path is a plus, not a space
        ("/things/%2525", "%25"),  # decoded once, not twice
        ("/things/%2F", "/"),
        ("/things/16505551234", "16505551234"),
    ],
)
def test_route_arguments_arrive_decoded_once(app: APIGatewayRestResolver, path: str, decoded: str) -> None:
    assert call(app, "GET", path) == (200, {"id": decoded})
    assert call(app, "POST", path + "/read") == (200, {"read": decoded})


def test_an_encoded_slash_is_an_id_not_the_list_route(app: APIGatewayRestResolver) -> None:
    assert call(app, "GET", "/things/%2F") == (200, {"id": "/"})
    assert call(app, "GET", "/things") == (200, {"list": True})


def test_unknown_routes_are_a_json_404(app: APIGatewayRestResolver) -> None:
    status, body = call(app, "GET", "/nothing/here")
    assert (status, body["error"]) == (404, "not_found")


def deep(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


@pytest.mark.parametrize(
    ("body", "base64_body", "problem"),
    [
        (b"[" * 100_000 + b"]" * 100_000, False, "nested deeper"),
        (deep(100_000), False, "nested deeper"),
        (deep(5_000), False, "nested deeper"),
        (b'{"value": "\\ud800"}', False, "lone surrogate"),
        (b'{"\\udfff": 1}', False, "lone surrogate"),
        (b'{"value": "\xed\xb3\xbf"}', True, "not valid UTF-8"),
        (b"\xff{}", True, "not valid UTF-8"),
        (b"{oops", False, "Expecting"),
    ],
)
def test_bodies_that_cannot_be_kept_are_a_json_400(
    app: APIGatewayRestResolver, body: bytes, base64_body: bool, problem: str
) -> None:
    status, answer = call(app, "POST", "/echo", body, base64_body=base64_body)

    assert status == 400
    assert answer["error"] == "bad_request"
    assert answer["message"].startswith("Body is not valid JSON: ")
    assert problem in answer["message"]


@pytest.mark.parametrize(
    ("body", "base64_body", "parsed"),
    [
        (
            b'{"emoji": "\\ud83d\\ude00", "caf\\u00e9": "na\xc3\xafve"}',
            False,
            {"emoji": "😀", "café": "naïve"},
        ),
        (b'{"emoji": "\xf0\x9f\x98\x80"}', True, {"emoji": "😀"}),
        (deep(jsontext.MAX_DEPTH - 1), False, json.loads(deep(jsontext.MAX_DEPTH - 1))),
        (None, False, None),
    ],
)
def test_bodies_within_the_limits_are_parsed(
    app: APIGatewayRestResolver, body: bytes | None, base64_body: bool, parsed: Any
) -> None:
    assert call(app, "POST", "/echo", body, base64_body=base64_body) == (200, {"body": parsed})


def test_a_request_without_the_key_is_refused_before_its_body_is_read(app: APIGatewayRestResolver) -> None:
    status, answer = call(app, "POST", "/echo", deep(100_000), key=None)
    assert (status, answer["error"]) == (401, "unauthorized")


def test_jsontext_takes_bytes_and_text_alike() -> None:
    assert (
        jsontext.loads(b'{"a": [1, "\\u00e9"]}') == jsontext.loads('{"a": [1, "\\u00e9"]}') == {"a": [1, "é"]}
    )
    with pytest.raises(jsontext.JsonTextError, match="nested deeper than 3"):
        jsontext.loads("[[[[1]]]]", max_depth=3)
    assert jsontext.loads("[[[1]]]", max_depth=3) == [[[1]]]
