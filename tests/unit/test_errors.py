"""The package's errors: the HTTP answer each API error becomes, the reason a permanent failure parks
a message with, and what a log line or an answer may say of a validation error (its field, never the
input it quotes)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError, model_validator

from wa_conversions.errors import (
    ApiError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    HandoffError,
    NotFoundError,
    PermanentFailure,
    StateConflictError,
    UnauthorizedError,
    UnprocessableError,
    WaConversionsError,
    failure_fields,
    validation_error,
    validation_summary,
)

PHONE = "4915112345678"


class Item(BaseModel):
    sku: str
    quantity: int


class Order(BaseModel):
    email: str
    items: list[Item]


class Window(BaseModel):
    start: int
    end: int

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


def invalid(model: type[BaseModel], data: object) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(data)
    return raised.value


@pytest.mark.parametrize(
    ("error_type", "status", "code"),
    [
        (BadRequestError, 400, "bad_request"),
        (UnauthorizedError, 401, "unauthorized"),
        (ForbiddenError, 403, "forbidden"),
        (NotFoundError, 404, "not_found"),
        (ConflictError, 409, "conflict"),
        (UnprocessableError, 422, "validation_error"),
    ],
)
def test_each_api_error_answers_its_status_with_its_stable_code(
    error_type: type[ApiError], status: int, code: str
) -> None:
    error = error_type("no such contact", field="id")
    assert error.status_code == status
    assert error.body() == {"error": code, "message": "no such contact", "field": "id"}
    assert str(error) == "no such contact"
    assert isinstance(error, WaConversionsError)


def test_an_api_error_without_a_field_has_no_field_in_its_body() -> None:
    assert NotFoundError("no such message").body() == {"error": "not_found", "message": "no such message"}


def test_a_state_conflict_is_never_an_error_answered_to_a_caller() -> None:
    # the aggregator retries on it; a handler catching WaConversionsError must not swallow it
    assert not isinstance(StateConflictError("changed"), WaConversionsError)
    assert isinstance(HandoffError("queue down"), WaConversionsError)


def test_a_permanent_failure_keeps_its_reason_and_a_copy_of_the_attributes_to_park_with() -> None:
    attributes = {"provider": "cm"}
    failure = PermanentFailure("not a status report", body='{"msg": 1}', attributes=attributes)
    attributes["provider"] = "changed later"

    assert (str(failure), failure.reason, failure.body) == (
        "not a status report",
        "not a status report",
        '{"msg": 1}',
    )
    assert failure.attributes == {"provider": "cm"}


def test_a_permanent_failure_without_a_part_or_attributes_parks_the_whole_message_as_it_is() -> None:
    failure = PermanentFailure("bad shape", attributes={})
    assert (failure.body, failure.attributes) == (None, None)


def test_a_validation_error_names_the_nested_field_at_fault() -> None:
    error = invalid(Order, {"email": "a@example.com", "items": [{"sku": "S1", "quantity": "many"}]})

    problem = validation_error(error)

    assert isinstance(problem, UnprocessableError)
    assert problem.field == "items.0.quantity"
    assert problem.message.startswith("items.0.quantity: Input should be a valid integer")
    assert problem.body()["field"] == "items.0.quantity"


def test_a_validation_error_of_the_whole_body_has_no_field() -> None:
    problem = validation_error(invalid(Window, {"start": 10, "end": 5}))

    assert problem.field is None
    assert problem.message == "Value error, end is before start"
    assert "field" not in problem.body()


def test_only_the_first_problem_is_answered() -> None:
    problem = validation_error(invalid(Order, {}))
    assert (problem.field, problem.message) == ("email", "email: Field required")


def test_a_validation_summary_lists_the_first_problems_by_field_without_the_input() -> None:
    error = invalid(
        Order,
        {
            "email": 4915112345678,
            "items": [{"sku": PHONE, "quantity": PHONE + "x"}, {"quantity": "x"}, {"sku": 1}],
        },
    )
    assert len(error.errors()) > 3

    summary = validation_summary(error)

    assert summary == (
        "email: Input should be a valid string; "
        "items.0.quantity: Input should be a valid integer, unable to parse string as an integer; "
        "items.1.sku: Field required"
    )
    assert PHONE not in summary
    assert validation_summary(error, limit=1) == "email: Input should be a valid string"


def test_a_validation_summary_calls_a_problem_of_the_whole_payload_body() -> None:
    assert validation_summary(invalid(Window, {"start": 2, "end": 1})) == (
        "body: Value error, end is before start"
    )


def test_failure_fields_name_the_error_type_never_its_text() -> None:
    fields = failure_fields(ValueError(f"bad phone {PHONE}"))
    assert fields == {"error": "ValueError"}


def test_failure_fields_name_the_cause_of_a_chained_error() -> None:
    try:
        try:
            int(PHONE + "x")
        except ValueError as cause:
            raise PermanentFailure(f"not an order: {PHONE}") from cause
    except PermanentFailure as error:
        fields = failure_fields(error)

    assert fields == {"error": "PermanentFailure", "cause": "ValueError"}


def test_failure_fields_carry_the_aws_error_code_of_a_client_error() -> None:
    error = ClientError(
        {"Error": {"Code": "ConditionalCheckFailedException", "Message": f"item {PHONE} exists"}},
        "PutItem",
    )

    fields = failure_fields(error)

    assert fields == {"error": "ClientError", "error_code": "ConditionalCheckFailedException"}
    assert PHONE not in str(fields)


def test_failure_fields_ignore_a_response_that_is_not_an_aws_answer() -> None:
    error = RuntimeError("boom")
    error.response = "503 Service Unavailable"  # type: ignore[attr-defined]
    assert failure_fields(error) == {"error": "RuntimeError"}
