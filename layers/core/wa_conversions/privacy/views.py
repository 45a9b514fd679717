"""The operator routes of privacy (docs/privacy.md): DELETE /contacts/{id}, GET /erasures/{id},
GET /contacts/{id}/export and GET /exports/{id}. Each request is recorded and queued for the
ErasureFunction; these routes never scan (privacy.requests)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError
from .requests import PENDING, ErasureQueue, ErasureRequests, contact_of, identifier_parts

if TYPE_CHECKING:
    from ..store.capture import CaptureRepository


def erase_contact(
    requests: ErasureRequests, queue: ErasureQueue, repository: CaptureRepository, identifier: str
) -> dict[str, Any]:
    """Ask for the erasure of the live contact the identifier names (pending, then done); asked
    again, the same erasure; once erased, its answer; else 404."""
    found = contact_of(repository, identifier)
    if found is None:
        # The marks are of the tenant's own keys: another tenant's erasure of the same phone is not this.
        phone, user_id = (repository.own_key(v) if v else None for v in identifier_parts(identifier))
        previous = requests.previous_erasure(phone, user_id)
        if previous is None:
            raise NotFoundError(f"No contact {identifier!r}")
        return previous
    key, _, seed = found
    answer = requests.request_erasure(requests.erasure_id(seed), key, identifier)
    if answer["status"] == PENDING:
        # Queued again when asked again: a job lost before it was queued is queued now; the eraser
        # takes a job whose erasure is done as a no-op.
        queue.send({"erasure_id": str(answer["id"])})
    return answer


def erasure(requests: ErasureRequests, erasure_id: str) -> dict[str, Any]:
    answer = requests.erasure(erasure_id)
    if answer is None:
        raise NotFoundError(f"No erasure {erasure_id!r}")
    return answer


def export_contact(
    requests: ErasureRequests, queue: ErasureQueue, repository: CaptureRepository, identifier: str
) -> dict[str, Any]:
    found = contact_of(repository, identifier)
    if found is None:
        raise NotFoundError(f"No contact {identifier!r}")
    key, _, _ = found
    answer = requests.request_export(key, identifier)
    queue.send({"export_id": str(answer["id"])})
    return answer


def export(requests: ErasureRequests, export_id: str) -> dict[str, Any]:
    answer = requests.export(export_id)
    if answer is None:
        raise NotFoundError(f"No export {export_id!r}")
    return answer
