"""The local stack itself, proven on a throwaway template (tests/e2e/fixtures/): API Gateway's proxy
events and errors, SQS partial batch failures with redrive, EventBridge delivery, secrets."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.stack import DevStack
from devstack.testing import AwsHelpers

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fixture_stack() -> Iterator[DevStack]:
    with DevStack(
        FIXTURES / "template.yaml", FIXTURES / "test.env", port=0, stack_name="devstack-e2e", moto="process"
    ) as running:
        yield running


@pytest.fixture
def fixture_api(fixture_stack: DevStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fixture_stack.api_url, timeout=10.0) as client:
        yield client


@pytest.fixture(scope="module")
def fixture_aws(fixture_stack: DevStack) -> AwsHelpers:
    return AwsHelpers(fixture_stack)


def test_api_route_gets_the_rest_proxy_event(fixture_api: httpx.Client, fixture_stack: DevStack) -> None:
    response = fixture_api.get(
        "/echo/a%2Fb%20c?x=1&x=2&empty=&q=caf%C3%A9", headers={"X-Custom-Header": "Value"}
    )

    assert response.status_code == 201
    assert response.headers.get_list("X-Multi") == ["a", "b"]
    reply = response.json()
    event = reply["event"]
    assert event["resource"] == "/echo/{id}"
    assert event["httpMethod"] == "GET"
    assert event["path"] == "/echo/a%2Fb%20c"  # still percent-encoded, as a REST API hands it
    assert event["pathParameters"] == {"id": "a%2Fb%20c"}
    assert event["queryStringParameters"] == {"x": "2", "empty": "", "q": "café"}
    assert event["multiValueQueryStringParameters"]["x"] == ["1", "2"]
    assert event["headers"]["X-Custom-Header"] == "Value"
    assert event["multiValueHeaders"]["X-Custom-Header"] == ["Value"]
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert (context["stage"], context["path"], context["resourcePath"]) == (
        "v1",
        "/v1/echo/a%2Fb%20c",
        "/echo/{id}",
    )
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert isinstance(context["requestTimeEpoch"], int)

    assert reply["context"]["function_name"] == "devstack-e2e-EchoFunction"
    assert reply["context"]["memory_limit_in_mb"] == "192"
    assert reply["context"]["invoked_function_arn"].endswith(":function:devstack-e2e-EchoFunction")
    assert 0 < reply["context"]["remaining_ms"] <= 5000
    assert reply["sys_path"][0] == str(FIXTURES / "functions" / "echo")
    environment = reply["environment"]
    assert environment["GREETING"] == "hello"
    assert environment["QUEUE_URL"] == fixture_stack.physical_id("WorkQueue")
    assert environment["API_URL"] == fixture_stack.api_url
    assert environment["EXTRA"] == fixture_stack.physical_id("ExtraQueue")
    assert environment["AWS_ENDPOINT_URL"] == fixture_stack.aws_endpoint
    assert environment["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "5"
    # The handler read it from SSM, where the stack put the env file's entry.
    assert reply["secret"] == "s3cret value"


def test_http_api_route_gets_the_payload_2_0_event(
    fixture_api: httpx.Client, fixture_stack: DevStack
) -> None:
    form = b"Body=caf%C3%A9+%2B1&From=whatsapp%3A%2B1"
    response = fixture_api.post(
        "/hooks/a%2Fb?x=1&x=2&sig=a%20b",
        content=form,
        headers=[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Dup", "one"),
            ("x-dup", "two"),
            ("Cookie", "a=1; b=2"),
        ],
    )

    assert response.status_code == 202
    assert response.headers.get_list("set-cookie") == ["seen=1; Path=/"]
    event = response.json()["event"]
    assert (event["version"], event["routeKey"]) == ("2.0", "POST /hooks/{name}")
    # the path behind its stage, decoded as an HTTP API hands it; the query string exactly as sent
    assert event["rawPath"] == "/v1/hooks/a/b"
    assert event["rawQueryString"] == "x=1&x=2&sig=a%20b"
    assert event["queryStringParameters"] == {"x": "1,2", "sig": "a b"}
    # names lower-cased, a repeated header's values joined, cookies out of the headers
    assert event["headers"]["x-dup"] == "one,two"
    assert event["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert "cookie" not in event["headers"] and event["cookies"] == ["a=1", "b=2"]
    # a form post is base64, as an HTTP API hands it over; its bytes untouched
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == form
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/v1/hooks/a/b"
    assert context["stage"] == "v1"
    assert (
        context["domainName"]
        == f"{fixture_stack.provisioner.api_id('Hooks')}.execute-api.{fixture_stack.region}.amazonaws.com"
    )
    assert "resource" not in event and "httpMethod" not in event


def test_http_api_json_body_is_text_and_an_unrouted_method_is_not_found(fixture_api: httpx.Client) -> None:
    payload = '{"name": "José"}'.encode()
    event = fixture_api.post(
        "/hooks/x", content=payload, headers={"Content-Type": "application/json"}
    ).json()["event"]
    wrong_method = fixture_api.get("/hooks/x")

    assert (event["isBase64Encoded"], event["body"].encode()) == (False, payload)
    assert "queryStringParameters" not in event and event["rawQueryString"] == ""
    # an HTTP API has routes, not resources: a method without one is a 404, not REST's 403
    assert (wrong_method.status_code, wrong_method.json()) == (404, {"message": "Not Found"})


def test_post_body_and_method_in_any_case(fixture_api: httpx.Client) -> None:
    event = fixture_api.post("/echo/1", content=b'{"a": 1}').json()["event"]

    assert event["httpMethod"] == "POST"
    assert event["body"] == '{"a": 1}'
    assert event["queryStringParameters"] is None


def test_binary_bodies_are_base64_both_ways(fixture_api: httpx.Client) -> None:
    payload = bytes(range(256))

    response = fixture_api.put("/binary/any/depth", content=payload)

    assert response.status_code == 200
    assert response.content == payload[::-1]


def test_unknown_route_and_wrong_method_answer_like_api_gateway(fixture_api: httpx.Client) -> None:
    unknown = fixture_api.get("/nowhere")
    wrong_method = fixture_api.delete("/echo/1")
    too_deep = fixture_api.get("/echo/1/2")

    assert (unknown.status_code, unknown.json()) == (404, {"message": "Missing Authentication Token"})
    assert (wrong_method.status_code, wrong_method.json()) == (
        403,
        {"message": "Missing Authentication Token"},
    )
    assert too_deep.status_code == 404


def test_handler_error_is_a_502_and_the_worker_survives(fixture_api: httpx.Client) -> None:
    before = fixture_api.get("/echo/1").json()["pid"]

    failed = fixture_api.get("/echo/boom")
    after = fixture_api.get("/echo/2")

    assert (failed.status_code, failed.json()) == (502, {"message": "Internal server error"})
    assert after.status_code == 201
    assert after.json()["pid"] == before


def test_partial_batch_failure_deletes_the_rest_and_redrives_the_failed_record(
    fixture_stack: DevStack, fixture_aws: AwsHelpers
) -> None:
    fixture_aws.sqs.send_message_batch(
        QueueUrl=fixture_aws.queue_url("WorkQueue"),
        Entries=[
            {
                "Id": "1",
                "MessageBody": "ok-1",
                "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "x"}},
            },
            {"Id": "2", "MessageBody": "fail"},
            {"Id": "3", "MessageBody": "ok-2"},
        ],
    )

    # The failed record comes back once (maxReceiveCount 2, visibility 1 s), then moves to the DLQ.
    fixture_stack.wait_until_idle(timeout=15)

    results = [json.loads(m["Body"]) for m in fixture_aws.receive_all("ResultsQueue")]
    assert sorted(record["body"] for record in results) == ["ok-1", "ok-2"]
    first = next(record for record in results if record["body"] == "ok-1")
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"] == fixture_stack.attribute("WorkQueue", "Arn")
    assert first["messageAttributes"]["kind"]["stringValue"] == "x"
    assert first["messageAttributes"]["kind"]["dataType"] == "String"
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert [m["Body"] for m in fixture_aws.receive_all("WorkDLQ")] == ["fail"]
    assert fixture_aws.queue_depth("WorkQueue") == 0


def test_eventbridge_rules_deliver_to_queues_and_functions(
    fixture_stack: DevStack, fixture_aws: AwsHelpers
) -> None:
    bus = fixture_stack.physical_id("Bus")
    fixture_aws.events.put_events(
        Entries=[
            {"EventBusName": bus, "Source": "devstack.test", "DetailType": "to-queue", "Detail": '{"n": 1}'},
            {
                "EventBusName": bus,
                "Source": "devstack.test",
                "DetailType": "to-function",
                "Detail": '{"n": 2}',
            },
            {"EventBusName": bus, "Source": "elsewhere", "DetailType": "to-queue", "Detail": '{"n": 3}'},
            {"EventBusName": bus, "Source": "elsewhere", "DetailType": "via-rule", "Detail": '{"n": 4}'},
        ]
    )

    fixture_stack.wait_until_idle(timeout=10)

    bodies = [json.loads(m["Body"]) for m in fixture_aws.receive_all("ResultsQueue")]
    to_queue = [b for b in bodies if "invoked_with" not in b]
    to_function = [b["invoked_with"] for b in bodies if "invoked_with" in b]
    assert [b["detail"] for b in to_queue] == [{"n": 1}]
    assert sorted((e["detail-type"], e["detail"]["n"]) for e in to_function) == [
        ("to-function", 2),
        ("via-rule", 4),
    ]


def test_resources_follow_parameters_conditions_and_the_env_file(
    fixture_stack: DevStack, fixture_aws: AwsHelpers
) -> None:
    assert fixture_stack.parameters["EnableExtra"] == "true"
    assert fixture_stack.physical_id("ResultsQueue").endswith("/devstack-e2e-results")
    assert fixture_stack.physical_id("Table") == "devstack-e2e-Table"
    assert fixture_stack.outputs["ApiUrl"] == fixture_stack.api_url
    ttl = fixture_aws.dynamodb.describe_time_to_live(TableName="devstack-e2e-Table")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    queues = fixture_aws.sqs.list_queues()["QueueUrls"]
    assert fixture_stack.physical_id("ExtraQueue") in queues
    assert not any(url.endswith("-NeverQueue") for url in queues)
    parameter = fixture_aws.ssm.get_parameter(Name="/devstack-test/test-secret", WithDecryption=True)
    assert (parameter["Parameter"]["Type"], parameter["Parameter"]["Value"]) == (
        "SecureString",
        "s3cret value",
    )


def test_direct_invoke_reports_handler_errors(fixture_stack: DevStack) -> None:
    invocation = fixture_stack.invoke(
        "EchoFunction", {"resource": "/echo/{id}", "pathParameters": {"id": "boom"}}
    )

    assert not invocation.ok
    assert invocation.error is not None
    assert invocation.error["errorType"] == "RuntimeError"
    assert invocation.error["errorMessage"] == "boom requested"


def test_repository_stack_serves_its_routes(api: httpx.Client, aws: AwsHelpers) -> None:
    assert api.get("/no-such-route").status_code == 404
    assert aws.table_items("Table") is not None
    assert aws.secret("/wa-conversions/whatsapp-app-secret") == "local-dev-app-secret"
