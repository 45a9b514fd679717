from __future__ import annotations

import pytest
from pydantic import ValidationError

from wa_conversions.config import CaptureSettings, Settings, WebhookSettings
from wa_conversions.models.retention import DEFAULT_RETENTION


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


# -- retention (README, "Retention") ----------------------------------------------------------------

RETENTION_FIELDS = [name for name in Settings.model_fields if name.endswith("_retention_days")]


def test_every_retention_is_a_template_parameter_every_function_gets() -> None:
    from devstack.cfn import load_template
    from tests.support.cfn import TEMPLATE

    template = load_template(TEMPLATE)
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    assert len(RETENTION_FIELDS) >= 6
    for name in RETENTION_FIELDS:
        field = Settings.model_fields[name]
        assert field.alias is not None
        parameter = template["Parameters"][environment[field.alias]["Ref"]]
        minimum = next(m.ge for m in field.metadata if getattr(m, "ge", None) is not None)
        # the deployed default and floor are the ones the code validates and falls back to
        assert (int(parameter["Default"]), int(parameter["MinValue"])) == (field.default, minimum), name


def test_retention_settings_reach_the_repositories() -> None:
    settings = Settings.model_validate({"CONTACT_RETENTION_DAYS": "45", "DELIVERY_RETENTION_DAYS": "20"})
    retention = settings.retention()

    assert retention.contact_expiry(0) == 45 * 86_400
    assert retention.delivery_expiry(0) == 20 * 86_400
    assert retention.order_expiry(0) == 730 * 86_400
    # a repository built without settings (a script, a test) keeps records as a default deployment does
    assert Settings().retention() == DEFAULT_RETENTION


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        # an ad click must outlive the widest click window (90 days), or its order finds no ad
        ("REFERRAL_RETENTION_DAYS", "30"),
        # a delivery must outlive its retries (the queues keep a message 14 days)
        ("DELIVERY_RETENTION_DAYS", "7"),
        ("CONTACT_RETENTION_DAYS", "0"),
    ],
)
def test_a_retention_shorter_than_what_depends_on_it_is_refused(variable: str, value: str) -> None:
    with pytest.raises(ValidationError, match=variable):
        Settings.model_validate({variable: value})


def test_the_dedupe_ledger_outlives_metas_retries() -> None:
    base = {"TABLE_NAME": "t", "IDEMPOTENCY_TABLE_NAME": "i", "EVENT_BUS_NAME": "b"}
    # Meta redelivers for up to 7 days: a shorter ledger would let a redelivery be captured twice.
    with pytest.raises(ValidationError, match="IDEMPOTENCY_TTL_SECONDS"):
        CaptureSettings.model_validate({**base, "IDEMPOTENCY_TTL_SECONDS": str(24 * 3600)})
    assert CaptureSettings.model_validate(base).idempotency_ttl_seconds > 7 * 24 * 3600
