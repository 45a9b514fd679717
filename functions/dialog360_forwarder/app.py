"""SQS consumer: forwards conversions to 360dialog as off-thread events.

Each conversion reaches the destination at most once and none is lost (wa_conversions.delivery).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Imported on first use: the runner pulls in httpx and boto3.
    from wa_conversions.forwarding.wiring import dialog360_runner

    # The context tells the runner when to stop starting requests, before Lambda's timeout.
    return dialog360_runner().handle(event, context)
