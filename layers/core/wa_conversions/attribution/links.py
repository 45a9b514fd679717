"""Link tokens: a short code the business puts in the links it sends in the chat, so that an order
placed through one is credited to that chat whatever phone or email the buyer types at checkout
(docs/shopify.md, "Link tokens").

`POST /contacts/{id}/links` binds a fresh token to the contact and to the ad click and conversation
current at that moment; the order side (attribution.orders) reads it back from the order's landing
page, referring site, note attributes or note.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import NotFoundError
from ..models.link_tokens import PARAMETER
from ..store import keys

if TYPE_CHECKING:
    from ..store.capture import CaptureRepository

# 9 random bytes: 12 URL-safe characters, 72 bits, short enough for a chat message and not guessable.
TOKEN_BYTES = 9
MAX_URL_LENGTH = 2048
DAY_SECONDS = 86_400
# An expired token stays readable this long, so an order carrying it is told "expired", not "unknown".
EXPIRED_KEPT_SECONDS = 90 * DAY_SECONDS


class LinkRequest(BaseModel):
    """POST /contacts/{id}/links: {"url": "https://shop.example/products/x"}."""

    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(max_length=MAX_URL_LENGTH)

    @field_validator("url")
    @classmethod
    def _absolute_web_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        return value.strip()


class LinkView(BaseModel):
    url: str
    token: str
    expires_at: str


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def tag_url(url: str, token: str) -> str:
    """The URL with wac=<token> in its query (replacing any wac already there), fragment kept."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != PARAMETER]
    query.append((PARAMETER, token))
    return urlunsplit(parts._replace(query=urlencode(query)))


def current_click(referrals: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The contact's newest ad click (referrals come newest first)."""
    return next((r for r in referrals if r.get("ctwa_clid") or r.get("source_type") == "ad"), None)


def issue_link(
    repository: CaptureRepository,
    contact_key: str | None,
    body: Any,
    *,
    now: int,
    valid_days: int,
) -> LinkView:
    """404 for an unknown contact, 422 for a body that is not {"url": "<absolute http(s) URL>"}."""
    from ..models.events import iso_timestamp

    request = LinkRequest.model_validate(body if body is not None else {})
    contact = repository.get_contact(contact_key) if contact_key else None
    if contact_key is None or contact is None:
        raise NotFoundError("No such contact")
    click = current_click(repository.list_referrals(contact_key))
    token = new_token()
    valid_until = now + valid_days * DAY_SECONDS
    repository.put_link_token(
        {
            "pk": keys.link_token_pk(token),
            "sk": keys.LINK,
            "item_type": "link_token",
            "contact_key": contact_key,
            "user_id": contact.get("user_id"),
            "ctwa_clid": click.get("ctwa_clid") if click else None,
            "source_id": click.get("source_id") if click else None,
            "clicked_at": click.get("received_at") if click else None,
            "referral_message_id": click.get("message_id") if click else None,
            "conversation_at": contact.get("last_inbound_at"),
            "issued_at": now,
            "valid_until": valid_until,
            "expires_at": valid_until + EXPIRED_KEPT_SECONDS,
        }
    )
    return LinkView(url=tag_url(request.url, token), token=token, expires_at=iso_timestamp(valid_until))
