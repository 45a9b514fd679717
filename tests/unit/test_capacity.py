"""A default deployment holds one WhatsApp number's burst (issue 17): the webhook routes take what Meta
sizes for it, the acknowledging functions keep their concurrency, and the queue consumers are capped so
the rest of a burst waits in SQS instead of taking the account's whole concurrency."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from devstack.cfn import Evaluator, PseudoParameters, load_template, resolve_parameters

ROOT = Path(__file__).resolve().parents[2]
PSEUDO = PseudoParameters(stack_name="wa-conversions", region="us-east-1")
# https://developers.facebook.com/docs/whatsapp/cloud-api/overview/#throughput: 80 mps per number by
# default; the webhook sizing is 3 x outbound (sent, delivered, read) + inbound messages per second.
META_DEFAULT_MPS = 80
ONE_NUMBER_WEBHOOKS_PER_S = 3 * META_DEFAULT_MPS + META_DEFAULT_MPS
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html: 1,000 per account and region,
# of which 100 always stay unreserved.
ACCOUNT_CONCURRENCY, UNRESERVED_MINIMUM = 1000, 100
# the longest a warm acknowledgement may take (signature check, one SQS send) at the route's rate
ACK_SECONDS = 0.3


class Symbols:
    def ref(self, logical_id: str) -> Any:
        return f"ref:{logical_id}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return f"{attribute.lower()}:{logical_id}"


@cache
def _template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def _created(overrides: tuple[tuple[str, str], ...] = ()) -> dict[str, dict[str, Any]]:
    template = _template()
    evaluator = Evaluator(template, resolve_parameters(template, dict(overrides)), PSEUDO, Symbols())
    return {
        logical_id: {**declaration, "Properties": evaluator.resolve(declaration.get("Properties") or {})}
        for logical_id, declaration in template["Resources"].items()
        if evaluator.enabled(declaration)
    }


def _functions(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _webhook_routes(resources: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Function of every POST /webhooks/* route, by path (on the webhooks' HTTP API, issue 17)."""
    return {
        event["Properties"]["Path"]: logical_id
        for logical_id, function in _functions(resources).items()
        for event in (function.get("Events") or {}).values()
        if event["Type"] in ("Api", "HttpApi")
        and event["Properties"]["Method"].upper() == "POST"
        and event["Properties"]["Path"].startswith("/webhooks/")
    }


def _route_settings(resources: dict[str, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The throttle of each route of the webhooks' HTTP API, by (path, method)."""
    settings = resources["WebhookApi"]["Properties"]["RouteSettings"]
    return {(key.split(" ", 1)[1], key.split(" ", 1)[0]): s for key, s in settings.items()}


def _method_settings(resources: dict[str, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The throttle of each method of the REST API (the webhooks' legacy twins), by (path, method)."""
    settings = resources["Api"]["Properties"]["MethodSettings"]
    # a method setting writes a path's "/" as "~1"
    return {(s["ResourcePath"].replace("~1", "/").replace("//", "/"), s["HttpMethod"]): s for s in settings}


def _consumers(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{logical_id}.{name}": event["Properties"]
        for logical_id, function in _functions(resources).items()
        for name, event in (function.get("Events") or {}).items()
        if event["Type"] == "SQS"
    }


def test_every_webhook_route_takes_one_numbers_webhooks_at_metas_default_throughput() -> None:
    resources = _created()
    routes = _webhook_routes(resources)

    assert set(routes) == {"/webhooks/whatsapp", "/webhooks/cm", "/webhooks/twilio", "/webhooks/shopify"}
    # each webhook route is on the HTTP API and, for a provider not yet re-pointed, on the REST API:
    # both throttled alike (a provider calls one or the other, so they share one provider's rate)
    for path, settings in [
        (p, s) for p in routes for s in (_route_settings(resources), _method_settings(resources))
    ]:
        setting = settings.get((path, "POST"))
        assert setting is not None, f"POST {path} has only the stage's default throttle"
        # CloudFormation hands parameters over as strings
        assert float(setting["ThrottlingRateLimit"]) >= ONE_NUMBER_WEBHOOKS_PER_S, path
        # what the route admits, at once or at its rate, finds an execution environment
        reserved = int(_functions(resources)[routes[path]]["ReservedConcurrentExecutions"])
        assert int(setting["ThrottlingBurstLimit"]) <= reserved, path
        assert float(setting["ThrottlingRateLimit"]) * ACK_SECONDS <= reserved, path


def test_the_throttles_follow_their_parameters_for_more_numbers() -> None:
    four_numbers = (("WebhookRateLimit", str(4 * ONE_NUMBER_WEBHOOKS_PER_S)), ("WebhookBurstLimit", "400"))
    resources = _created(four_numbers)

    for settings in (_route_settings(resources), _method_settings(resources)):
        assert (
            float(settings[("/webhooks/whatsapp", "POST")]["ThrottlingRateLimit"])
            == 4 * ONE_NUMBER_WEBHOOKS_PER_S
        )
        assert int(settings[("/webhooks/whatsapp", "POST")]["ThrottlingBurstLimit"]) == 400


def test_acknowledging_functions_keep_their_concurrency_and_queues_wait_within_the_account() -> None:
    resources = _created()
    functions = _functions(resources)
    acknowledging = set(_webhook_routes(resources).values())
    consumers = _consumers(resources)

    reserved = {name: int(functions[name].get("ReservedConcurrentExecutions") or 0) for name in acknowledging}
    assert all(value > 0 for value in reserved.values()), reserved
    assert consumers, "no queue consumers found"
    uncapped = [
        name
        for name, source in consumers.items()
        if not (source.get("ScalingConfig") or {}).get("MaximumConcurrency")
    ]
    assert uncapped == [], "these consumers may take the account's whole concurrency in a burst"
    # reserved and capped together must leave room for everything else (APIs, schedules)
    at_most = sum(reserved.values()) + sum(
        int(s["ScalingConfig"]["MaximumConcurrency"]) for s in consumers.values()
    )
    assert at_most <= ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM


def test_no_concurrency_is_reserved_when_the_account_cannot_spare_any() -> None:
    resources = _created((("WebhookReservedConcurrency", "0"),))
    functions = _functions(resources)

    for name in set(_webhook_routes(resources).values()):
        assert "ReservedConcurrentExecutions" not in functions[name], name
