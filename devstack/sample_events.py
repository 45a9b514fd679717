"""Builds events/*.json: API Gateway events wrapping the provider payloads in events/payloads/ (the
webhooks' as their HTTP API hands them, payload 2.0; the operator API's as REST's, payload 1.0),
signed with the dev secrets of local.env. Run `python -m devstack.sample_events` after changing a
payload; `sam local invoke -e events/<file>` and the tests read the same files."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from devstack.envfile import parse_env_file
from wa_conversions.signatures import meta_signature

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
PAYLOADS = EVENTS / "payloads"


def read_env(path: Path = ROOT / "local.env") -> dict[str, str]:
    """local.env as the local stack reads it."""
    return parse_env_file(path)


def proxy_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An API Gateway REST (payload 1.0) proxy event, as the deployed API hands it to Lambda."""
    headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", **(headers or {})}
    text: str | None
    if body is None:
        text = None
    elif base64_body:
        text = base64.b64encode(body).decode("ascii")
    else:
        text = body.decode("utf-8")
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.10"},
        },
        "body": text,
        "isBase64Encoded": base64_body,
    }


def http_event(
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    raw_query: str = "",
    base64_body: bool | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the deployed webhook API (stage v1) hands it to
    Lambda: headers lower-cased, the body base64 unless its Content-Type is a text type (or
    `base64_body` says otherwise), the route's path behind the stage."""
    domain = "abc123.execute-api.us-east-1.amazonaws.com"
    lowered = {"host": domain, **{name.lower(): value for name, value in (headers or {}).items()}}
    content_type = lowered.get("content-type", "").split(";")[0].strip()
    if base64_body is None:
        base64_body = not (
            content_type.startswith("text/")
            or content_type in ("application/json", "application/xml", "application/javascript")
        )
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": f"/v1{path}",
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": domain,
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": f"/v1{path}",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": f"{method} {path}",
            "stage": "v1",
            "time": "02/Dec/2026:04:00:00 +0000",
            "timeEpoch": 1796184000000,
        },
        "isBase64Encoded": bool(body) and base64_body,
    }
    if raw_query:
        joined: dict[str, list[str]] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            joined.setdefault(key, []).append(value)
        event["queryStringParameters"] = {key: ",".join(values) for key, values in joined.items()}
    if body:
        event["body"] = base64.b64encode(body).decode("ascii") if base64_body else body.decode("utf-8")
    return event


def whatsapp_post(payload: bytes, app_secret: str, *, base64_body: bool = False) -> dict[str, Any]:
    return http_event(
        "POST",
        "/webhooks/whatsapp",
        body=payload,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta_signature(payload, app_secret),
        },
        base64_body=base64_body,
    )


def sample_events() -> Iterator[tuple[str, dict[str, Any]]]:
    env = read_env()
    secret = env["WHATSAPP_APP_SECRET"]

    def payload(name: str) -> bytes:
        return (PAYLOADS / name).read_bytes()

    verify = {
        "hub.mode": "subscribe",
        "hub.challenge": "1158201444",
        "hub.verify_token": env["WHATSAPP_VERIFY_TOKEN"],
    }
    yield ("whatsapp_verify.json", http_event("GET", "/webhooks/whatsapp", raw_query=urlencode(verify)))
    yield (
        "whatsapp_text_ctwa_referral.json",
        whatsapp_post(payload("meta_docs_text_message_ctwa_referral.json"), secret),
    )
    yield (
        "whatsapp_text_ctwa_referral_base64.json",
        whatsapp_post(payload("meta_docs_text_message_ctwa_referral.json"), secret, base64_body=True),
    )
    yield (
        "whatsapp_status_sent.json",
        whatsapp_post(payload("meta_docs_status_sent_with_pricing.json"), secret),
    )
    # The docs show only a "sent" status; the later states of the same message are that payload with
    # its status and time moved on, as Meta sends them.
    sent = json.loads(payload("meta_docs_status_sent_with_pricing.json"))
    status = sent["entry"][0]["changes"][0]["value"]["statuses"][0]
    sent_at = int(status["timestamp"])
    for later, delay in (("delivered", 45), ("read", 300)):
        status.update(status=later, timestamp=str(sent_at + delay))
        yield f"whatsapp_status_{later}.json", whatsapp_post(json.dumps(sent, indent=2).encode(), secret)
    yield (
        "whatsapp_automatic_event_purchase.json",
        whatsapp_post(payload("meta_docs_automatic_events_purchase.json"), secret),
    )
    message_id = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUQ0N0VFMDA2MTQ0RkJFNkNDNAA="
    yield (
        "operator_get_contact.json",
        proxy_event(
            "GET",
            "/contacts/16505551234",
            resource="/contacts/{id}",
            headers={"X-Api-Key": env["API_KEY"]},
            path_parameters={"id": "16505551234"},
        ),
    )
    encoded = message_id.replace("=", "%3D")
    yield (
        "operator_get_message.json",
        proxy_event(
            "GET",
            f"/messages/{encoded}",
            resource="/messages/{message_id}",
            headers={"X-Api-Key": env["API_KEY"]},
            path_parameters={"message_id": encoded},
        ),
    )
    from devstack.shopify_samples import shopify_sample_events

    yield from shopify_sample_events(env)


def write_sample_events() -> list[Path]:
    written = []
    for name, event in sample_events():
        path = EVENTS / name
        path.write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_sample_events():
        print(path.relative_to(ROOT))
