"""Events on the bus. The envelope follows the collectors' "track" shape (seeds/003), versioned so
consumers can tell a changed shape from a broken one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EVENT_SOURCE = "wa-conversions"
ENVELOPE_VERSION = "1"
LIBRARY = {"name": "wa-conversions", "version": "0.1.0"}
_EVENT_ID_NAMESPACE = uuid.UUID("8d7c0a5e-8f3e-4d7a-9a53-3c1f6f0d6b21")


def event_id_for(update_key: str, event_name: str) -> str:
    """The same update always yields the same event id, so a consumer can drop a repeat."""
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{update_key}|{event_name}"))


def iso_timestamp(epoch_seconds: int | float) -> str:
    return (
        datetime.fromtimestamp(epoch_seconds, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


class EventContext(BaseModel):
    channel: Literal["whatsapp"] = "whatsapp"
    provider: str = "meta"
    library: dict[str, str] = Field(default_factory=lambda: dict(LIBRARY))


class LifecycleEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    version: str = ENVELOPE_VERSION
    message_id: str = Field(alias="messageId")
    type: Literal["track"] = "track"
    event: str
    user_id: str | None = Field(default=None, alias="userId")
    timestamp: str
    context: EventContext = Field(default_factory=EventContext)
    properties: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        update_key: str,
        event: str,
        user_id: str | None,
        epoch_seconds: int | float,
        provider: str,
        properties: dict[str, Any],
    ) -> LifecycleEvent:
        return cls(
            message_id=event_id_for(update_key, event),
            event=event,
            user_id=user_id,
            timestamp=iso_timestamp(epoch_seconds),
            context=EventContext(provider=provider),
            properties=properties,
        )

    def detail_json(self) -> str:
        return self.model_dump_json(by_alias=True)


CONTACT_MERGED = "contact.merged"


def contact_merged(
    source_key: str, target_key: str, epoch_seconds: int | float, provider: str
) -> LifecycleEvent:
    """Capture folded contact `source_key` into `target_key` (one person is one contact, docs/events.md):
    the analytics aggregator folds their states likewise. One id per merged contact, however repeated."""
    return LifecycleEvent.build(
        update_key=f"merge:{source_key}",
        event=CONTACT_MERGED,
        user_id=None,
        epoch_seconds=epoch_seconds,
        provider=provider,
        properties={"contactKey": target_key, "mergedFrom": source_key},
    )
