"""SQS consumer: bus events whose ConversionRules match become Meta conversions (LeadSubmitted,
QualifiedLead...) on the Meta forwarder's queue (docs/forwarding.md, "Conversion rules")."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Imported on first use: the runner pulls in boto3 and the rules' models.
    from wa_conversions.forwarding.rules_runner import rules_runner

    return rules_runner().handle(event)
