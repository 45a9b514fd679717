"""Cached boto3 clients. boto3 is imported on first use, so handlers that never reach AWS on a code
path (a rejected signature, say) do not pay for it, and module import stays cheap at cold start."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient


@cache
def _session() -> Any:
    import boto3

    return boto3.session.Session()


@cache
def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _session().client("dynamodb")
    return client


@cache
def sqs() -> SQSClient:
    client: SQSClient = _session().client("sqs")
    return client


@cache
def events() -> EventBridgeClient:
    client: EventBridgeClient = _session().client("events")
    return client


def reset() -> None:
    """Forget every client: tests that switch between moto back ends call this."""
    for factory in (_session, dynamodb, sqs, events):
        factory.cache_clear()
