"""Per-function settings, read from the environment and validated once per execution environment.

Nothing else in the package touches os.environ: a handler asks for the settings model it needs, and a
misconfigured function fails at its first invocation with a message naming the variable.
"""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    # SSM path under which every secret lives, e.g. "/wa-conversions".
    parameter_prefix: str = Field(default="/wa-conversions", alias="PARAMETER_PREFIX")

    def parameter_name(self, key: str) -> str:
        """The SSM name of a secret: WHATSAPP_APP_SECRET -> /wa-conversions/whatsapp-app-secret."""
        return f"{self.parameter_prefix.rstrip('/')}/{key.lower().replace('_', '-')}"


class WebhookSettings(Settings):
    ingest_queue_url: str = Field(alias="INGEST_QUEUE_URL")


class CaptureSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME")
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    message_retention_days: int = Field(default=400, ge=1, alias="MESSAGE_RETENTION_DAYS")
    # Meta retries a webhook for up to 7 days; an update seen within this many seconds is a duplicate.
    idempotency_ttl_seconds: int = Field(default=8 * 24 * 3600, ge=3600, alias="IDEMPOTENCY_TTL_SECONDS")
    dead_letter_queue_url: str | None = Field(default=None, alias="DEAD_LETTER_QUEUE_URL")


class OperatorSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME")


# --- delivery settings (issue #4's wa_conversions.delivery) -----------------------------------


class DeliverySettings(Settings):
    """What every delivering function shares (wa_conversions.delivery)."""

    table_name: str = Field(alias="TABLE_NAME")
    delivery_queue_url: str = Field(alias="DELIVERY_QUEUE_URL")
    delivery_dlq_url: str = Field(alias="DELIVERY_DLQ_URL")
    retry_base_seconds: float = Field(default=30.0, gt=0, alias="DELIVERY_RETRY_BASE_SECONDS")
    # Equal to the queue's maxReceiveCount, so the last attempt parks the message with its reason.
    max_attempts: int = Field(default=16, ge=1, alias="DELIVERY_MAX_ATTEMPTS")
    http_timeout_seconds: float = Field(default=5.0, gt=0, alias="DELIVERY_HTTP_TIMEOUT_SECONDS")


# --- CM.com channel settings -------------------------------------------------------------------


class CmEventsSettings(DeliverySettings):
    """CmEventsFunction: MarkAsRead / Block / UnBlock to CM.com's events endpoint."""

    events_base_url: str = Field(default="https://gw.messaging.cm.com", alias="CM_EVENTS_BASE_URL")
    # The business's WhatsApp number, E.164 digits; CM.com's events name it as the sender.
    business_number: str = Field(default="", alias="CM_BUSINESS_NUMBER")


class CmActionsSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME")
    cm_events_queue_url: str = Field(alias="CM_EVENTS_QUEUE_URL")


# --- analytics settings -----------------------------------------------------------------------


class AnalyticsSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME")
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
    # How long a counted event's marker is kept: a redelivery within it is dropped, not counted.
    dedupe_days: int = Field(default=90, ge=8, alias="ANALYTICS_DEDUPE_DAYS")


class TrackApiSettings(Settings):
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")


class MetricsApiSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME")


@cache
def load_settings[SettingsT: Settings](model: type[SettingsT]) -> SettingsT:
    return model.model_validate(dict(os.environ))
