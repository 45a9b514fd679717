"""Cached boto3 clients. boto3 is imported on first use, so handlers that never reach AWS on a code
path (a rejected signature, say) do not pay for it, and module import stays cheap at cold start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import once

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient


@once
def _session() -> Any:
    import boto3

    return boto3.session.Session()


@once
def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _session().client("dynamodb")
    return client


@once
def sqs() -> SQSClient:
    client: SQSClient = _session().client("sqs")
    return client


@once
def events() -> EventBridgeClient:
    client: EventBridgeClient = _session().client("events")
    return client


@once
def ssm() -> SSMClient:
    client: SSMClient = _session().client("ssm")
    return client
