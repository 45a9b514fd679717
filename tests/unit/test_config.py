from __future__ import annotations

import pytest
from pydantic import ValidationError

from wa_conversions.config import CaptureSettings, Settings, WebhookSettings


def test_secret_names_follow_the_prefix() -> None:
    settings = Settings.model_validate({"PARAMETER_PREFIX": "/shop-a/wa"})
    assert settings.parameter_name("WHATSAPP_APP_SECRET") == "/shop-a/wa/whatsapp-app-secret"


def test_missing_variable_is_named() -> None:
    with pytest.raises(ValidationError, match="INGEST_QUEUE_URL"):
        WebhookSettings.model_validate({})


def test_retention_must_be_positive() -> None:
    base = {"TABLE_NAME": "t", "IDEMPOTENCY_TABLE_NAME": "i", "EVENT_BUS_NAME": "b"}
    assert CaptureSettings.model_validate(base).message_retention_days == 400
    with pytest.raises(ValidationError, match="MESSAGE_RETENTION_DAYS"):
        CaptureSettings.model_validate({**base, "MESSAGE_RETENTION_DAYS": "0"})
