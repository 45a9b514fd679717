"""Per-function settings, read from the environment and validated once per execution environment.

Nothing else in the package touches os.environ: a handler asks for the settings model it needs, and a
misconfigured function fails at its first invocation with a message naming the variable.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from . import once
from .models.meta_rules import CLICK_WINDOW_DAYS
from .models.retention import Retention


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    # SSM path under which every secret lives, e.g. "/wa-conversions".
    parameter_prefix: str = Field(default="/wa-conversions", alias="PARAMETER_PREFIX")

    # Retention (README, "Retention"): days each kind of record is kept before DynamoDB's TTL removes it.
    # Every function gets them (template Globals), so any code that writes a kind finds its TTL here.
    contact_retention_days: int = Field(default=730, ge=30, alias="CONTACT_RETENTION_DAYS")
    # at least the widest click window (ClickWindowDays <= 90), or a click would vanish before its order
    referral_retention_days: int = Field(default=400, ge=90, alias="REFERRAL_RETENTION_DAYS")
    order_retention_days: int = Field(default=730, ge=30, alias="ORDER_RETENTION_DAYS")
    # past the delivery queues' 14 days, so a delivery outlives every retry of its event
    delivery_retention_days: int = Field(default=400, ge=15, alias="DELIVERY_RETENTION_DAYS")
    analytics_state_retention_days: int = Field(default=400, ge=30, alias="ANALYTICS_STATE_RETENTION_DAYS")
    analytics_counter_retention_days: int = Field(
        default=1096, ge=30, alias="ANALYTICS_COUNTER_RETENTION_DAYS"
    )

    def parameter_name(self, key: str) -> str:
        """The SSM name of a secret: WHATSAPP_APP_SECRET -> /wa-conversions/whatsapp-app-secret."""
        return f"{self.parameter_prefix.rstrip('/')}/{key.lower().replace('_', '-')}"

    def retention(self) -> Retention:
        """The TTL of every kind of record this function writes (models.retention)."""
        return Retention(
            contact_days=self.contact_retention_days,
            referral_days=self.referral_retention_days,
            order_days=self.order_retention_days,
            delivery_days=self.delivery_retention_days,
            analytics_state_days=self.analytics_state_retention_days,
            analytics_counter_days=self.analytics_counter_retention_days,
        )


class WebhookSettings(Settings):
    ingest_queue_url: str = Field(alias="INGEST_QUEUE_URL")


class TwilioWebhookSettings(WebhookSettings):
    # The URL Twilio is configured to call, which it signs; empty: the API Gateway URL it came in on.
    public_url: str = Field(default="", alias="TWILIO_PUBLIC_URL")


class CaptureSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME")
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    message_retention_days: int = Field(default=400, ge=1, alias="MESSAGE_RETENTION_DAYS")
    # Meta retries a webhook for up to 7 days; an update seen within this many seconds is a duplicate.
    # Shorter than Meta's retry window would let a late redelivery count twice: refused.
    idempotency_ttl_seconds: int = Field(
        default=8 * 24 * 3600, ge=7 * 24 * 3600, alias="IDEMPOTENCY_TTL_SECONDS"
    )
    dead_letter_queue_url: str | None = Field(default=None, alias="DEAD_LETTER_QUEUE_URL")
    # The message rules of ConversionRules are matched here, where the text is (forwarding.rules).
    conversion_rules: str = Field(default="[]", alias="CONVERSION_RULES")


class OperatorSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME")
    # POST /contacts/{id}/links: how long a link token attributes orders (docs/shopify.md, "Link tokens").
    link_token_days: int = Field(default=30, ge=1, le=365, alias="LINK_TOKEN_DAYS")
    # Erasure and export (docs/privacy.md): recorded here, done by the ErasureFunction off this queue.
    erasure_queue_url: str = Field(alias="ERASURE_QUEUE_URL")
    # An erasure's answer is kept as long as a message (its tombstones last that long).
    message_retention_days: int = Field(default=400, ge=1, alias="MESSAGE_RETENTION_DAYS")


# --- attribution settings ---------------------------------------------------------------------


class ShopifyWebhookSettings(Settings):
    orders_queue_url: str = Field(alias="ORDERS_QUEUE_URL")
    # Shopify's compliance topics go to the ErasureFunction (docs/privacy.md).
    erasure_queue_url: str = Field(alias="ERASURE_QUEUE_URL")
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
    # The one-shop form; more shops go in the shopify-webhook-secrets SecureString (docs/shopify.md).
    shop_domain: str = Field(default="", alias="SHOPIFY_SHOP_DOMAIN")
    # Shopify retries for 4 hours; an event id seen within this many seconds is a duplicate.
    event_marker_ttl_seconds: int = Field(
        default=3 * 24 * 3600, ge=4 * 3600, alias="EVENT_MARKER_TTL_SECONDS"
    )


class ShopifyReconcileSettings(Settings):
    """docs/shopify.md, "Reconciliation"."""

    table_name: str = Field(alias="TABLE_NAME")
    orders_queue_url: str = Field(alias="ORDERS_QUEUE_URL")
    # Comma separated shop domains; empty: the one ShopifyShopDomain.
    shops: str = Field(default="", alias="SHOPIFY_SHOPS")
    shop_domain: str = Field(default="", alias="SHOPIFY_SHOP_DOMAIN")
    # Empty: https://<shop>; the local stack points it at its Admin API stand-in.
    admin_base_url: str = Field(default="", alias="SHOPIFY_ADMIN_BASE_URL")
    api_version: str = Field(default="2026-01", pattern=r"^\d{4}-\d{2}$", alias="SHOPIFY_API_VERSION")
    # A shop never reconciled starts this far back (Meta refuses events older than 7 days).
    lookback_days: int = Field(default=7, ge=1, le=60, alias="RECONCILE_LOOKBACK_DAYS")
    http_timeout_seconds: float = Field(default=10.0, gt=0, le=60, alias="SHOPIFY_HTTP_TIMEOUT_SECONDS")

    def shop_list(self) -> list[str]:
        listed = [s.strip().lower() for s in self.shops.split(",") if s.strip()]
        if not listed and self.shop_domain.strip():
            listed = [self.shop_domain.strip().lower()]
        return list(dict.fromkeys(listed))


class AttributionSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    click_window_days: int = Field(default=CLICK_WINDOW_DAYS, ge=1, le=90, alias="CLICK_WINDOW_DAYS")
    conversation_window_days: int = Field(default=7, ge=1, le=90, alias="CONVERSATION_WINDOW_DAYS")
    # ISO 3166 alpha-2 region for national numbers whose address names no country; empty for none.
    default_country: str = Field(default="", pattern=r"^([A-Za-z]{2})?$", alias="DEFAULT_COUNTRY")
    dead_letter_queue_url: str | None = Field(default=None, alias="DEAD_LETTER_QUEUE_URL")


class PrivacySettings(Settings):
    """The ErasureFunction: erasures, exports and Shopify's compliance webhooks (docs/privacy.md)."""

    table_name: str = Field(alias="TABLE_NAME")
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
    # Erased message ids are remembered as long as a message is kept.
    message_retention_days: int = Field(default=400, ge=1, alias="MESSAGE_RETENTION_DAYS")
    default_country: str = Field(default="", pattern=r"^([A-Za-z]{2})?$", alias="DEFAULT_COUNTRY")
    # A job that can never run (not a job at all) is parked there at once, with its reason.
    dead_letter_queue_url: str = Field(default="", alias="DEAD_LETTER_QUEUE_URL")


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


