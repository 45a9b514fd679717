"""SQS consumer: bus events whose ConversionRules match become Meta conversions (LeadSubmitted,
QualifiedLead...) on the Meta forwarder's queue (docs/forwarding.md, "Conversion rules")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    # Imported on first use: the runner pulls in boto3 and the rules' models.
    from wa_conversions.forwarding.wiring import rules_runner

    return rules_runner().handle(event, context)
