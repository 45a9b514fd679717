"""docs/openapi.json: generated from the operator routes, kept current, served at GET /openapi.json
behind the API key, and naming exactly the routes the template gives the operator functions; and
the resolver's validation answering the project's error body, after the key is checked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict

from devstack import openapi
from devstack.sample_events import proxy_event
from tests.support.cfn import load_template
from tests.support.lambdas import FakeContext
from wa_conversions import http_api
from wa_conversions.http_api import operator_resolver

KEY = "unit-test-key"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_api, "get_secret", lambda settings, key: KEY)


def call(
    app: APIGatewayRestResolver,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    key: str | None = KEY,
    query: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    headers = {"Content-Type": content_type} | ({"X-Api-Key": key} if key else {})
    event = proxy_event(method, path, body=body, headers=headers, query=query)
    result = app.resolve(event, FakeContext())
    return result["statusCode"], json.loads(result["body"])


def test_the_committed_document_is_the_one_the_routes_generate() -> None:
    committed = (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert committed == openapi.render(), (
        "docs/openapi.json is out of date with the operator routes: run `make openapi` and commit it"
    )


def test_the_layer_ships_the_committed_document() -> None:
    # wa_conversions/openapi.json links to docs/openapi.json; sam build copies what it points at
    assert http_api.OPENAPI_DOCUMENT.read_text(encoding="utf-8") == openapi.render()


def _template_operator_routes() -> set[tuple[str, str]]:
    resources = load_template()["Resources"]
    routes: set[tuple[str, str]] = set()
    for resource in resources.values():
        code_uri = (resource.get("Properties") or {}).get("CodeUri")
        if resource.get("Type") != "AWS::Serverless::Function" or not isinstance(code_uri, str):
            continue
        if Path(code_uri).name not in openapi.operator_functions():
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] == "Api":
                path = re.sub(r"\{[^}]+\}", "{}", event["Properties"]["Path"])
                routes.add((event["Properties"]["Method"].upper(), path))
    return routes


def test_the_document_names_every_operator_route_of_the_template_and_no_other() -> None:
    document = openapi.document()
    documented = {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
        for path, operations in document["paths"].items()
        for method in operations
    }

    assert documented | {("GET", "/openapi.json")} == _template_operator_routes()
    assert len(openapi.operator_functions()) == 6


def test_every_operation_needs_the_key_and_documents_the_error_body() -> None:
    document = openapi.document()

    assert document["security"] == [{"ApiKey": []}]
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for operations in document["paths"].values():
        for operation in operations.values():
            for status in ("400", "401", "404", "422"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}


def test_get_openapi_json_serves_the_document_to_a_caller_with_the_key() -> None:
    from functions.operator_api.app import app

    assert call(app, "GET", "/openapi.json") == (200, openapi.document())
    status, answer = call(app, "GET", "/openapi.json", key=None)
    assert (status, answer["error"]) == (401, "unauthorized")


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    count: int


@pytest.fixture
def app() -> APIGatewayRestResolver:
    app = operator_resolver()

    @app.post("/things")
    def create(thing: Annotated[Thing, Body()]) -> Thing:
        return thing

    @app.get("/things")
    def search(
        color: Annotated[str | None, Query()] = None, size: Annotated[int, Query()] = 1
    ) -> dict[str, Any]:
        return {"color": color, "size": size}

    return app


def test_a_valid_typed_request_reaches_the_route_and_its_model_is_the_answer(
    app: APIGatewayRestResolver,
) -> None:
    assert call(app, "POST", "/things", b'{"name": "a", "count": 2}') == (200, {"name": "a", "count": 2})
    assert call(app, "GET", "/things", query={"color": "red", "size": "3"}) == (
        200,
        {"color": "red", "size": 3},
    )


@pytest.mark.parametrize(
    ("method", "body", "query", "field", "message"),
    [
        ("POST", b'{"name": "a", "count": "2"}', None, "count", "count: Input should be a valid integer"),
        ("POST", b'{"name": "a"}', None, "count", "count: Field required"),
        (
            "POST",
            b'{"name": "a", "count": 2, "extra": 1}',
            None,
            "extra",
            "extra: Extra inputs are not permitted",
        ),
        ("POST", None, None, None, "A JSON body is required"),
        ("GET", None, {"size": "big"}, "size", "size: Input should be a valid integer"),
    ],
)
def test_a_request_breaking_the_route_s_types_is_a_422_naming_the_field(
    app: APIGatewayRestResolver,
    method: str,
    body: bytes | None,
    query: dict[str, str] | None,
    field: str | None,
    message: str,
) -> None:
    status, answer = call(app, method, "/things", body, query=query)

    assert status == 422
    assert answer["error"] == "validation_error"
    assert answer.get("field") == field
    assert answer["message"].startswith(message)


def test_the_key_is_checked_before_the_request_s_rules(app: APIGatewayRestResolver) -> None:
    for body in (b'{"name": 1}', b"{oops", b'{"a":' * 100 + b"1" + b"}" * 100):
        status, answer = call(app, "POST", "/things", body, key=None)
        assert (status, answer["error"]) == (401, "unauthorized")
    status, answer = call(app, "POST", "/things", b'{"name": 1}', key="wrong")
    assert (status, answer["error"]) == (401, "unauthorized")


def test_a_body_that_is_not_json_text_is_a_400_before_its_types_are_checked(
    app: APIGatewayRestResolver,
) -> None:
    status, answer = call(app, "POST", "/things", b'{"name": "\\ud800", "count": 1}')
    assert (status, answer["error"]) == (400, "bad_request")
    assert "lone surrogate" in answer["message"]

    status, answer = call(app, "POST", "/things", b'{"a":' * 100 + b"1" + b"}" * 100)
    assert (status, answer["error"]) == (400, "bad_request")
    assert "nested deeper" in answer["message"]


def test_a_body_of_another_media_type_is_a_415(app: APIGatewayRestResolver) -> None:
    status, answer = call(app, "POST", "/things", b"name=a", content_type="text/plain")
    assert (status, answer["error"]) == (415, "unsupported_media_type")