class WaxSettings(DeliverySettings):
    base_url: str = Field(alias="WAX_BASE_URL")
    metric_events_path: str = Field(default="/v1/metric-events", alias="WAX_METRIC_EVENTS_PATH")
    # Wax documents the fields' meaning, not all their names (providers.md §4): each is configurable.
    metric_field: str = Field(default="metric", alias="WAX_METRIC_FIELD")
    phone_field: str = Field(default="phone_number", alias="WAX_PHONE_FIELD")
    unique_id_field: str = Field(default="unique_id", alias="WAX_UNIQUE_ID_FIELD")
    properties_field: str = Field(default="properties", alias="WAX_PROPERTIES_FIELD")
    time_field: str = Field(default="", alias="WAX_TIME_FIELD")
    # conversion kind=metric name pairs; a kind left out is not sent
    metric_names: str = Field(
        default=(
            "order=order,refund=refund,order_cancelled=order_cancelled,order_shipped=order_shipped,"
            "order_delivered=order_delivered"
        ),
        alias="WAX_METRIC_NAMES",
    )


META_API_VERSION = "v26.0"
META_EVENT_NAMES_DEFAULT = (
    "order=OrderCreated,order_paid=Purchase,order_shipped=OrderShipped,order_delivered=OrderDelivered,"
    "order_cancelled=OrderCanceled,refund=OrderReturned"
)


