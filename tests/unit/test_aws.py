"""wa_conversions.aws: one boto3 client per service, built on first use and kept until reset(), each
talking to the service it is named after (here moto's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.delivery import moto_aws
from wa_conversions import aws, reset

FACTORIES: dict[str, Callable[[], Any]] = {
    "dynamodb": aws.dynamodb,
    "sqs": aws.sqs,
    "events": aws.events,
    "ssm": aws.ssm,
}


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    with moto_aws():
        reset()
        yield
        reset()


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_each_factory_builds_a_client_of_its_own_service_in_the_configured_region(service: str) -> None:
    client = FACTORIES[service]()
    assert client.meta.service_model.service_name == service
    assert client.meta.region_name == "us-east-1"


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_a_warm_environment_reuses_the_client_and_reset_builds_a_new_one(service: str) -> None:
    first = FACTORIES[service]()
    assert FACTORIES[service]() is first
    reset()
    assert FACTORIES[service]() is not first


def test_the_clients_work_against_aws() -> None:
    url = aws.sqs().create_queue(QueueName="aws-test")["QueueUrl"]
    aws.sqs().send_message(QueueUrl=url, MessageBody="hello")
    [message] = aws.sqs().receive_message(QueueUrl=url)["Messages"]
    assert message["Body"] == "hello"
    aws.ssm().put_parameter(Name="/wa-conversions/unit-test", Value="v", Type="String")
    assert aws.ssm().get_parameter(Name="/wa-conversions/unit-test")["Parameter"]["Value"] == "v"
    assert aws.dynamodb().list_tables()["TableNames"] == []
    assert aws.events().list_event_buses()["EventBuses"][0]["Name"] == "default"


def test_all_clients_share_one_session_so_credentials_are_resolved_once() -> None:
    credentials = {id(factory()._request_signer._credentials) for factory in FACTORIES.values()}
    assert len(credentials) == 1
