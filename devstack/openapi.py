"""`python -m devstack openapi`: docs/openapi.json, the OpenAPI document of every operator route, as
Powertools generates it from the handlers' typed routes and their models (`make openapi`).

Each operator function (a handler whose `app` is `operator_resolver(...)`) documents its own routes;
this merges them into one document, names the X-Api-Key scheme every route needs, and gives every
operation the project's error body ({"error", "message", "field"}, wa_conversions.models.api) for
its 4xx answers in place of Powertools' own 422 shape, which these APIs never answer. OperatorApi
serves the committed file at GET /openapi.json (the layer ships it: wa_conversions/openapi.json).
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "openapi.json"
TITLE = "wa-conversions operator API"
ERROR_STATUSES = {
    400: "A body that is not JSON text, or an unknown tenant",
    401: "Missing or wrong X-Api-Key header",
    404: "Nothing by that id",
    422: "A field, parameter or header that breaks the route's rules, named in `field`",
}
ERROR_REF = "#/components/schemas/ErrorBody"
# Powertools' own validation-error shapes, which these APIs never answer: ErrorBody replaces them.
POWERTOOLS_ERRORS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def operator_functions() -> list[str]:
    """Every function folder whose handler builds the operator resolver: a new one is documented too."""
    return sorted(
        path.parent.name
        for path in (ROOT / "functions").glob("*/app.py")
        if "= operator_resolver(" in path.read_text(encoding="utf-8")
    )


def _merge(target: dict[str, Any], source: dict[str, Any], what: str) -> None:
    for name, value in source.items():
        if name in target and target[name] != value:
            raise ValueError(f"{what} {name!r} is defined twice, differently")
        target[name] = value


def document() -> dict[str, Any]:
    from wa_conversions.models.api import ErrorBody

    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for name in operator_functions():
        module = importlib.import_module(f"functions.{name}.app")
        generated = json.loads(module.app.get_openapi_json_schema())
        for path, operations in generated.get("paths", {}).items():
            _merge(paths.setdefault(path, {}), operations, f"{path}: operation")
        _merge(schemas, generated.get("components", {}).get("schemas", {}), "schema")
    for name in POWERTOOLS_ERRORS:
        schemas.pop(name, None)
    _merge(schemas, {"ErrorBody": ErrorBody.model_json_schema()}, "schema")
    error = {"content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}
    for operations in paths.values():
        for operation in operations.values():
            responses = operation["responses"]
            for status, description in ERROR_STATUSES.items():
                responses[str(status)] = {"description": description, **error}
            operation["responses"] = {status: responses[status] for status in sorted(responses)}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": "1",
            "description": "Generated from the handlers' routes by `make openapi`; README.md, HTTP API.",
        },
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": {
            "schemas": {name: schemas[name] for name in sorted(schemas)},
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        },
        "security": [{"ApiKey": []}],
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("openapi", help="write docs/openapi.json from the operator routes")
    parser.add_argument("--out", type=Path, default=DOCUMENT, help="where to write it (default: %(default)s)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    args.out.write_text(render(), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0
