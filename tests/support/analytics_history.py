"""A scripted conversation history over two days, with its metrics computed by hand.

Three contacts: A (Kenya) comes from ad S1, B (US) is organic and handed from the bot to an agent,
C (UK) comes from ad S2 twice. Facts come from the provider (bus events as capture publishes them)
and from the CRM (track items for POST /v1/capture); some facts come from both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wa_conversions.models.events import EventContext, LifecycleEvent, event_id_for

A, B, C = "254712345678", "16505551234", "447700900123"
S1, S2 = "120210000000001", "120210000000002"
D1, D2 = "2025-06-18", "2025-06-19"


def at(day: str, clock: str) -> str:
    return f"{day}T{clock}.000Z"


@dataclass(frozen=True)
class Step:
    source: str  # "bus" or "capture"
    document: dict[str, Any]


def bus(event: str, contact: str | None, when: str, key: str, provider: str = "meta", **props: Any) -> Step:
    properties = {"contactKey": contact, **props} if contact else dict(props)
    detail = LifecycleEvent(
        message_id=event_id_for(f"history:{key}", event),
        event=event,
        user_id=f"+{contact}" if contact else None,
        timestamp=when,
        context=EventContext(provider=provider),
        properties=properties,
    )
    return Step("bus", detail.model_dump(by_alias=True))


def crm(event: str, contact: str, when: str, **props: Any) -> Step:
    return Step(
        "capture",
        {
            "type": "track",
            "event": event,
            "userId": f"+{contact}",
            "timestamp": when,
            "context": {"channel": "whatsapp", "library": {"name": "crm-whatsapp", "version": "1.0.0"}},
            "properties": props,
        },
    )


def conversion(
    event: str, when: str, key: str, value: float, source_id: str | None, kind: str = "order"
) -> Step:
    status = "attributed" if source_id else "unattributed"
    return bus(
        event,
        None,
        when,
        key,
        provider="shopify",
        conversionId=f"shopify:demo.myshopify.com:{key}",
        kind=kind,
        value=value,
        currency="USD",
        sourceId=source_id,
        ctwaClid=f"clid-{source_id}" if source_id else None,
        attribution={"status": status, "model": "last_touch", "reason": None if source_id else "no_referral"},
    )


HISTORY: list[Step] = [
    # Contact A, from ad S1: answered in 120 s, then 60 s after their second message.
    bus("contact.created", A, at(D1, "09:00:00"), "a-created", source="ad", countryCode="KE"),
    bus("referral.captured", A, at(D1, "09:00:00"), "a1", messageId="wamid.a1", sourceId=S1),
    bus("message.received", A, at(D1, "09:00:00"), "a1", messageId="wamid.a1", countryCode="KE"),
    bus("message.sent", A, at(D1, "09:02:00"), "o1-sent", messageId="wamid.o1"),
    crm(
        "message.sent",
        A,
        at(D1, "09:02:00"),
        messageId="wamid.o1",
        agentId="agent_1",
        templateId="welcome_v2",
    ),
    bus("message.delivered", A, at(D1, "09:02:30"), "o1-delivered", messageId="wamid.o1"),
    bus("message.read", A, at(D1, "09:03:00"), "o1-read", messageId="wamid.o1"),
    bus("message.received", A, at(D1, "09:05:00"), "a2", messageId="wamid.a2", countryCode="KE"),
    crm("chat.assigned", A, at(D1, "09:05:00"), chatId="chat_a", agentId="agent_1"),
    crm("message.sent", A, at(D1, "09:06:00"), messageId="wamid.o2", agentId="agent_1"),
    bus("message.delivered", A, at(D1, "09:06:10"), "o2-delivered", messageId="wamid.o2"),
    # The CRM announces contact A as well: still one new contact.
    crm("contact.created", A, at(D1, "09:00:05"), chatId="chat_a", source="ad", countryCode="KE"),
    conversion("conversion.attributed", at(D1, "12:00:00"), "order-1", 49.9, S1),
    # Contact B, organic: the bot answers in 600 s, an agent takes over and answers in 1500 s.
    bus("contact.created", B, at(D1, "14:00:00"), "b-created", source="organic", countryCode="US"),
    bus("message.received", B, at(D1, "14:00:00"), "b1", messageId="wamid.b1", countryCode="US"),
    bus("message.received", B, at(D1, "14:00:30"), "b2", messageId="wamid.b2", countryCode="US"),
    crm("message.sent", B, at(D1, "14:10:00"), messageId="wamid.p1", serviceMode="bot"),
    bus("message.read", B, at(D1, "14:11:00"), "p1-read", messageId="wamid.p1"),
    bus("message.delivered", B, at(D1, "14:10:30"), "p1-delivered", messageId="wamid.p1"),
    crm(
        "agent.handoff",
        B,
        at(D1, "14:15:00"),
        chatId="chat_b",
        fromMode="bot",
        toMode="agent",
        agentId="agent_2",
    ),
    bus("message.received", B, at(D1, "14:20:00"), "b3", messageId="wamid.b3", countryCode="US"),
    bus("message.sent", B, at(D1, "14:45:00"), "p2-sent", messageId="wamid.p2"),
    # Read without a delivered: read implies delivered.
    bus("message.read", B, at(D1, "14:46:00"), "p2-read", messageId="wamid.p2"),
    crm(
        "chat.resolved", B, at(D1, "15:00:00"), chatId="chat_b", agentId="agent_2", resolutionType="resolved"
    ),
    # Contact C, from ad S2 twice: one conversation, two clicks; answered in 40 s.
    bus("message.sent", C, at(D2, "08:00:40"), "q1-sent", messageId="wamid.q1", agentId="agent_1"),
    bus("contact.created", C, at(D2, "08:00:00"), "c-created", source="ad", countryCode="GB"),
    bus("referral.captured", C, at(D2, "08:00:00"), "c1", messageId="wamid.c1", sourceId=S2),
    bus("message.received", C, at(D2, "08:00:00"), "c1", messageId="wamid.c1", countryCode="GB"),
    bus("message.delivered", C, at(D2, "08:00:45"), "q1-delivered", messageId="wamid.q1"),
    bus("message.sent", C, at(D2, "08:30:00"), "q2-sent", messageId="wamid.q2"),
    bus("message.failed", C, at(D2, "08:30:05"), "q2-failed", messageId="wamid.q2"),
    bus("referral.captured", C, at(D2, "09:00:00"), "c2", messageId="wamid.c2", sourceId=S2),
    bus("message.received", C, at(D2, "09:00:00"), "c2", messageId="wamid.c2", countryCode="GB"),
    conversion("conversion.attributed", at(D2, "10:00:00"), "order-2", 100.0, S2),
    conversion("refund.created", at(D2, "11:00:00"), "order-2-refund", 30.0, S2, kind="refund"),
    conversion("conversion.unattributed", at(D2, "12:00:00"), "order-3", 20.0, None),
    # A test order: recorded, never counted.
    bus(
        "conversion.attributed",
        None,
        at(D2, "13:00:00"),
        "order-test",
        provider="shopify",
        kind="order",
        value=500.0,
        sourceId=S1,
        test=True,
        attribution={"status": "attributed"},
    ),
]

# Worked out by hand from HISTORY (docs/analytics.md defines each metric).
EXPECTED: dict[str, Any] = {
    # replies after 40, 60, 120, 600 and 1500 s: nearest rank 3 of 5 and 5 of 5
    "response_time_seconds": {"median": 120, "p90": 1500, "count": 5},
    "new_contacts": {D1: 2, D2: 1},
    # sent o1 o2 p1 p2 q1 q2; delivered o1 o2 p1 p2(read) q1; read o1 p1 p2; replied o1 p1 q1 q2
    "funnel": {"sent": 6, "delivered": 5, "read": 3, "replied": 4},
    "delivery_rate": 0.8333,
    "read_rate": 0.5,
    "reply_rate": 0.6667,
    "received": 7,
    "failed": 1,
    "by_country": {"GB": 2, "KE": 2, "US": 3},
    "by_hour_nonzero": {"08": 1, "09": 3, "14": 3},
    "by_agent": {
        "agent_1": {
            "sent": 3,
            "responses": 3,
            "assigned": 1,
            "resolved": 0,
            "handoffs": 0,
            # 40, 60, 120
            "response_time_seconds": {"median": 60, "p90": 120, "count": 3},
        },
        "agent_2": {
            "sent": 0,
            "responses": 0,
            "assigned": 0,
            "resolved": 1,
            "handoffs": 1,
            "response_time_seconds": {"median": None, "p90": None, "count": 0},
        },
    },
    # p1 bot by property; o1 o2 q1 by agent; p2 by the handoff before it; q2 unknown
    "by_service_mode": {
        "agent": {"sent": 4, "resolved": 1},
        "bot": {"sent": 1, "resolved": 0},
        "unknown": {"sent": 1, "resolved": 0},
    },
    "handoffs": 1,
    "ads": {
        # A answered in 120 s, C in 40 s: both within Meta's 24 h
        S1: {
            "clicks": 1,
            "conversations": 1,
            "ad_started_answered_within_24h": 1.0,
            "orders": 1,
            "revenue": 49.9,
        },
        S2: {
            "clicks": 2,
            "conversations": 1,
            "ad_started_answered_within_24h": 1.0,
            "orders": 1,
            "revenue": 70.0,
        },
    },
    "ad_started_answered_within_24h": 1.0,
    "orders": 3,
    "revenue": 139.9,
    "refunds": 30.0,
    "daily_sent": {D1: 4, D2: 2},
}


def assert_matches_expected(metrics: dict[str, Any]) -> None:
    """Every hand-computed figure, each compared on its own so a failure names the metric."""
    for key in (
        "response_time_seconds",
        "funnel",
        "delivery_rate",
        "read_rate",
        "reply_rate",
        "received",
        "failed",
        "by_country",
        "by_agent",
        "by_service_mode",
        "handoffs",
        "ad_started_answered_within_24h",
        "orders",
        "revenue",
        "refunds",
    ):
        assert metrics[key] == EXPECTED[key], (key, metrics[key])
    # the figures counted from events; an ad's spend and names come from Meta's insights
    ads = {ad: {k: metrics["ads"][ad][k] for k in figures} for ad, figures in EXPECTED["ads"].items()}
    assert ads == EXPECTED["ads"] and set(metrics["ads"]) == set(EXPECTED["ads"]), ("ads", metrics["ads"])
    assert {d: n for d, n in metrics["new_contacts"].items() if n} == EXPECTED["new_contacts"]
    assert {h: n for h, n in metrics["by_hour"].items() if n} == EXPECTED["by_hour_nonzero"]
    assert len(metrics["by_hour"]) == 24
    assert {d["date"]: d["sent"] for d in metrics["daily"] if d["sent"]} == EXPECTED["daily_sent"]


def timestamp_of(step: Step) -> datetime:
    return datetime.fromisoformat(step.document["timestamp"].replace("Z", "+00:00")).astimezone(UTC)
