"""The ErasureFunction's jobs, one per SQS message (docs/privacy.md, "Erasure"): an operator's erasure
or export, named by the id of its pending request (privacy.requests), or one of Shopify's compliance
webhooks as the Shopify webhook queued it. Each is safe to repeat: SQS delivers at least once, and a job
cut short (privacy.erasure.ErasureCutShort, a crash) is finished by its next delivery."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import PermanentFailure
from .requests import DONE, SUBJECT_FIELDS, contact_export_pk

if TYPE_CHECKING:
    from ..store.capture import CaptureRepository
    from .erasure import Eraser


class NotAJob(PermanentFailure):
    """A message no attempt can run: parked in the DLQ with this reason."""


class RequestJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    erasure_id: str | None = None
    export_id: str | None = None


def run(body: str, *, eraser: Eraser, repository: CaptureRepository, region: str | None) -> dict[str, Any]:
    """Run one job; answers what to log (ids and counts, never a value of the person)."""
    try:
        document = json.loads(body)
    except ValueError as error:
        raise NotAJob(f"Not JSON: {error}") from None
    if isinstance(document, dict) and "topic" in document:
        return _compliance(body, eraser=eraser, repository=repository, region=region)
    try:
        job = RequestJob.model_validate(document)
    except ValidationError as error:
        raise NotAJob(f"Not an erasure job: {error}") from None
    if job.erasure_id:
        return _erasure(job.erasure_id, eraser=eraser, repository=repository)
    if job.export_id:
        return _export(job.export_id, eraser=eraser, repository=repository)
    raise NotAJob("Not an erasure job: neither erasure_id nor export_id")


def _erasure(erasure_id: str, *, eraser: Eraser, repository: CaptureRepository) -> dict[str, Any]:
    from .erasure import person_of

    request = eraser.requests.record(erasure_id)
    if request is None:
        raise NotAJob(f"No erasure {erasure_id!r} was asked for")
    if request.get("status") == DONE:
        return {"job": "erasure", "erasure_id": erasure_id, "outcome": "already_done"}
    if "subject_contact_key" not in request:
        raise NotAJob(f"Erasure {erasure_id!r} names no contact")
    answer = eraser.erase(
        person_of(repository, request), reason=str(request["reason"]), erasure_id=erasure_id
    )
    return {"job": "erasure", "erasure_id": erasure_id, "outcome": "erased", "erased": answer["erased"]}


def _export(export_id: str, *, eraser: Eraser, repository: CaptureRepository) -> dict[str, Any]:
    from ..store import keys
    from .erasure import person_of

    request = eraser.requests.get(contact_export_pk(export_id), keys.EXPORT)
    if request is None:
        raise NotAJob(f"No export {export_id!r} was asked for")
    if request.get("status") == DONE or not any(f in request for f in SUBJECT_FIELDS):
        return {"job": "export", "export_id": export_id, "outcome": "already_done"}
    status = eraser.finish_export(request, person_of(repository, request))
    return {"job": "export", "export_id": export_id, "outcome": "exported" if status == DONE else status}


def _compliance(
    body: str, *, eraser: Eraser, repository: CaptureRepository, region: str | None
) -> dict[str, Any]:
    from ..attribution.delivery import ShopifyDelivery
    from ..attribution.domain import COMPLIANCE_TOPICS
    from .shopify import apply_compliance, parsed_outcome

    try:
        delivery = ShopifyDelivery.model_validate_json(body)
        if delivery.topic not in COMPLIANCE_TOPICS:
            raise NotAJob(f"Not a compliance topic: {delivery.topic[:100]!r}")
        outcome = apply_compliance(
            delivery.topic,
            delivery.shop,
            delivery.body,
            eraser=eraser,
            repository=repository,
            region=region,
            now=int(time.time()),
        )
    except ValidationError as error:
        raise NotAJob(f"Not a queued Shopify compliance webhook: {error}") from None
    return {"job": "shopify", "shop": delivery.shop, **parsed_outcome(outcome)}
