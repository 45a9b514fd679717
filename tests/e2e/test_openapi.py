"""docs/openapi.json against the running local stack: schemathesis generates requests for every
operator route from the document (a bounded, seeded run) and each answer must be no 5xx and, for a
documented status, shaped as the document says."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from devstack.sample_events import read_env
from devstack.stack import DevStack

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"X-Api-Key": read_env()["API_KEY"]}
EXAMPLES_PER_OPERATION = 25

pytestmark = pytest.mark.e2e


SCHEMA = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.json")
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,  # the same examples every run: a failure here is reproducible
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_the_document_has_every_operator_operation() -> None:
    assert len(OPERATIONS) == 22


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_every_operator_route_answers_as_documented_and_never_5xx(
    operation: schemathesis.APIOperation, stack: DevStack
) -> None:
    @SETTINGS
    @given(case=operation.as_strategy())
    def answers_as_documented(case: schemathesis.Case) -> None:
        response = case.call(base_url=stack.api_url, headers=HEADERS, timeout=30)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    answers_as_documented()