class MetaCapiSettings(DeliverySettings):
    graph_base_url: str = Field(default="https://graph.facebook.com", alias="META_GRAPH_BASE_URL")
    # The current Graph API version (v26.0, 2026-07-29), as the official Business SDK 26.0.3 pins it.
    api_version: str = Field(default=META_API_VERSION, pattern=r"^v\d+\.\d+$", alias="META_API_VERSION")
    dataset_id: str = Field(alias="META_DATASET_ID")
    waba_id: str = Field(default="", alias="META_WABA_ID")
    test_event_code: str = Field(default="", alias="META_TEST_EVENT_CODE")
    partner_agent: str = Field(default="", alias="META_PARTNER_AGENT")
    max_batch: int = Field(default=1000, ge=1, le=1000, alias="META_MAX_BATCH")
    # Meta's FAQ: a purchase on the website belongs to the Conversions API for web (docs/forwarding.md).
    web_order_source: Literal["business_messaging", "website"] = Field(
        default="business_messaging", alias="META_WEB_ORDER_SOURCE"
    )
    # conversion kind=Meta event name pairs; a kind left out is not sent to Meta
    event_names: str = Field(default=META_EVENT_NAMES_DEFAULT, alias="META_EVENT_NAMES")
    # Limited Data Use (developers.facebook.com/docs/marketing-apis/data-processing-options)
    limited_data_use: Literal["off", "geo", "always"] = Field(default="off", alias="META_LIMITED_DATA_USE")
    ldu_country: int = Field(default=1, ge=0, alias="META_LDU_COUNTRY")
    ldu_state: int = Field(default=1000, ge=0, alias="META_LDU_STATE")
    # A contact without ads consent: sent for attribution only (opt_out) or not at all (skip).
    no_consent: Literal["opt_out", "skip"] = Field(default="opt_out", alias="META_NO_CONSENT")


class CmConversionsSettings(DeliverySettings):
    event_url: str = Field(default="https://gw.messaging.cm.com/v1.0/event", alias="CM_EVENT_URL")
    business_number: str = Field(alias="CM_BUSINESS_NUMBER")


class Dialog360Settings(DeliverySettings):
    base_url: str = Field(default="https://api.signals.360dialog.io", alias="DIALOG360_BASE_URL")
    client_id: str = Field(alias="DIALOG360_CLIENT_ID")
    app_id: str = Field(default="", alias="DIALOG360_APP_ID")


class CollectorSettings(DeliverySettings):
    """A Segment-compatible collector (Chatnation's POST /v1/capture; docs/forwarding.md)."""

    url: str = Field(default="https://analytics.chatnationbot.com/v1/capture", alias="COLLECTOR_URL")
    # "header": the Write Key in `key_header` (the seed); "basic": HTTP Basic, key as user (Segment).
    auth: Literal["header", "basic"] = Field(default="header", alias="COLLECTOR_AUTH")
    key_header: str = Field(default="X-Write-Key", min_length=1, alias="COLLECTOR_KEY_HEADER")
    max_batch: int = Field(default=100, ge=1, le=100, alias="COLLECTOR_MAX_BATCH")


