"""POST /v1/capture (X-Api-Key): the CRM's batch of track events, checked item by item and put on
the bus for the aggregator."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body

from wa_conversions.analytics.track import TrackResult
from wa_conversions.errors import PublishError
from wa_conversions.http_api import answers, operator_resolver
from wa_conversions.models.api import CaptureBatch

logger = Logger()
app = operator_resolver()


@app.post(
    "/v1/capture", responses=answers(200, "Every item taken; 207 when some were, 422 when none", TrackResult)
)
def capture(request: Annotated[CaptureBatch, Body()]) -> Response[Any]:
    from wa_conversions.analytics.wiring import track_intake  # imported on first use, as it is built

    try:
        result = track_intake().accept({"batch": request.batch})
    except PublishError:
        logger.exception("Capture batch not published")
        return Response(
            status_code=503,
            content_type=content_types.APPLICATION_JSON,
            body={"error": "unavailable", "message": "Could not queue the events, retry the batch"},
        )
    body: dict[str, Any] = result.model_dump()
    if not result.errors:
        status = 200
    elif result.accepted:
        status = 207
    else:
        status = 422
        body |= {"error": "validation_error", "message": "No item of the batch was valid"}
    logger.info("Capture batch", extra={"accepted": result.accepted, "rejected": len(result.errors)})
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result: dict[str, Any] = app.resolve(event, context)
    return result
