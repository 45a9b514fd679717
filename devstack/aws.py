"""Endpoint settings of the embedded AWS (moto) and boto3 clients bound to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

DUMMY_ACCESS_KEY: Final = "testing"
DUMMY_SECRET_KEY: Final = "testing"  # noqa: S105 - moto accepts any credentials

# Variables that would send a boto3 client somewhere other than the embedded AWS, or sign with
# real credentials.
_MASKED_PREFIXES: Final = ("AWS_ENDPOINT_URL_",)
_MASKED: Final = frozenset(
    {"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CA_BUNDLE"}
)


def without_aws_overrides(environ: dict[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in environ.items()
        if key not in _MASKED and not key.startswith(_MASKED_PREFIXES)
    }


@dataclass(frozen=True)
class AwsEndpoint:
    url: str
    region: str

    def environment(self) -> dict[str, str]:
        """What a process needs so that every boto3 client it creates talks to this endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }


class AwsClients:
    """boto3 clients created once, up front: creating clients from threads is not thread-safe."""

    def __init__(self, endpoint: AwsEndpoint) -> None:
        self.endpoint = endpoint
        self._session = boto3.session.Session(
            aws_access_key_id=DUMMY_ACCESS_KEY,
            aws_secret_access_key=DUMMY_SECRET_KEY,
            region_name=endpoint.region,
        )
        # Few retries: the only failure worth retrying locally is a busy server, and long back-offs
        # would slow down shutdown when moto goes away before a poller notices.
        self._config = Config(retries={"max_attempts": 2, "mode": "standard"}, read_timeout=30)
        self.sqs: SQSClient = self._session.client("sqs", endpoint_url=endpoint.url, config=self._config)
        self.dynamodb: DynamoDBClient = self._session.client(
            "dynamodb", endpoint_url=endpoint.url, config=self._config
        )
        self.events: EventBridgeClient = self._session.client(
            "events", endpoint_url=endpoint.url, config=self._config
        )
        self.ssm: SSMClient = self._session.client("ssm", endpoint_url=endpoint.url, config=self._config)

    def client(self, service_name: str) -> Any:
        """A new client for any service, for callers that need more than the four above."""
        return self._session.client(service_name, endpoint_url=self.endpoint.url, config=self._config)  # type: ignore[call-overload]