class ConversionRulesSettings(Settings):
    """ConversionRulesFunction: bus events in, the conversions their rules trigger to Meta's queue."""

    table_name: str = Field(alias="TABLE_NAME")
    meta_queue_url: str = Field(alias="META_QUEUE_URL")
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL")
    # JSON list of rules (forwarding.rules, docs/forwarding.md)
    conversion_rules: str = Field(default="[]", alias="CONVERSION_RULES")


class MetaHealthSettings(Settings):
    """GET /health/meta: the Meta forwarder's Graph settings, checked by forwarding.meta_doctor."""

    graph_base_url: str = Field(default="https://graph.facebook.com", alias="META_GRAPH_BASE_URL")
    api_version: str = Field(default=META_API_VERSION, alias="META_API_VERSION")
    dataset_id: str = Field(default="", alias="META_DATASET_ID")
    waba_id: str = Field(default="", alias="META_WABA_ID")


class DeliveryApiSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME")
    # Empty when the destination is disabled in this deployment.
    wax_queue_url: str = Field(default="", alias="WAX_QUEUE_URL")
    meta_queue_url: str = Field(default="", alias="META_QUEUE_URL")
    cm_queue_url: str = Field(default="", alias="CM_QUEUE_URL")
    dialog360_queue_url: str = Field(default="", alias="DIALOG360_QUEUE_URL")
    collector_queue_url: str = Field(default="", alias="COLLECTOR_QUEUE_URL")
    click_window_days: int = Field(default=CLICK_WINDOW_DAYS, ge=1, le=90, alias="CLICK_WINDOW_DAYS")

    def queue_urls(self) -> dict[str, str]:
        urls = {
            "wax": self.wax_queue_url,
            "meta": self.meta_queue_url,
            "cm": self.cm_queue_url,
            "dialog360": self.dialog360_queue_url,
            "collector": self.collector_queue_url,
        }
        return {name: url for name, url in urls.items() if url}


# --- CM.com channel settings -------------------------------------------------------------------


class CmEventsSettings(DeliverySettings):
    """CmEventsFunction: MarkAsRead / Block / UnBlock to CM.com's events endpoint."""

    # The same endpoint CM.com's Meta Conversions go to (CmEventUrl), one setting for both.
    event_url: str = Field(default="https://gw.messaging.cm.com/v1.0/event", alias="CM_EVENT_URL")
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
    dead_letter_queue_url: str = Field(default="", alias="DEAD_LETTER_QUEUE_URL")


class TrackApiSettings(Settings):
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    # contact emails from the CRM's events, for attribution by email (store.emails)
    table_name: str = Field(alias="TABLE_NAME")


class MetricsApiSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME")
    # The IANA zone GET /metrics reports days and hours in when the request names none (ReportTimeZone).
    report_time_zone: str = Field(default="UTC", alias="REPORT_TIME_ZONE")


class AdInsightsSettings(Settings):
    """AdInsightsFunction: Meta's daily ad insights into the ad spend items (docs/analytics.md)."""

    table_name: str = Field(alias="TABLE_NAME")
    graph_base_url: str = Field(default="https://graph.facebook.com", alias="META_GRAPH_BASE_URL")
    api_version: str = Field(default=META_API_VERSION, pattern=r"^v\d+\.\d+$", alias="META_API_VERSION")
    # MetaAdAccountIds: comma-separated, with or without act_; empty reads nothing
    ad_account_ids: str = Field(default="", alias="META_AD_ACCOUNT_IDS")
    # Meta restates recent days as late conversions and invalid clicks settle: re-read this many
    lookback_days: int = Field(default=3, ge=1, le=90, alias="INSIGHTS_LOOKBACK_DAYS")
    # how long one run waits out Meta's rate limit before leaving an account for the next run
    max_wait_seconds: float = Field(default=60.0, ge=0, le=600, alias="INSIGHTS_MAX_WAIT_SECONDS")


@once
def load_settings[SettingsT: Settings](model: type[SettingsT]) -> SettingsT:
    return model.model_validate(dict(os.environ))
